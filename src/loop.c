/*
 * errgroup_for: every worker starts in its own part of the range and steals
 * when its part runs out.
 *
 * The range is cut into cells: the explicit chunk (errgroup_set_chunk), or
 * single iterations in automatic mode. Worker k of W starts with the cells
 * [k * ncells / W, (k + 1) * ncells / W) (in the loop's own region W is the
 * team it really got and k the thread number; inside a caller's region W is
 * the number of worker tasks, numbered as they start) and takes chunks from the front of
 * its part: one cell each for an explicit chunk; in automatic mode
 * EG_AUTO_FIRST iterations first, doubling up to the automatic chunk, so that
 * a failure near any worker's start is seen after a small chunk. A worker
 * whose part is empty takes the back half (rounded up) of another's and goes
 * on there. Each worker checks the group before each chunk, so once the group
 * is cancelled no new chunk starts, without OpenMP cancellation.
 *
 * A part is one word, front << 32 | back, in cells from the window's start,
 * changed by CAS (the owner moves the front up, a thief the back down) and
 * by two plain stores of its owner: of what it stole, while the part is
 * empty, and of "empty", to drop the rest in lowest-index mode. The word is
 * the part's whole state, so a CAS that succeeds acts on the current state
 * and hands out cells that no one else holds.
 *
 * Lowest-index mode: a chunk is skipped only if it starts above the lowest
 * recorded failure (eg_skip), and then its worker drops the rest of its part,
 * which lies above it too. Every cell below the lowest failure stays in some
 * part or chunk until it runs, so the reported error is the lowest failing
 * index whatever the split.
 *
 * A range of more than EG_WINDOW_CELLS cells (billions of body calls) runs as
 * consecutive windows of that many cells, so that a part fits in one word.
 */
#include "internal.h"

#include <omp.h>

#define EG_CHUNKS_PER_THREAD 8
#define EG_AUTO_CHUNK_MAX 32768
#define EG_AUTO_FIRST 1024             /* each worker's first automatic chunk */
#define EG_WINDOW_CELLS 0xffffffffu    /* cell offsets fit in 32 bits */

struct eg_part {
    _Alignas(64) uint64_t range; /* front << 32 | back; empty when front >= back */
    unsigned char pad[64 - sizeof(uint64_t)]; /* one part per cache line */
};

struct eg_loop {
    errgroup *g;
    errgroup_range_fn *body;
    void *arg;
    uint64_t begin; /* the window's start, as unsigned (wraps, not overflows) */
    uint64_t n;     /* iterations in the window */
    uint64_t cell;  /* iterations per cell */
    uint64_t first; /* a worker's first chunk, in cells ... */
    uint64_t max;   /* ... doubling up to this */
    struct eg_part *parts;
    unsigned nparts;
    unsigned joined; /* workers that took their part (tasks in a region) */
    int by_team;     /* the loop's own region: split by the team it really got */
    uint64_t ncells;
    uint64_t done;   /* iterations whose body ran */
    int64_t owed;    /* tasks the bodies queued behind a limit (errgroup__settle) */
};

/* Part k of w over ncells cells, as a part word (see above). */
static uint64_t eg_part_range(uint64_t k, uint64_t ncells, uint64_t w)
{
    return (k * ncells / w) << 32 | ((k + 1) * ncells / w);
}

/* uint64_t -> int64_t two's complement, without implementation-defined casts. */
static int64_t eg_signed(uint64_t u)
{
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(UINT64_MAX - u) - 1;
}

/* Take up to `want` cells from the front of p as [*c0, *c1); 0 if p is empty.
 * Relaxed here and in eg_steal: the words only hand out distinct cells; what
 * the bodies write is ordered by the region's end or the taskgroup. */
