/* Batch jobs: keep-going mode, the error log, and progress lines. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int errgroup_set_keep_going(errgroup *g, int on)
{
    int rc = errgroup__check_config(g);
    if (rc == 0)
        g->keep_going_ = on != 0;
    return rc;
}

/* ---- The error log ------------------------------------------------------ */

/*
 * First-error mode appends until full, then drops: the first `capacity`.
 * Lowest-index mode keeps a max-heap on (index, code), so that a full log
 * replaces its highest entry in O(log capacity): the `capacity` lowest. A
 * log sorted in descending order is also a valid max-heap, which is what lets
 * errgroup_get_errors sort it in place without breaking later insertions.
 */
static int eg_cmp_key(const errgroup_error *a, const errgroup_error *b)
{
    if (a->index != b->index)
        return a->index < b->index ? -1 : 1;
    return a->code < b->code ? -1 : a->code > b->code;
}

static void eg_log_set(errgroup_error *e, int code, int64_t index, const char *msg)
{
    e->code = code;
    e->index = index;
    size_t len = msg ? strlen(msg) : 0;
    if (len >= sizeof e->message)
        len = sizeof e->message - 1;
    memcpy(e->message, msg ? msg : "", len);
    e->message[len] = '\0';
}

static void eg_swap(errgroup_error *a, errgroup_error *b)
{
    errgroup_error t = *a;
    *a = *b;
    *b = t;
}

static void eg_sift_down(errgroup_error *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && eg_cmp_key(&h[l], &h[m]) > 0)
            m = l;
        if (r < n && eg_cmp_key(&h[r], &h[m]) > 0)
            m = r;
        if (m == i)
            return;
        eg_swap(&h[i], &h[m]);
        i = m;
    }
}

void errgroup__log_add(errgroup *g, int code, int64_t index, const char *msg)
{
    errgroup_error *h = g->log_;
    if (g->mode_ != ERRGROUP_LOWEST_INDEX) {
        if (g->log_len_ < g->log_cap_)
            eg_log_set(&h[g->log_len_++], code, index, msg);
        return;
    }
    errgroup_error key = {.code = code, .index = index};
    if (g->log_len_ < g->log_cap_) {
        int i = g->log_len_++;
        eg_log_set(&h[i], code, index, msg);
        while (i > 0 && eg_cmp_key(&h[(i - 1) / 2], &h[i]) < 0) {
            eg_swap(&h[(i - 1) / 2], &h[i]);
            i = (i - 1) / 2;
        }
    } else if (eg_cmp_key(&key, &h[0]) < 0) {
        eg_log_set(&h[0], code, index, msg);
        eg_sift_down(h, g->log_len_, 0);
    }
}

int errgroup_set_error_log(errgroup *g, int capacity)
{
    if (g != NULL && capacity < 0)
        return ERRGROUP_EINVAL;
    int rc = errgroup__check_config(g);
    if (rc != 0)
        return rc;
    errgroup_error *log = NULL;
    if (capacity > 0) {
        log = calloc((size_t)capacity, sizeof *log);
        if (log == NULL)
            return ERRGROUP_ENOMEM;
    }
    free(g->log_);
    g->log_ = log;
    g->log_cap_ = capacity;
    g->log_len_ = 0;
    return 0;
}

/* In place, without allocating (qsort may malloc, and this runs under the
 * group's spinlock): heapsort to ascending order, then reverse. */
static void eg_sort_desc(errgroup_error *h, int n)
{
    for (int i = n / 2 - 1; i >= 0; i--)
        eg_sift_down(h, n, i);
    for (int end = n - 1; end > 0; end--) {
        eg_swap(&h[0], &h[end]);
        eg_sift_down(h, end, 0);
    }
    for (int i = 0, j = n - 1; i < j; i++, j--)
        eg_swap(&h[i], &h[j]);
}

int errgroup_get_errors(const errgroup *g, errgroup_error *out, int n)
{
    if (g == NULL || g->magic_ != EG_MAGIC || n < 0 || (out == NULL && n > 0))
        return ERRGROUP_EINVAL;
    /* The lock on a const group: see errgroup_first_error. */
    errgroup *mg = (errgroup *)g;
    errgroup__lock(mg);
    int len = g->log_len_;
    /* Descending in place (still a max-heap, see above), copied backwards. */
    eg_sort_desc(g->log_, len);
    int k = n < len ? n : len;
    for (int i = 0; i < k; i++)
        out[i] = g->log_[len - 1 - i];
    errgroup__unlock(mg);
    return k;
}

/* At destroy: what the batch setters allocated or acquired. */
void errgroup__batch_destroy(errgroup *g)
{
    free(g->log_);
    g->log_ = NULL;
    g->log_cap_ = 0;
    g->log_len_ = 0;
    errgroup__crash_release(g);
}
