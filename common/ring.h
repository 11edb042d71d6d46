/*
 * ring.h — lock-free single-producer/single-consumer ring of fixed-size slots.
 *
 * The pipeline's stages (capture -> processor -> sender, and every hook ->
 * sender) talk only through these rings, so no stage ever takes a lock to hand
 * work on and a slow consumer can never stall its producer: a push into a full
 * ring fails at once and the producer counts the drop (ring_drops).
 *
 * Exactly one thread may push and exactly one thread may pop at a time. The
 * producer role may pass to another thread only across a happens-before edge
 * (pthread_join, a mutex), the same for the consumer role.
 */
#ifndef TRACER_RING_H
#define TRACER_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ring ring;

/*
 * Create a ring of `slots` slots of `slot_size` bytes each. `slots` must be a
 * power of two in [2, 2^30] and slot_size in [1, 65536]. Returns NULL (and a
 * message in err) when the sizes are invalid or memory is short.
 */
ring *ring_create(uint32_t slots, uint32_t slot_size, char *err, size_t errlen);

/* NULL-safe. No thread may use the ring any more. */
void ring_destroy(ring *r);

/* Producer: copy one slot in. Returns false (and counts a drop) when full. */
bool ring_push(ring *r, const void *item);

/*
 * Producer: copy up to n slots from items (n * slot_size bytes) and publish
 * them with one release store. Returns how many were copied; the rest are
 * NOT counted as drops (the caller decides: retry or ring_count_drops).
 */
uint32_t ring_push_burst(ring *r, const void *items, uint32_t n);

/*
 * Slots that are mostly empty (flow records whose optional groups are off):
 * `used(item)` says how many leading bytes of an item carry data (it must read
 * only bytes inside that prefix, and never say more than the slot size: the
 * caller sizes the slots for the largest item it can push; a larger answer is
 * cut to the slot size). Items are `stride` bytes apart in the caller's array,
 * stride >= the slot size, so slots can be smaller than the caller's items.
 * The push copies just the used bytes into each slot; the pop copies just
 * those out and zero-fills the rest of each item up to the slot size, so the
 * consumer sees the item as the producer had it, provided the producer's item
 * was zero past `used` and the consumer's items are zero past the slot size
 * (nothing here writes there). Otherwise as ring_push_burst / ring_pop_burst.
 */
typedef size_t (*ring_used_fn)(const void *item);
uint32_t ring_push_burst_used(ring *r, const void *items, size_t stride, uint32_t n, ring_used_fn used);
uint32_t ring_pop_burst_used(ring *r, void *items, size_t stride, uint32_t n, ring_used_fn used);

/* Producer: add n to the drop counter (items the caller gave up on). */
void ring_count_drops(ring *r, uint64_t n);

/* Consumer: copy one slot out. Returns false when empty. */
bool ring_pop(ring *r, void *item);

/* Consumer: copy up to n slots out, release them with one store. Returns the count. */
uint32_t ring_pop_burst(ring *r, void *items, uint32_t n);

/*
 * Zero-copy access, for large slots (the payload ring): the producer fills
 * the slot ring_reserve returned and publishes it with ring_commit (release,
 * R0); the consumer reads the slot ring_peek returned and frees it with
 * ring_release (release, R1). ring_reserve returns NULL when the ring is full
 * (nothing is counted: the caller counts), ring_peek NULL when it is empty.
 * The pointer is valid until the matching commit/release; at most one slot is
 * reserved (or peeked) at a time per side. Same threads as push/pop.
 */
void *ring_reserve(ring *r);
void ring_commit(ring *r);
const void *ring_peek(ring *r);
void ring_release(ring *r);

/*
 * Zero-copy bursts, for records built in place (capture decodes into the
 * packet ring, the processor reads them there): ring_reserve_burst returns
 * the first of up to `max` free slots that follow each other in memory (it
 * stops at the end of the ring: the next call starts at its beginning) and
 * their count in *n, or NULL and 0 when the ring is full; the producer fills
 * some of them and publishes the first k with ring_commit_burst(k) (one
 * release store; slots not committed stay free). ring_peek_burst /
 * ring_release_burst are the consumer's side: up to `max` filled slots in a
 * row, then free the first k. The pointers are valid until the matching
 * commit / release. Same threads as push/pop; do not mix with ring_reserve /
 * ring_peek while a burst is held.
 */
void *ring_reserve_burst(ring *r, uint32_t max, uint32_t *n);
void ring_commit_burst(ring *r, uint32_t k);
const void *ring_peek_burst(ring *r, uint32_t max, uint32_t *n);
void ring_release_burst(ring *r, uint32_t k);

/* Any thread: approximate number of filled slots (exact for producer or consumer). */
uint32_t ring_count(const ring *r);

/* Any thread: capacity in slots, slot size in bytes. */
uint32_t ring_capacity(const ring *r);
uint32_t ring_slot_size(const ring *r);

/* Any thread: drops counted so far (relaxed read). */
uint64_t ring_drops(const ring *r);

#endif
