/*
 * Progress lines: a formatter over the group's counters, and a monitor
 * thread that prints it. Neither touches the task path: the counters exist
 * anyway, and reading them is relaxed loads of per-thread slots.
 */
#define _GNU_SOURCE /* fileno */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(pthread_t) <= sizeof(((errgroup_progress *)0)->thread_),
               "errgroup_progress has no room for a pthread_t");

int errgroup_progress_format(const errgroup *g, char *buf, size_t n, int64_t total,
                             double elapsed_s)
{
    errgroup_counters c;
    if (buf == NULL && n > 0)
        return ERRGROUP_EINVAL;
    if (errgroup_get_counters(g, &c) != 0)
        return ERRGROUP_EINVAL;
    int64_t done = c.finished + c.skipped;
    if (total <= 0)
        total = c.submitted;
    char pct[32] = "";
    if (total > 0)
        snprintf(pct, sizeof pct, " (%.1f%%)", 100.0 * (double)done / (double)total);
    char rate[64] = "";
    if (elapsed_s > 0 && done > 0) {
        double r = (double)done / elapsed_s;
        if (total > done)
            snprintf(rate, sizeof rate, ", %.1f/s, ETA %.0fs", r, (double)(total - done) / r);
        else
            snprintf(rate, sizeof rate, ", %.1f/s", r);
    }
    return snprintf(buf, n, "%lld/%lld done%s, %lld failed%s", (long long)done,
                    (long long)total, pct, (long long)c.failed, rate);
}

static void eg_progress_line(errgroup_progress *p, const char *end)
{
    char line[160];
    double elapsed = (double)(eg_now_ns() - p->start_ns_) / 1e9;
    errgroup_progress_format(p->g_, line, sizeof line, p->total_, elapsed);
    /* On a terminal: back to column 0, the line, erase what an older, longer
     * line left; in a file: plain lines only. */
    if (p->tty_)
        fprintf(p->out_, "\r%s\033[K%s", line, end);
    else
        fprintf(p->out_, "%s\n", line);
    fflush(p->out_);
}

static void *eg_monitor(void *arg)
{
    errgroup_progress *p = arg;
    const struct timespec tick = {0, 50 * 1000 * 1000};
    int64_t every_ns = p->tty_ ? 200 * 1000 * 1000 : (int64_t)(p->interval_s_ * 1e9);
    int64_t next = eg_now_ns() + every_ns;
    /* Acquire: pairs with the release store in errgroup_progress_stop. */
    while (!__atomic_load_n(&p->stop_, __ATOMIC_ACQUIRE)) {
        nanosleep(&tick, NULL);
        if (eg_now_ns() >= next && !__atomic_load_n(&p->stop_, __ATOMIC_ACQUIRE)) {
            eg_progress_line(p, "");
            next += every_ns;
        }
    }
    return NULL;
}

int errgroup_progress_start(errgroup_progress *p, const errgroup *g, FILE *out, int64_t total,
                            double interval_s)
{
    if (p == NULL || g == NULL || out == NULL || g->magic_ != EG_MAGIC)
        return ERRGROUP_EINVAL;
    memset(p, 0, sizeof *p);
    p->g_ = g;
    p->out_ = out;
    p->total_ = total;
    p->interval_s_ = interval_s > 0 ? interval_s : 5.0;
    p->tty_ = isatty(fileno(out));
    p->start_ns_ = eg_now_ns();
    pthread_t t;
    if (pthread_create(&t, NULL, eg_monitor, p) != 0) {
        p->g_ = NULL;
        return ERRGROUP_ENOMEM;
    }
    memcpy(p->thread_, &t, sizeof t);
    return 0;
}

int errgroup_progress_stop(errgroup_progress *p)
{
    if (p == NULL || p->g_ == NULL)
        return ERRGROUP_EINVAL;
    /* Release: the monitor sees the flag and stops printing. */
    __atomic_store_n(&p->stop_, 1, __ATOMIC_RELEASE);
    pthread_t t;
    memcpy(&t, p->thread_, sizeof t);
    pthread_join(t, NULL);
    eg_progress_line(p, "\n");
    p->g_ = NULL;
    return 0;
}
