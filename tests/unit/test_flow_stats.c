/*
 * test_flow_stats.c — streaming statistics (processor/flow_stats.c): exact
 * values for small hand-computed series, the record boundary, the early
 * packets and their cap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "processor/flow_stats.h"

static struct pkt_record pkt(uint64_t ts, uint32_t ip_len, uint32_t payload, uint8_t flags)
{
    struct pkt_record p;
    memset(&p, 0, sizeof p);
    p.ts_us = ts;
    p.ip_len = ip_len;
    p.payload_len = payload;
    p.tcp_flags = flags;
    p.proto = 6;
    return p;
}

/* A flow's statistics region (state and early slot) and the record's
 * packet counters, which the flow table keeps and passes in. */
struct region {
    _Alignas(64) unsigned char mem[1024];
    uint64_t pkts[2];
};

static struct flow_stats *region_init(struct region *r, unsigned early)
{
    assert_true(flow_stats_size(early) <= sizeof r->mem);
    memset(r->mem, 0xa5, sizeof r->mem);           /* the early slot is not cleared */
    struct flow_stats *s = (struct flow_stats *)r->mem;
    flow_stats_init(s);
    r->pkts[0] = r->pkts[1] = 0;
    return s;
}

static void fold(struct region *r, uint64_t ts, uint32_t len, uint32_t pay, uint8_t fl, int dir,
                 unsigned early)
{
    struct pkt_record p = pkt(ts, len, pay, fl);
    r->pkts[dir]++;
    flow_stats_packet((struct flow_stats *)r->mem, &p, dir, r->pkts, early);
}

static void fill(struct region *r, unsigned early, struct flow_event *ev)
{
    memset(ev, 0x5a, sizeof *ev);                  /* fill writes every statistics field */
    flow_stats_fill((struct flow_stats *)r->mem, r->pkts, early, ev);
}

static void record_done(struct region *r)
{
    flow_stats_record_done((struct flow_stats *)r->mem);
    r->pkts[0] = r->pkts[1] = 0;
}

static void test_series(void **state)
{
    (void)state;
    static struct region s;
    region_init(&s, 8);
    /* 264 bytes of state, then 6 bytes per early packet (8-aligned), a multiple of 32 */
    assert_int_equal(sizeof(struct flow_stats), 264);
    assert_int_equal(flow_stats_size(8), 320);
    assert_int_equal(flow_stats_size(3), 288);
    assert_int_equal(flow_stats_size(0), 288);
    assert_int_equal(flow_stats_size(FLOW_EARLY_MAX), 480);
    /* initiator: sizes 60, 100, 140 at 0, 10, 40 µs; responder: 52 at 5 µs */
    fold(&s, 1000, 60, 0, 0x02, 0, 8);
    fold(&s, 1005, 52, 0, 0x12, 1, 8);
    fold(&s, 1010, 100, 48, 0x18, 0, 8);
    fold(&s, 1040, 140, 88, 0x19, 0, 8);
    struct flow_event ev;
    fill(&s, 8, &ev);
    const struct flow_dir_stats *a = &ev.xs.dir[0], *b = &ev.xs.dir[1], *c = &ev.xs.dir[2];
    assert_true(ev.xs.have & XS_STATS);
    assert_int_equal(a->size_min, 60);
    assert_int_equal(a->size_max, 140);
    assert_true(a->size_mean == 100.0);
    assert_true(a->size_stddev == 40.0);               /* sample: sqrt(3200 / 2) */
    assert_int_equal(a->iat_min_us, 10);
    assert_int_equal(a->iat_max_us, 30);
    assert_true(a->iat_mean_us == 20.0);
    assert_true(fabs(a->iat_stddev_us - sqrt(200.0)) < 1e-12);
    assert_int_equal(a->payload_bytes, 136);
    assert_int_equal(a->flag_count[FLAG_IX_SYN], 1);
    assert_int_equal(a->flag_count[FLAG_IX_ACK], 2);
    assert_int_equal(a->flag_count[FLAG_IX_PSH], 2);
    assert_int_equal(a->flag_count[FLAG_IX_FIN], 1);
    assert_int_equal(b->size_min, 52);
    assert_true(b->size_mean == 52.0 && b->size_stddev == 0.0);
    assert_int_equal(b->iat_min_us, 0);                /* one packet: no gap */
    assert_true(b->iat_mean_us == 0.0);
    assert_int_equal(b->flag_count[FLAG_IX_SYN], 1);
    assert_int_equal(c->size_min, 52);
    assert_int_equal(c->size_max, 140);
    assert_true(c->size_mean == 88.0);
    assert_int_equal(c->iat_min_us, 5);                /* gaps 5, 5, 30 */
    assert_int_equal(c->iat_max_us, 30);
    assert_true(c->iat_mean_us == 40.0 / 3.0);
    assert_int_equal(c->flag_count[FLAG_IX_SYN], 2);
    assert_int_equal(ev.xs.early_n, 4);
    assert_int_equal(ev.xs.early_dirs, 0x2);
    assert_int_equal(ev.xs.early_size[3], 140);
    assert_int_equal(ev.xs.early_iat_us[0], 0);
    assert_int_equal(ev.xs.early_iat_us[1], 5);
    assert_int_equal(ev.xs.early_iat_us[3], 30);
    for (unsigned i = 4; i < FLOW_EARLY_MAX; i++)
        assert_true(ev.xs.early_iat_us[i] == 0 && ev.xs.early_size[i] == 0);

    /* next record: its own packets only, no early packets */
    record_done(&s);
    fold(&s, 2000, 1500, 1460, 0x10, 1, 8);
    fold(&s, 2100, 1000, 960, 0x10, 1, 8);
    fill(&s, 8, &ev);
    assert_int_equal(ev.xs.early_n, 0);
    assert_int_equal(ev.xs.early_dirs, 0);
    assert_true(ev.xs.early_iat_us[0] == 0 && ev.xs.early_size[0] == 0);
    assert_int_equal(ev.xs.dir[0].size_max, 0);
    assert_int_equal(ev.xs.dir[1].iat_min_us, 100);
    assert_true(ev.xs.dir[1].size_mean == 1250.0);
    assert_int_equal(ev.xs.dir[2].payload_bytes, 2420);
}

