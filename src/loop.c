/*
 * errgroup_for: chunks handed out in increasing order from one shared cursor.
 *
 * The same worker runs on every thread of a new parallel region (called
 * outside one) or in a few tasks (called by one thread inside a region). A
 * worker checks the group before each chunk, so once the group is cancelled
 * no new chunk starts, without OpenMP cancellation. Because chunks are
 * claimed in increasing order, in lowest-index mode a worker that claims a
 * chunk above the lowest failure can stop: every later chunk is higher still,
 * and every chunk below has already been claimed by someone who will run it.
 */
#include "internal.h"

#include <omp.h>

#define EG_CHUNKS_PER_THREAD 8
#define EG_AUTO_CHUNK_MAX 32768

struct eg_loop {
    errgroup *g;
    errgroup_range_fn *body;
    void *arg;
    uint64_t begin; /* as unsigned, so that begin + k * chunk wraps, not overflows */
    uint64_t n;     /* end - begin, exact for any int64_t range */
    uint64_t chunk;
    uint64_t nchunks;
    uint64_t next;  /* cursor: next chunk number */
    uint64_t done;  /* iterations whose body ran */
    int64_t owed;   /* tasks the bodies queued behind a limit (errgroup__settle) */
};

/* uint64_t -> int64_t two's complement, without implementation-defined casts. */
static int64_t eg_signed(uint64_t u)
{
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(UINT64_MAX - u) - 1;
}

static void eg_loop_worker(struct eg_loop *L, int in_region)
{
    errgroup *g = L->g;
    struct errgroup_slot_ *s = eg_slot(g);
    uint64_t done = 0;
    struct eg_frame frame;
    /* Covered: the region's barrier or the taskgroup in errgroup_for waits
     * for every task the bodies spawn. */
    eg_frame_push(&frame, g, in_region, &L->owed, 1);
    for (;;) {
        /* Relaxed: the cursor only hands out distinct chunk numbers; the
         * chunks' data is ordered by the region's end or the taskwait. */
        uint64_t k = __atomic_fetch_add(&L->next, 1, __ATOMIC_RELAXED);
        if (k >= L->nchunks)
            break;
        uint64_t first = k * L->chunk;
        uint64_t len = L->n - first < L->chunk ? L->n - first : L->chunk;
        int64_t lo = eg_signed(L->begin + first);
        if (eg_skip(g, lo))
            break;
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
    }
    eg_frame_pop(&frame);
    /* Relaxed: read after the region's end / taskwait, which orders it. */
    __atomic_fetch_add(&L->done, done, __ATOMIC_RELAXED);
}

/* The task creation alone is kept out of ThreadSanitizer (see EG_NO_TSAN). */
static __attribute__((noinline)) EG_NO_TSAN void eg_spawn_workers(struct eg_loop *lp, int n)
{
    for (int t = 0; t < n; t++) {
#pragma omp task default(none) firstprivate(lp)
        eg_loop_worker(lp, 1);
    }
}

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
    struct eg_loop L = {
        .g = g,
        .body = body,
        .arg = arg,
        .begin = (uint64_t)begin,
        .n = (uint64_t)end - (uint64_t)begin,
    };
    L.chunk = g->chunk_ > 0 ? (uint64_t)g->chunk_ : eg_auto_chunk(L.n, threads);
    L.nchunks = L.n / L.chunk + (L.n % L.chunk != 0);
    int workers = (uint64_t)threads < L.nchunks ? threads : (int)L.nchunks;

    struct errgroup_slot_ *s = eg_slot(g);
    eg_count(s, &s->submitted, L.n);
    struct eg_loop *lp = &L;
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
    errgroup__settle(g, &L.owed);
    eg_count(s, &s->skipped, L.n - L.done);
    return errgroup__result(g);
}
