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

static void fold(struct flow_stats *s, uint64_t ts, uint32_t len, uint32_t pay, uint8_t fl, int dir,
                 unsigned early)
{
    struct pkt_record p = pkt(ts, len, pay, fl);
    flow_stats_packet(s, &p, dir, early);
}

static void test_series(void **state)
{
    (void)state;
    struct flow_stats s;
    uint8_t slot[256];
    memset(&s, 0, sizeof s);
    s.early = slot;
    assert_int_equal(flow_stats_early_slot(8), 48);
    assert_int_equal(flow_stats_early_slot(3), 24);
    assert_int_equal(flow_stats_early_slot(0), 0);
    /* initiator: sizes 60, 100, 140 at 0, 10, 40 µs; responder: 52 at 5 µs */
    fold(&s, 1000, 60, 0, 0x02, 0, 8);
    fold(&s, 1005, 52, 0, 0x12, 1, 8);
    fold(&s, 1010, 100, 48, 0x18, 0, 8);
    fold(&s, 1040, 140, 88, 0x19, 0, 8);
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    flow_stats_fill(&s, 8, &ev);
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

    /* next record: its own packets only, no early packets */
    flow_stats_record_done(&s);
    fold(&s, 2000, 1500, 1460, 0x10, 1, 8);
    fold(&s, 2100, 1000, 960, 0x10, 1, 8);
    memset(&ev, 0, sizeof ev);
    flow_stats_fill(&s, 8, &ev);
    assert_int_equal(ev.xs.early_n, 0);
    assert_int_equal(ev.xs.dir[0].size_max, 0);
    assert_int_equal(ev.xs.dir[1].iat_min_us, 100);
    assert_true(ev.xs.dir[1].size_mean == 1250.0);
    assert_int_equal(ev.xs.dir[2].payload_bytes, 2420);
}

static void test_early_cap_and_clamps(void **state)
{
    (void)state;
    struct flow_stats s;
    uint8_t slot[256];
    memset(&s, 0, sizeof s);
    s.early = slot;
    for (unsigned i = 0; i < 10; i++)
        fold(&s, 100 - i, 70000, 0, 0, (int)(i & 1), 3);   /* time goes back: gaps 0 */
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    flow_stats_fill(&s, 3, &ev);
    assert_int_equal(ev.xs.early_n, 3);
    assert_int_equal(ev.xs.early_size[0], 65535);
    assert_int_equal(ev.xs.early_iat_us[2], 0);
    assert_int_equal(ev.xs.early_dirs, 0x2);
    assert_int_equal(ev.xs.dir[2].iat_max_us, 0);
    assert_int_equal(ev.xs.dir[0].size_max, 70000);

    memset(&s, 0, sizeof s);
    s.early = slot;
    fold(&s, 0, 40, 0, 0, 0, FLOW_EARLY_MAX);
    fold(&s, 5000000000ull, 40, 0, 0, 0, FLOW_EARLY_MAX);   /* 83 minutes */
    memset(&ev, 0, sizeof ev);
    flow_stats_fill(&s, FLOW_EARLY_MAX, &ev);
    assert_int_equal(ev.xs.early_iat_us[1], UINT32_MAX);
    assert_int_equal(ev.xs.dir[0].iat_max_us, 5000000000ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_series),
        cmocka_unit_test(test_early_cap_and_clamps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