static int eg_take(struct eg_part *p, uint64_t want, uint64_t *c0, uint64_t *c1)
{
    uint64_t r = __atomic_load_n(&p->range, __ATOMIC_RELAXED);
    for (;;) {
        uint64_t f = r >> 32, b = r & EG_WINDOW_CELLS;
        if (f >= b)
            return 0;
        uint64_t k = b - f < want ? b - f : want;
        if (__atomic_compare_exchange_n(&p->range, &r, (f + k) << 32 | b, 1, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
            *c0 = f;
            *c1 = f + k;
            return 1;
        }
    }
}

/* Move the back half (rounded up) of another part into the worker's own,
 * empty part; 0 if every other part is empty. */
static int eg_steal(struct eg_loop *L, unsigned self)
{
    for (unsigned d = 1; d < L->nparts; d++) {
        struct eg_part *v = &L->parts[(self + d) % L->nparts];
        uint64_t r = __atomic_load_n(&v->range, __ATOMIC_RELAXED);
        for (;;) {
            uint64_t f = r >> 32, b = r & EG_WINDOW_CELLS;
            if (f >= b)
                break;
            uint64_t mid = b - (b - f + 1) / 2;
            if (__atomic_compare_exchange_n(&v->range, &r, f << 32 | mid, 1, __ATOMIC_RELAXED,
                                            __ATOMIC_RELAXED)) {
                /* A plain store: thieves never CAS an empty part, so only
                 * its owner writes it now. */
                __atomic_store_n(&L->parts[self].range, mid << 32 | b, __ATOMIC_RELAXED);
                return 1;
            }
        }
    }
    return 0;
}

static void eg_loop_worker(struct eg_loop *L, int in_region)
{
    errgroup *g = L->g;
    struct errgroup_slot_ *s = eg_slot(g);
    unsigned self;
    if (L->by_team) {
        /* The team may be smaller than asked for (OMP_DYNAMIC, nested
         * regions): thread k of T takes the k-th of T parts, so no part is
         * left without an owner. The parts start empty, which thieves skip,
         * and every thread of the team runs this, so all of [0, ncells) is
         * handed out. Relaxed: as in eg_take. */
        unsigned t = (unsigned)omp_get_num_threads();
        self = (unsigned)omp_get_thread_num();
        __atomic_store_n(&L->parts[self].range, eg_part_range(self, L->ncells, t), __ATOMIC_RELAXED);
    } else {
        /* Relaxed: only hands out distinct part numbers (one per worker). */
        self = __atomic_fetch_add(&L->joined, 1, __ATOMIC_RELAXED);
    }
    struct eg_part *own = &L->parts[self];
    uint64_t want = L->first, done = 0, c0, c1;
    struct eg_frame frame;
    /* Covered: the region's barrier or the taskgroup in eg_run_window waits
     * for every task the bodies spawn. */
    eg_frame_push(&frame, g, in_region, &L->owed, 1);
    for (;;) {
        if (!eg_take(own, want, &c0, &c1)) {
            if (!eg_steal(L, self))
                break;
            continue;
        }
        /* (c1 - c0) * cell may exceed the window only for its last cell. */
        uint64_t first = c0 * L->cell, left = L->n - first;
        uint64_t len = left / L->cell >= c1 - c0 ? (c1 - c0) * L->cell : left;
        int64_t lo = eg_signed(L->begin + first);
        int skip = eg_skip(g, lo);
        if (skip == 2)
            break;
        if (skip == 1) {
            /* The rest of the part lies above lo, above the lowest failure.
             * A racing thief either stole before (and will skip too) or
             * finds the part empty. */
            __atomic_store_n(&own->range, 0, __ATOMIC_RELAXED);
            continue;
        }
        eg_count(s, &s->started, len);
        frame.failed = 0;
        frame.index = lo;
        int64_t hi = eg_signed(L->begin + first + len);
        int rc = EG_UNLIKELY(g->crash_mode_ != 0)
                     ? errgroup__crash_chunk(g, &frame, L->body, lo, hi, L->arg)
                     : L->body(g, lo, hi, L->arg);
        eg_count(s, &s->finished, len);
        done += len;
        if (rc != 0) {
            eg_count(s, &s->failed, 1);
            if (!frame.failed)
                errgroup__record(g, rc, lo, NULL);
        }
        want = want < L->max / 2 ? 2 * want : L->max;
    }
    eg_frame_pop(&frame);
    /* Relaxed: read after the region's end / taskwait, which orders it. */
    __atomic_fetch_add(&L->done, done, __ATOMIC_RELAXED);
}

/* The task creation alone is kept out of ThreadSanitizer (see EG_NO_TSAN). */
static __attribute__((noinline)) EG_NO_TSAN void eg_spawn_workers(struct eg_loop *lp, unsigned n)
{
    for (unsigned t = 0; t < n; t++) {
#pragma omp task default(none) firstprivate(lp)
        eg_loop_worker(lp, 1);
    }
}

/* Run the window [L->begin, L->begin + L->n): one part per worker. */
static void eg_run_window(struct eg_loop *L, int in_region, int threads)
{
    uint64_t ncells = L->n / L->cell + (L->n % L->cell != 0);
    unsigned workers = (uint64_t)threads < ncells ? (unsigned)threads : (unsigned)ncells;
    struct eg_part parts[workers];
    L->by_team = !in_region && workers > 1;
    L->ncells = ncells;
    for (unsigned k = 0; k < workers; k++)
        parts[k].range = L->by_team ? 0 : eg_part_range(k, ncells, workers);
    L->parts = parts;
    L->nparts = workers;
    L->joined = 0;
    struct eg_loop *lp = L;
    if (!in_region && workers <= 1) {
        eg_loop_worker(lp, 0); /* go runs bodies at once out here: nothing to wait for */
    } else if (!in_region) {
#pragma omp parallel num_threads(workers) default(none) firstprivate(lp)
        eg_loop_worker(lp, 1);
    } else {
        /* A taskgroup, not a taskwait: it also waits for the tasks that the
         * bodies spawn, which is what makes the workers `covered`. */
#pragma omp taskgroup
        {
            eg_spawn_workers(lp, workers - 1);
            eg_loop_worker(lp, 1);
        }
    }
    errgroup__settle(L->g, &L->owed);
}

/* The automatic chunk's cap: about EG_CHUNKS_PER_THREAD chunks per thread. */
static uint64_t eg_auto_chunk(uint64_t n, int threads)
{
    uint64_t parts = (uint64_t)threads * EG_CHUNKS_PER_THREAD;
    uint64_t chunk = n / parts + (n % parts != 0);
    if (chunk > EG_AUTO_CHUNK_MAX)
        chunk = EG_AUTO_CHUNK_MAX;
    return chunk == 0 ? 1 : chunk;
}

int errgroup_for(errgroup *g, int64_t begin, int64_t end, errgroup_range_fn *body,
                 void *arg)
{
    if (body == NULL || begin > end)
        return ERRGROUP_EINVAL;
    int rc = eg_check_open(g);
    if (rc != 0)
        return rc;
    if (begin == end)
        return errgroup__result(g);

    int in_region = eg_in_region();
    int threads = in_region ? omp_get_num_threads() : omp_get_max_threads();
    uint64_t total = (uint64_t)end - (uint64_t)begin;
    struct eg_loop L = {
        .g = g,
        .body = body,
        .arg = arg,
        .cell = g->chunk_ > 0 ? (uint64_t)g->chunk_ : 1,
        .max = g->chunk_ > 0 ? 1 : eg_auto_chunk(total, threads),
    };
    L.first = L.max < EG_AUTO_FIRST ? L.max : EG_AUTO_FIRST;
    uint64_t window = total / L.cell < EG_WINDOW_CELLS ? total : EG_WINDOW_CELLS * L.cell;

    struct errgroup_slot_ *s = eg_slot(g);
    eg_count(s, &s->submitted, total);
    for (uint64_t at = (uint64_t)begin, left = total; left > 0; at += L.n, left -= L.n) {
        /* Between windows the same check as before a chunk. */
        if (at != (uint64_t)begin && eg_skip(g, eg_signed(at)) != 0)
            break;
        L.begin = at;
        L.n = left < window ? left : window;
        eg_run_window(&L, in_region, threads);
    }
    eg_count(s, &s->skipped, total - L.done);
    return errgroup__result(g);
}
