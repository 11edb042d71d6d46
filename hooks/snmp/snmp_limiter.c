/*
 * snmp_limiter.c — the shared SNMP concurrency bound (see snmp_limiter.h).
 *
 * A counter under a mutex and a condition variable on CLOCK_MONOTONIC. Waiters
 * wake at least every 100 ms to look at their stop flag, so stopping the sensor
 * or cancelling a job never waits for another user's whole poll.
 */
#include "snmp_limiter.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define LIMITER_TICK_MS 100u

struct snmp_limiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t slots, used;
};

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

snmp_limiter *snmp_limiter_create(uint32_t slots)
{
    snmp_limiter *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->slots = slots ? slots : 1;
    pthread_condattr_t ca;
    bool ok = pthread_condattr_init(&ca) == 0;
    ok = ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&l->cv, &ca) == 0;
    if (ok)
        pthread_condattr_destroy(&ca);
    if (!ok || pthread_mutex_init(&l->mu, NULL) != 0) {
        free(l);
        return NULL;
    }
    return l;
}

void snmp_limiter_destroy(snmp_limiter *l)
{
    if (!l)
        return;
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

bool snmp_limiter_acquire(snmp_limiter *l, const atomic_bool *stop, uint32_t wait_ms)
{
    uint64_t deadline = wait_ms ? mono_ms() + wait_ms : 0;
    bool got = false;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        if (l->used < l->slots) {
            l->used++;
            got = true;
            break;
        }
        if (stop && atomic_load_explicit(stop, memory_order_relaxed))
            break;
        uint64_t now = mono_ms();
        if (deadline && now >= deadline)
            break;
        uint64_t wait = LIMITER_TICK_MS;
        if (deadline && deadline - now < wait)
            wait = deadline - now;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (long)wait * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&l->cv, &l->mu, &until);   /* re-checked above: a slot, stop, deadline */
    }
    pthread_mutex_unlock(&l->mu);
    return got;
}

void snmp_limiter_release(snmp_limiter *l)
{
    pthread_mutex_lock(&l->mu);
    if (l->used > 0)
        l->used--;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

uint32_t snmp_limiter_in_use(snmp_limiter *l)
{
    pthread_mutex_lock(&l->mu);
    uint32_t n = l->used;
    pthread_mutex_unlock(&l->mu);
    return n;
}

uint32_t snmp_limiter_slots(const snmp_limiter *l)
{
    return l->slots;
}
