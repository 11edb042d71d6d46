/*
 * snmp_limiter.h — one bound on SNMP work in flight, shared by its users.
 *
 * AGENT_SNMP_CONCURRENCY bounds how many SNMP polls the sensor runs at once.
 * The scheduled poller and the on-demand API jobs (api/snmp_jobs) both take a
 * slot from this counting limiter before they talk to an agent and give it
 * back after, so together they never exceed the setting: an operator's burst
 * of API jobs cannot open more sessions than the poller alone may, and the
 * poller's targets wait their turn behind running jobs (and the reverse).
 * main creates it and hands it to both; it outlives them.
 */
#ifndef TRACER_SNMP_LIMITER_H
#define TRACER_SNMP_LIMITER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct snmp_limiter snmp_limiter;

/* A limiter of `slots` (>= 1). NULL when out of memory. Main thread. */
snmp_limiter *snmp_limiter_create(uint32_t slots);

/* NULL-safe; nobody may hold or wait for a slot. Main thread. */
void snmp_limiter_destroy(snmp_limiter *l);

/*
 * Take a slot, waiting for one while none is free. Gives up when *stop
 * becomes true (looked at every 100 ms; stop may be NULL) or after wait_ms
 * (0 = no limit). true when a slot was taken (give it back with
 * snmp_limiter_release). Any thread.
 */
bool snmp_limiter_acquire(snmp_limiter *l, const atomic_bool *stop, uint32_t wait_ms);

/* Give a slot back. Any thread. */
void snmp_limiter_release(snmp_limiter *l);

/* Slots in use now / in all. Any thread. */
uint32_t snmp_limiter_in_use(snmp_limiter *l);
uint32_t snmp_limiter_slots(const snmp_limiter *l);

#endif
