/*
 * timefmt.h — time in microseconds and its RFC 3339 text.
 *
 * The pipeline carries time as microseconds since the Unix epoch (packet time
 * from a file, wall time live); events print it as RFC 3339 UTC with
 * milliseconds (go-Tracer's `timestamp`) or microseconds (start/end times).
 */
#ifndef TRACER_TIMEFMT_H
#define TRACER_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Wall-clock time now, µs since the epoch (CLOCK_REALTIME). */
uint64_t timefmt_now_us(void);

/* Monotonic time now, µs (CLOCK_MONOTONIC), for intervals. */
uint64_t timefmt_mono_us(void);

/*
 * Format `us` as "YYYY-MM-DDTHH:MM:SS.fffZ" (digits = 3) or with 6 fraction
 * digits (digits = 6), UTC. buflen >= 32. Returns buf.
 */
char *timefmt_rfc3339(uint64_t us, int digits, char *buf, size_t buflen);

/* Latest second timefmt_civil handles: 9999-12-31T23:59:59Z. */
#define TIMEFMT_CIVIL_MAX_SECS 253402300799ull

/*
 * "YYYY-MM-DDTHH:MM:SS" (19 characters, no NUL) of `secs` since the epoch, UTC,
 * for secs <= TIMEFMT_CIVIL_MAX_SECS. Pure arithmetic: fast enough for every
 * flow record. Any thread.
 */
void timefmt_civil(uint64_t secs, char out[19]);

#endif
