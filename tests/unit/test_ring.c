/*
 * test_ring.c — the SPSC ring: sizes, full/empty, drops, wrap-around, and two
 * threads passing a sequence of numbers (nothing lost, nothing reordered).
 * Run under ThreadSanitizer by `make tsan-check`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "common/ring.h"

static void test_create_rejects_bad_sizes(void **state)
{
    (void)state;
    char err[128];
    assert_null(ring_create(1000, 8, err, sizeof err));
    assert_string_equal(err, "ring size 1000: must be a power of two in [2, 1073741824]");
    assert_null(ring_create(0, 8, err, sizeof err));
    assert_null(ring_create(1, 8, err, sizeof err));
    assert_null(ring_create(16, 0, err, sizeof err));
    assert_string_equal(err, "ring slot size 0: must be in [1, 65536]");
    ring *r = ring_create(16, 24, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(ring_capacity(r), 16);
    assert_int_equal(ring_slot_size(r), 24);
    ring_destroy(r);
    ring_destroy(NULL);
}

static void test_full_and_empty(void **state)
{
    (void)state;
    char err[128];
    ring *r = ring_create(4, sizeof(uint64_t), err, sizeof err);
    assert_non_null(r);
    uint64_t v = 0;
    assert_false(ring_pop(r, &v));
    for (uint64_t i = 1; i <= 4; i++)
        assert_true(ring_push(r, &i));
    assert_int_equal(ring_count(r), 4);          /* every slot is usable */
    uint64_t five = 5;
    assert_false(ring_push(r, &five));
    assert_false(ring_push(r, &five));
    assert_int_equal(ring_drops(r), 2);
    for (uint64_t i = 1; i <= 4; i++) {
        assert_true(ring_pop(r, &v));
        assert_int_equal(v, i);
    }
    assert_false(ring_pop(r, &v));
    assert_int_equal(ring_count(r), 0);
    ring_count_drops(r, 3);
    assert_int_equal(ring_drops(r), 5);
    ring_destroy(r);
}

static void test_burst_wraps(void **state)
{
    (void)state;
    char err[128];
    ring *r = ring_create(8, sizeof(uint32_t), err, sizeof err);
    uint32_t in[8], out[8], next = 0, expect = 0;
    for (int round = 0; round < 100; round++) {
        uint32_t want = (uint32_t)(round % 7) + 1;
        for (uint32_t i = 0; i < want; i++)
            in[i] = next + i;
        uint32_t pushed = ring_push_burst(r, in, want);
        next += pushed;
        uint32_t got = ring_pop_burst(r, out, (uint32_t)(round % 5) + 1);
        for (uint32_t i = 0; i < got; i++)
            assert_int_equal(out[i], expect++);
    }
    uint32_t got;
    while ((got = ring_pop_burst(r, out, 8)) > 0)
        for (uint32_t i = 0; i < got; i++)
            assert_int_equal(out[i], expect++);
    assert_int_equal(expect, next);
    /* A burst larger than the room copies only what fits and counts no drop. */
    for (uint32_t i = 0; i < 8; i++)
        in[i] = i;
    assert_int_equal(ring_push_burst(r, in, 8), 8);
    assert_int_equal(ring_push_burst(r, in, 3), 0);
    assert_int_equal(ring_drops(r), 0);
    ring_destroy(r);
}

/* Many laps of a 2-slot ring: the masked index wraps millions of times. */
static void test_many_laps(void **state)
{
    (void)state;
    char err[128];
    ring *r = ring_create(2, sizeof(uint32_t), err, sizeof err);
    uint32_t v;
    for (uint32_t i = 0; i < 5000000u; i++) {
        assert_true(ring_push(r, &i));
        assert_true(ring_pop(r, &v));
        if (v != i)
            fail_msg("got %u want %u", v, i);
    }
    ring_destroy(r);
}

struct seq_arg { ring *r; uint64_t n; };

static void *producer(void *p)
{
    struct seq_arg *a = p;
    uint64_t batch[32];
    uint64_t next = 0;
    while (next < a->n) {
        uint32_t want = 0;
        for (; want < 32 && next + want < a->n; want++)
            batch[want] = next + want;
        uint32_t done = (next & 1) ? ring_push_burst(a->r, batch, want)
                                   : (ring_push(a->r, batch) ? 1u : 0u);
        next += done;
    }
    return NULL;
}

