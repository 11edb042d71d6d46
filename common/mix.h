/*
 * mix.h — the two steps every keyed hash in the sensor is built from.
 *
 * The flow table (flow keys, fragment sources) and the payload path's done
 * table hash attacker-chosen addresses and ports under random per-process
 * seeds. Both use the same primitives, kept here so they stay identical:
 * an unaligned little-endian 64-bit load and wyhash's "mum" step (a 64x64 ->
 * 128-bit multiply folded to 64 bits). Header-only: they must inline into
 * the per-packet loops.
 */
#ifndef TRACER_MIX_H
#define TRACER_MIX_H

#include <stdint.h>
#include <string.h>

/* 8 bytes at p, any alignment (bounds are the caller's: p..p+7 must be readable). */
static inline uint64_t mix_load64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* 64x64 -> 128-bit multiply, folded: the "mum" step of wyhash. */
static inline uint64_t mix_mum(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

#endif
