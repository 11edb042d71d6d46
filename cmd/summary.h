/*
 * summary.h — the lines that say what the sensor did: the configuration at
 * start, the summary at exit, the exit status that tells whether every event
 * reached its output, and what a second signal during shutdown abandons.
 * Main thread, except summary_log_abandoned (the signal watch thread).
 */
#ifndef TRACER_SUMMARY_H
#define TRACER_SUMMARY_H

#include "cmd/stages.h"

/* The startup line: the version and every setting's effective value (secrets masked). */
void summary_log_configuration(const struct config *cfg);

/* The last line: what was read, made and delivered. After the pipeline stopped. */
void summary_log_end(const struct stages *st);

/* The same counters as the last line, under `msg` (SIGUSR1: "counters"). Main thread, while the
 * pipeline runs or after it stopped (reads each stage's counters; may wait for the flow table's lock). */
void summary_log_counters(const struct stages *st, const char *msg);

/* 0 when every event reached its output, else EXIT_SPOOLED or EXIT_DROPPED. After the pipeline stopped. */
int summary_delivery_status(const struct stages *st);

/* A second SIGINT/SIGTERM (`sig`) while flushing: what exiting now loses, as exactly as can be
 * read without waiting for the stages. Any thread. */
void summary_log_abandoned(const struct stages *st, int sig);

#endif
