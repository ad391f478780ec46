/*
 * Template for bench_loop.c: defines EW_NAME##_range (an errgroup_for body)
 * and run_##EW_NAME (one timed run of a variant) for the element function
 * EW_F. Included once per element function, with EW_NAME and EW_F defined.
 */
#define EW_CAT2(a, b) a##b
#define EW_CAT(a, b) EW_CAT2(a, b)
#define EW_RANGE EW_CAT(EW_NAME, _range)
#define EW_RUN EW_CAT(run_, EW_NAME)

static int EW_RANGE(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)g;
    (void)arg;
    double *restrict y = g_y;
    const double *restrict x = g_x;
    for (int64_t i = lo; i < hi; i++)
        y[i] = EW_F(x[i]);
    return 0;
}

static double EW_RUN(int variant)
{
    const int64_t n = g_n, chunk = auto_chunk(n);
    double *restrict y = g_y;
    const double *restrict x = g_x;
    double t0 = bench_now();
    errgroup g;
    int rc = 0;
    switch (variant) {
    case V_RAW_STATIC:
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++)
            y[i] = EW_F(x[i]);
        break;
    case V_RAW_DYNAMIC:
#pragma omp parallel for schedule(dynamic, chunk)
        for (int64_t i = 0; i < n; i++)
            y[i] = EW_F(x[i]);
        break;
    case V_ERRGROUP_FOR:
        errgroup_init(&g);
        rc = errgroup_for(&g, 0, n, EW_RANGE, NULL);
        errgroup_destroy(&g);
        break;
    case V_ANNOTATED:
        errgroup_init(&g);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            ERRGROUP_LOOP_CHECK(&g, i);
            y[i] = EW_F(x[i]);
        }
        rc = errgroup_wait(&g);
        errgroup_destroy(&g);
        break;
    default:
        errgroup_init(&g);
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < (n + BLOCK - 1) / BLOCK; b++) {
            ERRGROUP_LOOP_CHECK(&g, b * BLOCK);
            const int64_t hi = (b + 1) * BLOCK < n ? (b + 1) * BLOCK : n;
            for (int64_t i = b * BLOCK; i < hi; i++)
                y[i] = EW_F(x[i]);
        }
        rc = errgroup_wait(&g);
        errgroup_destroy(&g);
        break;
    }
    double t = bench_now() - t0;
    if (rc != 0) {
        fprintf(stderr, "unexpected error %d\n", rc);
        exit(1);
    }
    return t;
}

#undef EW_RANGE
#undef EW_RUN
#undef EW_CAT
#undef EW_CAT2
#undef EW_NAME
#undef EW_F
