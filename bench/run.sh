#!/bin/sh
# Run every benchmark of a build tree with OMP_CANCELLATION=true and =false
# and print one markdown report (tables with both settings side by side).
# Builds nothing.
#
# usage: bench/run.sh BUILD_DIR [REPS]
#   BUILD_DIR  a tree configured with ERRGROUP_BUILD_BENCH=ON and built
#   REPS       repetitions per variant (median is reported); default 7
#
# The thread count is the OpenMP default (one per core) unless OMP_NUM_THREADS
# is set; bench_tbb uses the same number. BENCH_LAUNCHER, if set, is put in
# front of every benchmark command (e.g. "taskset -c 0-3" to pin). Takes one to
# three minutes on 2 cores.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 BUILD_DIR [REPS]" >&2
    exit 2
fi
bin=$1/bench
reps=${2:-7}
for prog in bench_loop bench_task; do
    if [ ! -x "$bin/$prog" ]; then
        echo "$0: $bin/$prog not found: configure with -DERRGROUP_BUILD_BENCH=ON and build first" >&2
        exit 1
    fi
done
progs="bench_loop bench_task"
if [ -x "$bin/bench_tree" ]; then
    progs="$progs bench_tree"
fi
if [ -x "$bin/bench_cholesky" ]; then
    progs="$progs bench_cholesky"
fi
if [ -x "$bin/bench_tbb" ]; then
    progs="$progs bench_tbb"
fi
# BENCH_ONLY="bench_task bench_tbb" runs a subset (the oneTBB table needs both);
# BENCH_ONLY=bench_cholesky the task-graph tables alone.
if [ -n "${BENCH_ONLY:-}" ]; then
    progs=$BENCH_ONLY
fi
has() { case " $progs " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

for prog in $progs; do
    for cancel in true false; do
        echo "running $prog, OMP_CANCELLATION=$cancel ..." >&2
        # shellcheck disable=SC2086 # BENCH_LAUNCHER is a command line: split it
        if ! OMP_CANCELLATION=$cancel ${BENCH_LAUNCHER:-} "$bin/$prog" "$reps" >"$tmp/$prog.$cancel" 2>"$tmp/$prog.$cancel.err"; then
            cat "$tmp/$prog.$cancel.err" >&2
            echo "$0: $prog failed" >&2
            exit 1
        fi
    done
done

# Environment, once. The compiler and runtime lines come from the programs.
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
echo "## omp-errgroup benchmarks"
echo
echo "- machine: ${cpu:-unknown CPU}, $(nproc) cores (nproc), $(uname -sr)"
first=${progs%% *}
grep -E '^- (compiler|threads|method):' "$tmp/$first.true"
grep -E '^- OpenMP:' "$tmp/$first.true" | sed 's/, omp_get_cancellation().*//'
if has bench_tbb; then
    grep -E '^- oneTBB' "$tmp/bench_tbb.true"
fi
if [ -n "${BENCH_LAUNCHER:-}" ]; then
    echo "- launcher: $BENCH_LAUNCHER"
fi
echo "- each table: OMP_CANCELLATION=true (\"on\") and =false (\"off\"), two runs of the same binary"
echo

# Put the two runs side by side. Both runs print the same lines in the same
# order; table rows are "| key | key | value | value |": keep the keys and
# the first run's values, append the second run's values.
join_runs() {
    paste -d '\t' "$1" "$2" | awk -F '\t' '
        function trim(s) { gsub(/^ +| +$/, "", s); return s }
        /^\|/ {
            na = split($1, a, "|"); split($2, b, "|")
            # a[1] and a[na] are the empty strings outside the outer bars
            line = "|"
            for (i = 2; i <= 3; i++) line = line " " trim(a[i]) " |"
            header = (seen_header == 0)
            sep = (trim(a[2]) ~ /^-+$/)
            for (r = 0; r < 2; r++)
                for (i = 4; i < na; i++) {
                    v = trim(r == 0 ? a[i] : b[i])
                    if (header) v = v (r == 0 ? ", on" : ", off")
                    line = line " " v " |"
                }
            print line
            seen_header = 1; blank = 0; printed = 1
            next
        }
        /^- / { next }        # per-run environment lines, printed above
        /^## / { next }
        $1 == "" { seen_header = 0; if (printed && !blank) print ""; blank = 1; next }
        { seen_header = 0; blank = 0; printed = 1; print $1 }'
}

for prog in bench_loop bench_task bench_cholesky; do
    if has $prog; then
        join_runs "$tmp/$prog.true" "$tmp/$prog.false"
        echo
    fi
done

# oneTBB: a separate program; divide by errgroup's numbers from this run.
if has bench_tbb && has bench_task; then
    echo "### oneTBB task_group vs errgroup (same script run)"
    echo
    echo "| workload | OMP_CANCELLATION | oneTBB | bodies run | errgroup | bodies run | errgroup / oneTBB |"
    echo "|---|---|---:|---:|---:|---:|---:|"
    for cancel in true false; do
        awk -F '|' -v cancel="$cancel" '
            function trim(s) { gsub(/^ +| +$/, "", s); return s }
            FNR == 1 { file++ }
            file == 1 && /1e6 trivial tasks/ && /errgroup_go \+ errgroup_wait/ { eg["trivial"] = trim($4); egn["trivial"] = "1000000" }
            file == 1 && /errgroup \(go stops at ECANCELED\)/ { eg["latency"] = trim($4); egn["latency"] = trim($5) }
            file == 2 && /run \+ wait/ { tbb["trivial"] = trim($4); tbbn["trivial"] = trim($5); w["trivial"] = trim($2) }
            file == 2 && /cancel\(\)/ { tbb["latency"] = trim($4); tbbn["latency"] = trim($5); w["latency"] = trim($2) }
            END {
                split("trivial latency", keys, " ")
                for (k = 1; k <= 2; k++) {
                    key = keys[k]
                    t = tbb[key] + 0; e = eg[key] + 0
                    printf "| %s | %s | %s | %s | %s | %s | %s |\n", w[key], cancel, tbb[key], tbbn[key],
                           eg[key], egn[key], (t > 0 ? sprintf("%.2f", e / t) : "n/a")
                }
            }' "$tmp/bench_task.$cancel" "$tmp/bench_tbb.$cancel"
    done
    echo
fi
