/*
 * signals.h — how the sensor takes signals, without async handlers.
 *
 * SIGPIPE is ignored (a closed stdout or socket is an error return).
 * SIGINT, SIGTERM, SIGHUP and SIGUSR1 are blocked in every thread (main
 * blocks them before the first thread starts) and taken synchronously: by
 * main's wait loop with sigtimedwait while the sensor runs, and during
 * shutdown by the watch thread here, so a second SIGINT/SIGTERM exits at once
 * (saying what is lost) and SIGHUP still reopens the log file and reloads
 * the hooks' target files (signals_hangup). SIGUSR1 logs
 * the counters line (as pmacct does) instead of killing the sensor.
 */
#ifndef TRACER_SIGNALS_H
#define TRACER_SIGNALS_H

#include <signal.h>

#include "cmd/stages.h"

/* Ignore SIGPIPE; block SIGINT, SIGTERM, SIGHUP and SIGUSR1 and put them in *set. Main thread, before threads. */
void signals_setup(sigset_t *set);

/* SIGHUP: reopen AGENT_LOG_FILE (after logrotate moved it) and say how that went. */
void signals_reopen_log(void);

/*
 * SIGHUP's whole duty: reopen the log (signals_reopen_log), then reload every
 * hook's target file (hook_set_reload: each outcome is logged; an invalid file
 * keeps the old targets). Flows are not touched. Main thread or the watch thread.
 */
void signals_hangup(const struct stages *st);

typedef struct signal_watch signal_watch;

/*
 * Start the shutdown watch: a second SIGINT/SIGTERM logs what is abandoned
 * (summary_log_abandoned) and _exits with EXIT_DROPPED. `st` is borrowed.
 * Returns NULL when the thread cannot start (the shutdown still runs).
 */
signal_watch *signal_watch_start(const struct stages *st);

/* The flush finished: stop and join the watch. NULL-safe. */
void signal_watch_stop(signal_watch *w);

#endif
