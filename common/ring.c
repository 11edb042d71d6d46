/*
 * ring.c — the SPSC ring (see ring.h for the contract).
 *
 * Layout: `head` (written only by the consumer) and `tail` (written only by
 * the producer) live on their own cache lines so the two threads do not
 * false-share. Both counters run free and are masked on access; the number of
 * filled slots is `tail - head` in unsigned 32-bit arithmetic, and the ring is
 * full when that count equals the capacity. So every slot is usable (ck and
 * Linux circ_buf keep one slot empty instead; free-running counters make that
 * unnecessary because full and empty have different differences).
 *
 * Memory ordering (the pairs are labelled as in DPDK's rte_ring):
 *   producer: relaxed load of its own tail; acquire load of head  [A1 pairs R1]
 *             copy into slots; release store of tail               [R0 pairs A0]
 *   consumer: relaxed load of its own head; acquire load of tail  [A0 pairs R0]
 *             copy out of slots; release store of head             [R1 pairs A1]
 * R0/A0 make the slot contents visible to the consumer before it sees the new
 * tail; R1/A1 make sure the consumer has finished reading a slot before the
 * producer sees it free and overwrites it.
 */
#include "ring.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define RING_CACHELINE 64

struct ring {
    alignas(RING_CACHELINE) _Atomic uint32_t head;   /* consumer writes */
    alignas(RING_CACHELINE) _Atomic uint32_t tail;   /* producer writes */
    alignas(RING_CACHELINE) _Atomic uint64_t drops;  /* producer writes, anyone reads */
    alignas(RING_CACHELINE) uint32_t mask;           /* read-only after create */
    uint32_t slot_size;
    unsigned char *slots;
    size_t mapped;                                   /* bytes mapped by slots_alloc, 0: malloc'd */
};

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

/*
 * The slots. A ring of RING_MAP_MIN bytes or more (the packet and event rings:
 * 9 to 18 MiB with the defaults) is mapped on its own and asked to be huge
 * pages: in 4 KiB pages its first pass faults once per 4 KiB of records on the
 * producer's hot path (thousands of page faults in the first second of a
 * capture, each a stall of the capture or janitor thread while a burst waits)
 * and walks the TLB once per page for ever after. Smaller rings come from the
 * allocator.
 */
#define RING_MAP_MIN (2u << 20)

static unsigned char *slots_alloc(size_t bytes, size_t *mapped)
{
    *mapped = 0;
    if (bytes < RING_MAP_MIN)
        return aligned_alloc(RING_CACHELINE, bytes);
    size_t len = round_up(bytes, RING_MAP_MIN);
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    (void)madvise(m, len, MADV_HUGEPAGE);   /* a hint: without THP, 4 KiB pages */
    *mapped = len;
    return m;
}

ring *ring_create(uint32_t slots, uint32_t slot_size, char *err, size_t errlen)
{
    if (slots < 2 || slots > (1u << 30) || (slots & (slots - 1)) != 0) {
        snprintf(err, errlen, "ring size %u: must be a power of two in [2, 1073741824]", slots);
        return NULL;
    }
    if (slot_size == 0 || slot_size > 65536) {
        snprintf(err, errlen, "ring slot size %u: must be in [1, 65536]", slot_size);
        return NULL;
    }
    ring *r = aligned_alloc(RING_CACHELINE, round_up(sizeof *r, RING_CACHELINE));
    if (!r)
        goto err;
    memset(r, 0, sizeof *r);
    size_t bytes = round_up((size_t)slots * slot_size, RING_CACHELINE);
    if (!(r->slots = slots_alloc(bytes, &r->mapped)))
        goto err;
    r->mask = slots - 1;
    r->slot_size = slot_size;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    atomic_init(&r->drops, 0);
    return r;
err:
    snprintf(err, errlen, "ring of %u x %u bytes: out of memory", slots, slot_size);
    free(r);
    return NULL;
}

void ring_destroy(ring *r)
{
    if (!r)
        return;
    if (r->mapped)
        munmap(r->slots, r->mapped);
    else
        free(r->slots);
    free(r);
}

/* Copy n slots starting at counter `pos` from src, wrapping at the end. */
static void copy_in(ring *r, uint32_t pos, const unsigned char *src, uint32_t n)
{
    uint32_t cap = r->mask + 1, idx = pos & r->mask;
    uint32_t first = n < cap - idx ? n : cap - idx;
    memcpy(r->slots + (size_t)idx * r->slot_size, src, (size_t)first * r->slot_size);
    if (n > first)
        memcpy(r->slots, src + (size_t)first * r->slot_size, (size_t)(n - first) * r->slot_size);
}

static void copy_out(const ring *r, uint32_t pos, unsigned char *dst, uint32_t n)
{
    uint32_t cap = r->mask + 1, idx = pos & r->mask;
    uint32_t first = n < cap - idx ? n : cap - idx;
    memcpy(dst, r->slots + (size_t)idx * r->slot_size, (size_t)first * r->slot_size);
    if (n > first)
        memcpy(dst + (size_t)first * r->slot_size, r->slots, (size_t)(n - first) * r->slot_size);
}