static void test_two_threads_sequence(void **state)
{
    (void)state;
    char err[128];
    const uint64_t n = 3000000;
    ring *r = ring_create(1024, sizeof(uint64_t), err, sizeof err);
    struct seq_arg a = {r, n};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, producer, &a), 0);
    uint64_t expect = 0, buf[64];
    while (expect < n) {
        uint32_t got = ring_pop_burst(r, buf, (uint32_t)(expect % 64) + 1);
        for (uint32_t i = 0; i < got; i++) {
            if (buf[i] != expect)
                fail_msg("reordered or lost: got %llu want %llu", (unsigned long long)buf[i],
                         (unsigned long long)expect);
            expect++;
        }
    }
    pthread_join(t, NULL);
    assert_int_equal(expect, n);
    assert_false(ring_pop(r, buf));
    ring_destroy(r);
}

/* dpi (issue 15): zero-copy slots for the payload ring: reserve/commit, peek/release. */
/* Items whose first byte says how many of their 16 bytes carry data (0: all). */
static size_t first_byte_used(const void *item)
{
    const uint8_t *b = item;
    return b[0] ? b[0] : 16;
}

/* Only the used prefix travels; the popped item is zero past it, whatever the
 * slot held on an earlier lap; an oversized claim is clamped to the slot. */
static void test_used_prefix(void **state)
{
    (void)state;
    char err[128];
    ring *r = ring_create(4, 16, err, sizeof err);
    assert_non_null(r);
    uint8_t full[4][16], out[4][16];
    for (int i = 0; i < 4; i++)
        memset(full[i], 0xA0 + i, 16);
    full[0][0] = 0;                               /* 0: all 16 bytes */
    assert_int_equal(ring_push_burst_used(r, full, 16, 4, first_byte_used), 4);
    assert_int_equal(ring_push_burst_used(r, full, 16, 1, first_byte_used), 0);   /* full */
    assert_int_equal(ring_pop_burst_used(r, out, 16, 4, first_byte_used), 4);
    assert_memory_equal(out, full, sizeof full);
    /* second lap: items use 3, 1 and 200 (clamped to 16) bytes */
    uint8_t part[3][16];
    memset(part, 0, sizeof part);
    part[0][0] = 3, part[0][1] = 0x11, part[0][2] = 0x22;
    part[1][0] = 1;
    memset(part[2], 0x55, 16);
    part[2][0] = 200;
    assert_int_equal(ring_push_burst_used(r, part, 16, 3, first_byte_used), 3);
    memset(out, 0xEE, sizeof out);
    assert_int_equal(ring_pop_burst_used(r, out, 16, 4, first_byte_used), 3);
    assert_memory_equal(out, part, sizeof part);  /* the slots' stale 0xA0.. bytes never show */
    assert_int_equal(out[3][0], 0xEE);            /* only 3 items written */
    assert_int_equal(ring_pop_burst_used(r, out, 16, 4, first_byte_used), 0);
    ring_destroy(r);
}

/* Slots smaller than the caller's items (the event rings: slots sized for the
 * configured groups): items 24 bytes apart travel in 8-byte slots; the pop
 * writes each item only up to the slot size and leaves the rest as it was. */
static size_t second_byte_used(const void *item)
{
    const uint8_t *b = item;
    return b[1];
}

static void test_used_stride(void **state)
{
    (void)state;
    char err[128];
    ring *r = ring_create(4, 8, err, sizeof err);
    assert_non_null(r);
    uint8_t in[3][24], out[3][24], want[3][24];
    memset(in, 0, sizeof in);
    in[0][1] = 8, in[0][0] = 1, in[0][7] = 7;      /* all 8 bytes of a slot */
    in[1][1] = 3, in[1][0] = 2, in[1][2] = 9;
    in[2][1] = 2, in[2][0] = 3;
    assert_int_equal(ring_push_burst_used(r, in, 24, 3, second_byte_used), 3);
    memset(out, 0xEE, sizeof out);
    assert_int_equal(ring_pop_burst_used(r, out, 24, 3, second_byte_used), 3);
    memset(want, 0xEE, sizeof want);
    for (int i = 0; i < 3; i++)
        memcpy(want[i], in[i], 8);                  /* used bytes, then zero up to the slot size */
    assert_memory_equal(out, want, sizeof want);
    ring_destroy(r);
}

