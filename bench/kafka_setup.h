/*
 * kafka_setup.h — what the two Kafka bench programs (bench/kafka_floor.c, a
 * bare librdkafka producer, and bench/kafka_out.c, the sensor's Kafka output
 * alone) share: their command line "BOOTSTRAP TOPIC N NDJSON", the NDJSON
 * lines they send (read once, kept in memory, cycled) and the clock they
 * time with. One copy keeps the two rows measuring the same messages.
 *
 * Header only (static inline): bench/run.sh compiles each program from its
 * one .c file. Needs _POSIX_C_SOURCE 200809L or _GNU_SOURCE (getline,
 * clock_gettime) defined before any include.
 */
#ifndef TRACER_BENCH_KAFKA_SETUP_H
#define TRACER_BENCH_KAFKA_SETUP_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

/* The lines of the NDJSON file, without their '\n'; at most KSETUP_MAXLINES, up to the first empty one. */
enum { KSETUP_MAXLINES = 4096 };
struct ksetup_lines {
    char *text[KSETUP_MAXLINES];
    size_t len[KSETUP_MAXLINES];
    size_t n;
};

/* CLOCK_MONOTONIC in seconds. */
static inline double ksetup_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Free what ksetup_args loaded into *l (l itself is the caller's). */
static inline void ksetup_lines_free(struct ksetup_lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->text[i]);
    l->n = 0;
}

/*
 * Check "PROG BOOTSTRAP TOPIC N NDJSON ..." (argv[1..4]), read N into *n and
 * the file's lines into *l (zeroed first; free with ksetup_lines_free).
 * Returns 0, or 2 (the exit status) after a message on stderr naming `prog`.
 */
static inline int ksetup_args(const char *prog, int argc, char **argv, unsigned long *n, struct ksetup_lines *l)
{
    memset(l, 0, sizeof *l);
    if (argc < 5) {
        fprintf(stderr, "usage: %s BOOTSTRAP TOPIC N NDJSON\n", prog);
        return 2;
    }
    *n = strtoul(argv[3], NULL, 10);
    FILE *f = fopen(argv[4], "r");
    if (!f) {
        perror(argv[4]);
        return 2;
    }
    char *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    bool oom = false;
    while (l->n < KSETUP_MAXLINES && (got = getline(&line, &lcap, f)) > 1) {
        size_t len = (size_t)got - 1;
        if (!(l->text[l->n] = malloc(len))) {
            oom = true;
            break;
        }
        memcpy(l->text[l->n], line, len);
        l->len[l->n++] = len;
    }
    free(line);
    fclose(f);
    if (oom || *n == 0 || l->n == 0) {
        fprintf(stderr, oom ? "%s: out of memory\n" : "%s: N > 0 and a non-empty NDJSON file\n", prog);
        ksetup_lines_free(l);
        return 2;
    }
    return 0;
}

#endif
