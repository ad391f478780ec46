/*
 * records_for: errgroup_for over the records of an in-memory buffer, a CSV of
 * "station,temperature" lines. Record 3141 uses a decimal comma; the loop
 * stops there and reports it (exit status 1). `--clean` leaves it out (0).
 */
#include <errgroup.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NRECORDS = 100000, BAD_RECORD = 3141, RECORD_MAX = 32 };

struct table {
    char **record;       /* NUL-terminated records inside one buffer */
    double *temperature; /* parsed values, one per record */
};

static int parse(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    struct table *t = arg;
    for (int64_t i = lo; i < hi; i++) {
        const char *comma = strchr(t->record[i], ',');
        char *end = NULL;
        if (comma != NULL)
            t->temperature[i] = strtod(comma + 1, &end);
        if (comma == NULL || end == comma + 1 || *end != '\0')
            return errgroup_fail(g, EINVAL, i, "record %lld: cannot parse '%s'", (long long)i,
                                 t->record[i]);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int clean = argc == 2 && strcmp(argv[1], "--clean") == 0;
    if (argc > 2 || (argc == 2 && !clean)) {
        fprintf(stderr, "usage: records_for [--clean]\n");
        return 2;
    }
    char *buf = malloc((size_t)NRECORDS * RECORD_MAX), *p = buf;
    struct table t = {malloc(NRECORDS * sizeof(char *)), malloc(NRECORDS * sizeof(double))};
    errgroup g;
    int rc = buf == NULL || t.record == NULL || t.temperature == NULL ? ERRGROUP_ENOMEM
                                                                      : errgroup_init(&g);
    if (rc != 0) {
        fprintf(stderr, "records_for: %s\n", errgroup_strerror(rc));
        free(buf);
        free(t.record);
        free(t.temperature);
        return 2;
    }
    for (int i = 0; i < NRECORDS; i++) /* the input, as if read from a file */
        p += sprintf(p, i == BAD_RECORD && !clean ? "ST%04d,%d,%d\n" : "ST%04d,%d.%d\n",
                     i % 10000, i % 37 - 10, i % 10);
    p = buf;
    for (int i = 0; i < NRECORDS; i++) { /* index the records: split at newlines */
        t.record[i] = p;
        p = strchr(p, '\n');
        *p++ = '\0';
    }
    rc = errgroup_for(&g, 0, NRECORDS, parse, &t);
    errgroup_error e;
    if (rc != 0 && errgroup_first_error(&g, &e) == 0)
        fprintf(stderr, "records_for: %s (%s)\n", e.message, errgroup_strerror(e.code));
    double sum = 0.0;
    for (int i = 0; rc == 0 && i < NRECORDS; i++)
        sum += t.temperature[i];
    if (rc == 0)
        printf("records_for: %d records, mean temperature %.3f\n", NRECORDS, sum / NRECORDS);
    free(buf);
    free(t.record);
    free(t.temperature);
    if (errgroup_destroy(&g) != 0)
        return 2;
    return rc == 0 ? 0 : 1;
}
