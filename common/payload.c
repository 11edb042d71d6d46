/*
 * payload.c — the "detection done" table shared by capture and processor
 * (see payload.h). One writer (the thread that holds the flow table) and one
 * reader (the capture thread); every access is a relaxed atomic on one
 * 32-bit slot, because the table is a hint: a reader that sees an old value
 * copies one payload too many or too few, and neither is a correctness issue
 * (too few cannot happen for a flow still in detection unless a fingerprint
 * collides).
 */
#include "payload.h"
#include "mix.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define DONE_BITS 20u
#define DONE_SLOTS (1u << DONE_BITS)

struct payload_done {
    uint64_t seed[3];
    _Atomic uint32_t slot[DONE_SLOTS];
};

payload_done *payload_done_create(char *err, size_t errlen)
{
    payload_done *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "payload: out of memory for the detection-done table");
        return NULL;
    }
    if (getrandom(d->seed, sizeof d->seed, GRND_NONBLOCK) != (ssize_t)sizeof d->seed) {
        d->seed[0] = 0x243f6a8885a308d3ull;     /* any value is correct: placement only */
        d->seed[1] = 0x13198a2e03707344ull;
        d->seed[2] = 0xa4093822299f31d0ull;
    }
    for (size_t i = 0; i < DONE_SLOTS; i++)
        atomic_init(&d->slot[i], 0);
    return d;
}

void payload_done_destroy(payload_done *d) { free(d); }

/* One endpoint; the flow hash adds both, so the order does not matter. */
static uint64_t endpoint(const payload_done *d, const uint8_t *addr, uint16_t port)
{
    return mix_mum(mix_load64(addr) ^ d->seed[0], mix_load64(addr + 8) ^ d->seed[1] ^ port);
}

uint64_t payload_flow_hash(const payload_done *d, const uint8_t *a, uint16_t pa,
                           const uint8_t *b, uint16_t pb, uint8_t proto)
{
    uint64_t h = endpoint(d, a, pa) + endpoint(d, b, pb);
    return mix_mum(h ^ proto, 0x9e3779b97f4a7c15ull ^ d->seed[2]);
}

/* A slot holds the done flow's fingerprint (bit 0 set, so never 0 = empty). */
static uint32_t fingerprint(uint64_t h) { return (uint32_t)(h >> 32) | 1u; }

int payload_done_test(const payload_done *d, uint64_t h)
{
    return atomic_load_explicit(&d->slot[h & (DONE_SLOTS - 1u)], memory_order_relaxed) == fingerprint(h);
}

void payload_done_mark(payload_done *d, uint64_t h)
{
    atomic_store_explicit(&d->slot[h & (DONE_SLOTS - 1u)], fingerprint(h), memory_order_relaxed);
}

void payload_done_clear(payload_done *d, uint64_t h)
{
    _Atomic uint32_t *s = &d->slot[h & (DONE_SLOTS - 1u)];
    if (atomic_load_explicit(s, memory_order_relaxed) == fingerprint(h))
        atomic_store_explicit(s, 0, memory_order_relaxed);
}
