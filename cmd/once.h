/*
 * once.h — the one-shot modes: one event on stdout, then exit.
 *
 * Debugging a sensor in place should not need a backend or a wait for the
 * next interval: `--once topology` prints the host's topology snapshot as the
 * topology hook would send it, `--once snmp NAME` polls one configured target
 * now and prints its `snmp` event, `--once sensor` prints the `sensor` event of
 * a sensor set up as configured (main sets it up: once_print_sensor). The events carry the same common fields
 * (event_id, schema_version, hostname, sensor_id, timestamp) as in the stream,
 * and the process gives up root the same way the sensor does before it talks
 * to the network.
 */
#ifndef TRACER_ONCE_H
#define TRACER_ONCE_H

#include <stddef.h>
#include <stdio.h>

struct config;
struct stages;

/*
 * Run cfg->once: write the event as one JSON line to `out`. Returns the exit
 * status: 0 (the event printed; for snmp, the poll worked), EXIT_RUNTIME (the
 * event printed, but the poll failed: its "error" says why; or no memory),
 * EXIT_CONFIG (bad input: message in err). Main thread, no other thread.
 */
int once_run(const struct config *cfg, FILE *out, char *err, size_t errlen);

/*
 * `--once sensor` (issue 17.4): main has set the sensor up as configured (log,
 * identity, capture opened, sender with its outputs, hooks created, privileges
 * dropped) without starting a thread. Write its `sensor` event as one JSON
 * line to `out`: the counters as the reporter gathers them (all zero: nothing
 * ran), plus "setup": what the operator configured and what the set-up found
 * (source and link type, capabilities kept, user, outputs, hooks, seccomp).
 * Returns 0, or EXIT_RUNTIME with a message in err. Main thread.
 */
int once_print_sensor(const struct stages *st, const char *sensor_id, FILE *out, char *err, size_t errlen);

#endif