static void test_early_cap_and_clamps(void **state)
{
    (void)state;
    static struct region s;
    region_init(&s, 3);
    for (unsigned i = 0; i < 10; i++)
        fold(&s, 100 - i, 70000, 0, 0, (int)(i & 1), 3);   /* time goes back: gaps 0 */
    struct flow_event ev;
    fill(&s, 3, &ev);
    assert_int_equal(ev.xs.early_n, 3);
    assert_int_equal(ev.xs.early_size[0], 65535);
    assert_int_equal(ev.xs.early_iat_us[2], 0);
    assert_int_equal(ev.xs.early_dirs, 0x2);
    assert_int_equal(ev.xs.dir[2].iat_max_us, 0);
    assert_int_equal(ev.xs.dir[0].size_max, 70000);

    region_init(&s, FLOW_EARLY_MAX);
    fold(&s, 0, 40, 0, 0, 0, FLOW_EARLY_MAX);
    fold(&s, 5000000000ull, 40, 0, 0, 0, FLOW_EARLY_MAX);   /* 83 minutes */
    fill(&s, FLOW_EARLY_MAX, &ev);
    assert_int_equal(ev.xs.early_iat_us[1], UINT32_MAX);
    assert_int_equal(ev.xs.dir[0].iat_max_us, 5000000000ull);
}

/* The definitions, written plainly: one Welford accumulator per series, fed
 * in packet order (what tests/e2e/test_flow_stats.py computes from tshark). */
struct ref_series {
    uint64_t n;
    double mean, m2;
};

static void ref_add(struct ref_series *r, double x)
{
    r->n++;
    double delta = x - r->mean;
    r->mean += delta / (double)r->n;
    r->m2 += delta * (x - r->mean);
}

static double ref_sd(const struct ref_series *r)
{
    return r->n > 1 ? sqrt(r->m2 / (double)(r->n - 1)) : 0.0;
}

static void assert_same_double(double a, double b)
{
    assert_memory_equal(&a, &b, sizeof a);          /* every bit: the JSON prints them all */
}

/* Many packets in both directions, sizes and gaps from a generator, time
 * going back now and then, an interim record in the middle: the state (which
 * takes its counts from the caller and the previous packet's time from the
 * last direction) gives every value bit for bit as the plain definitions. */
static void test_matches_plain_welford(void **state)
{
    (void)state;
    static struct region r;
    region_init(&r, 8);
    uint64_t x = 0x9e3779b97f4a7c15ull, ts = 1000000;
    for (int rec = 0; rec < 2; rec++) {
        struct ref_series size[3] = {{0}}, iat[3] = {{0}};
        uint64_t prev[3] = {0}, npk[3] = {0};
        for (int i = 0; i < 500; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            int dir = (int)(x >> 60) % 3 == 0;
            uint32_t len = 40u + (uint32_t)(x % 1461u);
            if ((x >> 20) % 17 == 0)
                ts -= (x >> 24) % 500u;             /* out of order: a gap of 0 */
            else
                ts += (x >> 24) % 100000u;
            fold(&r, ts, len, len - 40u, (uint8_t)(x >> 40), dir, 8);
            for (int k = 0; k < 3; k++) {
                if (k < 2 && k != dir)
                    continue;
                if (npk[k])
                    ref_add(&iat[k], (double)(ts > prev[k] ? ts - prev[k] : 0));
                prev[k] = ts;
                npk[k]++;
                ref_add(&size[k], (double)len);
            }
        }
        struct flow_event ev;
        fill(&r, 8, &ev);
        for (int k = 0; k < 3; k++) {
            const struct flow_dir_stats *d = &ev.xs.dir[k];
            assert_same_double(d->size_mean, size[k].mean);
            assert_same_double(d->size_stddev, ref_sd(&size[k]));
            assert_same_double(d->iat_mean_us, iat[k].mean);
            assert_same_double(d->iat_stddev_us, ref_sd(&iat[k]));
        }
        assert_int_equal(ev.xs.early_n, rec == 0 ? 8 : 0);
        record_done(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_series),
        cmocka_unit_test(test_early_cap_and_clamps),
        cmocka_unit_test(test_matches_plain_welford),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