/* Zero-copy bursts: windows stop at the end of the ring, uncommitted slots
 * stay free, records are read in place and freed k at a time. */
static void test_zero_copy_burst(void **state)
{
    (void)state;
    char err[128];
    ring *r = ring_create(8, 4, err, sizeof err);
    assert_non_null(r);
    uint32_t n;
    uint32_t *w = ring_reserve_burst(r, 5, &n);
    assert_non_null(w);
    assert_int_equal(n, 5);                          /* max */
    for (uint32_t i = 0; i < 3; i++)
        w[i] = 100 + i;
    ring_commit_burst(r, 3);                         /* 2 reserved, not published */
    assert_int_equal(ring_count(r), 3);
    const uint32_t *p = ring_peek_burst(r, 8, &n);
    assert_int_equal(n, 3);
    assert_int_equal(p[0], 100);
    assert_int_equal(p[2], 102);
    ring_release_burst(r, 2);                        /* frees 100, 101 */
    assert_int_equal(ring_count(r), 1);
    w = ring_reserve_burst(r, 8, &n);                /* slots 3..7: up to the end */
    assert_int_equal(n, 5);
    for (uint32_t i = 0; i < 5; i++)
        w[i] = 200 + i;
    ring_commit_burst(r, 5);
    w = ring_reserve_burst(r, 8, &n);                /* wraps: slots 0, 1 are free */
    assert_int_equal(n, 2);
    w[0] = 300;
    w[1] = 301;
    ring_commit_burst(r, 2);
    assert_null(ring_reserve_burst(r, 8, &n));       /* full */
    assert_int_equal(n, 0);
    p = ring_peek_burst(r, 8, &n);                   /* 102 and 200..204: up to the end */
    assert_int_equal(n, 6);
    assert_int_equal(p[0], 102);
    assert_int_equal(p[5], 204);
    ring_release_burst(r, 6);
    p = ring_peek_burst(r, 8, &n);
    assert_int_equal(n, 2);
    assert_int_equal(p[1], 301);
    ring_release_burst(r, 2);
    assert_null(ring_peek_burst(r, 8, &n));
    assert_int_equal(n, 0);
    ring_commit_burst(r, 0);                         /* no-ops */
    ring_release_burst(r, 0);
    assert_int_equal(ring_count(r), 0);
    ring_destroy(r);
}

static void test_zero_copy(void **state)
{
    (void)state;
    char err[128];
    ring *r = ring_create(2, 64, err, sizeof err);
    assert_non_null(r);
    assert_null(ring_peek(r));
    for (int round = 0; round < 3; round++) {   /* wraps around */
        unsigned char *a = ring_reserve(r);
        assert_non_null(a);
        memset(a, 'a' + round, 64);
        ring_commit(r);
        unsigned char *b = ring_reserve(r);
        assert_non_null(b);
        memset(b, 'A' + round, 64);
        ring_commit(r);
        assert_null(ring_reserve(r));          /* full: nothing counted */
        assert_int_equal(ring_drops(r), 0);
        const unsigned char *p = ring_peek(r);
        assert_int_equal(p[0], 'a' + round);
        ring_release(r);
        p = ring_peek(r);
        assert_int_equal(p[63], 'A' + round);
        ring_release(r);
        assert_null(ring_peek(r));
    }
    ring_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_rejects_bad_sizes),
        cmocka_unit_test(test_full_and_empty),
        cmocka_unit_test(test_zero_copy),
        cmocka_unit_test(test_used_prefix),
        cmocka_unit_test(test_used_stride),
        cmocka_unit_test(test_zero_copy_burst),
        cmocka_unit_test(test_burst_wraps),
        cmocka_unit_test(test_many_laps),
        cmocka_unit_test(test_two_threads_sequence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