uint32_t ring_push_burst(ring *r, const void *items, uint32_t n)
{
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);   /* A1 */
    uint32_t room = (r->mask + 1) - (tail - head);
    if (n > room)
        n = room;
    if (n == 0)
        return 0;
    copy_in(r, tail, items, n);
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);        /* R0 */
    return n;
}

static size_t clamp_used(const ring *r, ring_used_fn used, const void *item)
{
    size_t u = used(item);
    return u > r->slot_size ? r->slot_size : u;
}

uint32_t ring_push_burst_used(ring *r, const void *items, size_t stride, uint32_t n, ring_used_fn used)
{
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);   /* A1 */
    uint32_t room = (r->mask + 1) - (tail - head);
    if (n > room)
        n = room;
    const unsigned char *src = items;
    for (uint32_t i = 0; i < n; i++) {
        const unsigned char *it = src + (size_t)i * stride;
        memcpy(r->slots + (size_t)((tail + i) & r->mask) * r->slot_size, it, clamp_used(r, used, it));
    }
    if (n)
        atomic_store_explicit(&r->tail, tail + n, memory_order_release);    /* R0 */
    return n;
}

uint32_t ring_pop_burst_used(ring *r, void *items, size_t stride, uint32_t n, ring_used_fn used)
{
    uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);   /* A0 */
    uint32_t avail = tail - head;
    if (n > avail)
        n = avail;
    unsigned char *dst = items;
    for (uint32_t i = 0; i < n; i++) {
        const unsigned char *slot = r->slots + (size_t)((head + i) & r->mask) * r->slot_size;
        unsigned char *it = dst + (size_t)i * stride;
        size_t u = clamp_used(r, used, slot);
        memcpy(it, slot, u);
        memset(it + u, 0, r->slot_size - u);
    }
    if (n)
        atomic_store_explicit(&r->head, head + n, memory_order_release);    /* R1 */
    return n;
}

bool ring_push(ring *r, const void *item)
{
    if (ring_push_burst(r, item, 1) == 1)
        return true;
    ring_count_drops(r, 1);
    return false;
}

void ring_count_drops(ring *r, uint64_t n)
{
    /* Only the producer writes; a relaxed read-modify-write keeps readers tear-free. */
    atomic_fetch_add_explicit(&r->drops, n, memory_order_relaxed);
}

uint32_t ring_pop_burst(ring *r, void *items, uint32_t n)
{
    uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);   /* A0 */
    uint32_t avail = tail - head;
    if (n > avail)
        n = avail;
    if (n == 0)
        return 0;
    copy_out(r, head, items, n);
    atomic_store_explicit(&r->head, head + n, memory_order_release);        /* R1 */
    return n;
}

/* `k` slots from ring position `pos` (tail to reserve, head to peek), cut at
 * the end of the ring (a window is contiguous) and at `max`: the window's
 * first slot, or NULL when k is 0. */
static void *window(ring *r, uint32_t pos, uint32_t k, uint32_t max, uint32_t *n)
{
    uint32_t idx = pos & r->mask;
    if (k > r->mask + 1 - idx)
        k = r->mask + 1 - idx;
    if (k > max)
        k = max;
    *n = k;
    return k ? r->slots + (size_t)idx * r->slot_size : NULL;
}

void *ring_reserve_burst(ring *r, uint32_t max, uint32_t *n)
{
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);   /* A1 */
    return window(r, tail, r->mask + 1 - (tail - head), max, n);         /* free slots */
}

void ring_commit_burst(ring *r, uint32_t k)
{
    if (k == 0)
        return;
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    atomic_store_explicit(&r->tail, tail + k, memory_order_release);        /* R0 */
}

const void *ring_peek_burst(ring *r, uint32_t max, uint32_t *n)
{
    uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);   /* A0 */
    return window(r, head, tail - head, max, n);                         /* filled slots */
}

void ring_release_burst(ring *r, uint32_t k)
{
    if (k == 0)
        return;
    uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    atomic_store_explicit(&r->head, head + k, memory_order_release);        /* R1 */
}

/* The single-slot forms: windows of one. */
void *ring_reserve(ring *r)
{
    uint32_t n;
    return ring_reserve_burst(r, 1, &n);
}

void ring_commit(ring *r) { ring_commit_burst(r, 1); }

const void *ring_peek(ring *r)
{
    uint32_t n;
    return ring_peek_burst(r, 1, &n);
}

void ring_release(ring *r) { ring_release_burst(r, 1); }

bool ring_pop(ring *r, void *item) { return ring_pop_burst(r, item, 1) == 1; }

uint32_t ring_count(const ring *r)
{
    uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    uint32_t n = tail - head;
    /* From a third thread the two loads may straddle updates; clamp. */
    return n > r->mask + 1 ? r->mask + 1 : n;
}

uint32_t ring_capacity(const ring *r) { return r->mask + 1; }
uint32_t ring_slot_size(const ring *r) { return r->slot_size; }
uint64_t ring_drops(const ring *r) { return atomic_load_explicit(&r->drops, memory_order_relaxed); }
