/*
 * test_savefile.c — the block reader of classic pcap files: the records,
 * times and lengths libpcap gives, across block boundaries; the files it
 * leaves to libpcap; and the handover, after which libpcap reads on from the
 * right record with its own checks (snapshot cut, truncated last record).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/savefile.h"

#define MAGIC_US 0xa1b2c3d4u
#define MAGIC_NS 0xa1b23c4du

struct fixture {
    char path[64];
    FILE *w;
};

static void file_start(struct fixture *fx, uint32_t magic, uint16_t major, uint16_t minor, uint32_t snaplen)
{
    snprintf(fx->path, sizeof fx->path, "/tmp/test_savefile.XXXXXX");
    int fd = mkstemp(fx->path);
    assert_true(fd >= 0);
    fx->w = fdopen(fd, "wb");
    assert_non_null(fx->w);
    uint32_t h[6];
    h[0] = magic;
    h[1] = (uint32_t)major | (uint32_t)minor << 16;
    h[2] = 0;                                   /* thiszone */
    h[3] = 0;                                   /* sigfigs */
    h[4] = snaplen;
    h[5] = 1;                                   /* LINKTYPE_ETHERNET */
    assert_int_equal(fwrite(h, sizeof h, 1, fx->w), 1);
}

/* A record whose bytes are (seed + i) & 0xff; `cut` bytes of its data left out. */
static void file_record(struct fixture *fx, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len,
                        unsigned seed, uint32_t cut)
{
    uint32_t h[4] = {sec, frac, caplen, len};
    assert_int_equal(fwrite(h, sizeof h, 1, fx->w), 1);
    for (uint32_t i = 0; i + cut < caplen; i++)
        assert_int_equal(fputc((int)((seed + i) & 0xffu), fx->w), (int)((seed + i) & 0xffu));
}

/* Close the writer; open the file as capture.c does and offer it to the reader. */
static pcap_t *file_open(struct fixture *fx, bool filtered, savefile **sf)
{
    assert_int_equal(fclose(fx->w), 0);
    fx->w = NULL;
    FILE *f = fopen(fx->path, "rb");
    assert_non_null(f);
    char ebuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    assert_non_null(p);
    *sf = savefile_open(p, filtered);
    return p;
}

static void fixture_end(struct fixture *fx, pcap_t *p, savefile *sf)
{
    savefile_destroy(sf);
    pcap_close(p);
    unlink(fx->path);
}

static void assert_data(const uint8_t *d, uint32_t n, unsigned seed)
{
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(d[i], (seed + i) & 0xffu);
}

static void test_records_and_times(void **state)
{
    (void)state;
    struct fixture fx;
    file_start(&fx, MAGIC_US, 2, 4, 65535);
    file_record(&fx, 1700000000u, 123456u, 60, 60, 1, 0);
    file_record(&fx, 1700000001u, 999999u, 0, 1514, 2, 0);        /* nothing captured */
    file_record(&fx, 0xffffffffu, 5u, 1500, 1514, 3, 0);           /* past 2038: negative, as libpcap */
    savefile *sf;
    pcap_t *p = file_open(&fx, false, &sf);
    assert_non_null(sf);
    struct pcap_pkthdr h;
    const uint8_t *d;
    assert_int_equal(savefile_next(sf, &h, &d), SAVEFILE_RECORD);
    assert_int_equal(h.ts.tv_sec, 1700000000);
    assert_int_equal(h.ts.tv_usec, 123456);
    assert_int_equal(h.caplen, 60);
    assert_int_equal(h.len, 60);
    assert_data(d, 60, 1);
    assert_int_equal(savefile_pos(sf), 24 + 16 + 60);
    assert_int_equal(savefile_next(sf, &h, &d), SAVEFILE_RECORD);
    assert_int_equal(h.ts.tv_sec, 1700000001);
    assert_int_equal(h.ts.tv_usec, 999999);
    assert_int_equal(h.caplen, 0);
    assert_int_equal(h.len, 1514);
    assert_int_equal(savefile_next(sf, &h, &d), SAVEFILE_RECORD);
    assert_int_equal(h.ts.tv_sec, -1);
    assert_int_equal(h.ts.tv_usec, 5);
    assert_int_equal(h.caplen, 1500);
    assert_int_equal(h.len, 1514);
    assert_data(d, 1500, 3);
    assert_int_equal(savefile_next(sf, &h, &d), SAVEFILE_END);
    assert_int_equal(savefile_next(sf, &h, &d), SAVEFILE_END);
    assert_int_equal(savefile_pos(sf), 24 + 16 + 60 + 16 + 16 + 1500);
    fixture_end(&fx, p, sf);
}

/* Nanosecond files: the fraction divided by 1000, as libpcap's scale-down. */
static void test_nanoseconds(void **state)
{
    (void)state;
    struct fixture fx;
    file_start(&fx, MAGIC_NS, 2, 4, 262144);
    file_record(&fx, 1700000000u, 123456789u, 40, 40, 9, 0);
    file_record(&fx, 1700000000u, 999u, 40, 40, 9, 0);
    savefile *sf;
    pcap_t *p = file_open(&fx, false, &sf);
    assert_non_null(sf);
    struct pcap_pkthdr h;
    const uint8_t *d;
    assert_int_equal(savefile_next(sf, &h, &d), SAVEFILE_RECORD);
    assert_int_equal(h.ts.tv_usec, 123456);
    assert_int_equal(savefile_next(sf, &h, &d), SAVEFILE_RECORD);
    assert_int_equal(h.ts.tv_usec, 0);
    assert_int_equal(savefile_next(sf, &h, &d), SAVEFILE_END);
    fixture_end(&fx, p, sf);
}

/* Three megabytes of records of every size from 0 to 1,600 bytes: each one
 * whole and in order across the block refills. */
static void test_blocks(void **state)
{
    (void)state;
    struct fixture fx;
    file_start(&fx, MAGIC_US, 2, 4, 262144);
    uint64_t bytes = 24;
    unsigned n = 0;
    while (bytes < 3u * SAVEFILE_BLOCK * 2u) {
        uint32_t cap = (n * 37u) % 1601u;
        file_record(&fx, 1000u + n, n % 1000000u, cap, cap + 4u, n, 0);
        bytes += 16u + cap;
        n++;
    }
    file_record(&fx, 5u, 0, 200000u, 200000u, 77, 0);             /* one large record last */
    bytes += 16u + 200000u;
    savefile *sf;
    pcap_t *p = file_open(&fx, false, &sf);
    assert_non_null(sf);
    struct pcap_pkthdr h;
    const uint8_t *d;
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(savefile_next(sf, &h, &d), SAVEFILE_RECORD);
        uint32_t cap = (i * 37u) % 1601u;
        assert_int_equal(h.ts.tv_sec, 1000 + i);
        assert_int_equal(h.caplen, cap);
        assert_int_equal(h.len, cap + 4u);
        assert_data(d, cap, i);
    }
    assert_int_equal(savefile_next(sf, &h, &d), SAVEFILE_RECORD);
    assert_int_equal(h.caplen, 200000u);
    assert_data(d, 200000u, 77);
    assert_int_equal(savefile_next(sf, &h, &d), SAVEFILE_END);
    assert_int_equal(savefile_pos(sf), bytes);
    fixture_end(&fx, p, sf);
}

/* Open a file whose first record the reader hands over and whose second it
 * gives back to libpcap; returns the pcap_t libpcap reads on with. */
static pcap_t *open_to_handover(struct fixture *fx, uint32_t first_caplen, savefile **sf)
{
    pcap_t *p = file_open(fx, false, sf);
    assert_non_null(*sf);
    struct pcap_pkthdr h;
    const uint8_t *d;
    assert_int_equal(savefile_next(*sf, &h, &d), SAVEFILE_RECORD);
    assert_int_equal(h.caplen, first_caplen);
    assert_int_equal(savefile_next(*sf, &h, &d), SAVEFILE_HANDOVER);
    return p;
}

/* A record longer than the snapshot length goes back to libpcap, which reads
 * it (cut to the snapshot length) and the next one from the right place. */
static void test_handover_snapshot(void **state)
{
    (void)state;
    struct fixture fx;
    file_start(&fx, MAGIC_US, 2, 4, 100);
    file_record(&fx, 1u, 1u, 80, 80, 1, 0);
    file_record(&fx, 2u, 2u, 150, 150, 2, 0);
    file_record(&fx, 3u, 3u, 50, 50, 3, 0);
    savefile *sf;
    pcap_t *p = open_to_handover(&fx, 80, &sf);
    struct pcap_pkthdr *ph;
    const u_char *pd;
    assert_int_equal(pcap_next_ex(p, &ph, &pd), 1);
    assert_int_equal(ph->ts.tv_sec, 2);
    assert_int_equal(ph->caplen, 100);                              /* libpcap's cut */
    assert_int_equal(ph->len, 150);
    assert_data(pd, 100, 2);
    assert_int_equal(pcap_next_ex(p, &ph, &pd), 1);
    assert_int_equal(ph->ts.tv_sec, 3);
    assert_data(pd, 50, 3);
    assert_int_equal(pcap_next_ex(p, &ph, &pd), PCAP_ERROR_BREAK);  /* end of file */
    fixture_end(&fx, p, sf);
}

/* A file cut inside its last record: libpcap reads that record and says how
 * much was missing, with its own message. */
static void test_handover_truncated(void **state)
{
    (void)state;
    struct fixture fx;
    file_start(&fx, MAGIC_US, 2, 4, 65535);
    file_record(&fx, 1u, 1u, 60, 60, 1, 0);
    file_record(&fx, 2u, 2u, 60, 60, 2, 50);
    savefile *sf;
    pcap_t *p = open_to_handover(&fx, 60, &sf);
    struct pcap_pkthdr *ph;
    const u_char *pd;
    assert_int_equal(pcap_next_ex(p, &ph, &pd), PCAP_ERROR);
    assert_string_equal(pcap_geterr(p), "truncated dump file; tried to read 60 captured bytes, only got 10");
    fixture_end(&fx, p, sf);

    file_start(&fx, MAGIC_US, 2, 4, 65535);                         /* cut inside a record header */
    file_record(&fx, 1u, 1u, 60, 60, 1, 0);
    assert_int_equal(fwrite("\x01\x02\x03", 3, 1, fx.w), 1);
    p = open_to_handover(&fx, 60, &sf);
    assert_int_equal(pcap_next_ex(p, &ph, &pd), PCAP_ERROR);
    assert_string_equal(pcap_geterr(p), "truncated dump file; tried to read 16 header bytes, only got 3");
    fixture_end(&fx, p, sf);
}

/* Files the reader leaves to libpcap: a filter set, the other byte order,
 * version 2.3, pcapng. */
static void test_not_taken(void **state)
{
    (void)state;
    struct fixture fx;
    savefile *sf;
    pcap_t *p;

    file_start(&fx, MAGIC_US, 2, 4, 65535);
    file_record(&fx, 1u, 1u, 60, 60, 1, 0);
    p = file_open(&fx, true, &sf);
    assert_null(sf);
    fixture_end(&fx, p, sf);

    file_start(&fx, __builtin_bswap32(MAGIC_US), __builtin_bswap16(2), __builtin_bswap16(4),
               __builtin_bswap32(65535));
    assert_int_equal(fflush(fx.w), 0);
    p = file_open(&fx, false, &sf);
    assert_true(pcap_is_swapped(p));
    assert_null(sf);
    fixture_end(&fx, p, sf);

    file_start(&fx, MAGIC_US, 2, 3, 65535);
    file_record(&fx, 1u, 1u, 60, 60, 1, 0);
    p = file_open(&fx, false, &sf);
    assert_null(sf);
    fixture_end(&fx, p, sf);

    /* pcapng: a section header block and an interface description block */
    snprintf(fx.path, sizeof fx.path, "/tmp/test_savefile.XXXXXX");
    int fd = mkstemp(fx.path);
    assert_true(fd >= 0);
    fx.w = fdopen(fd, "wb");
    uint32_t shb[7] = {0x0a0d0d0au, 28, 0x1a2b3c4du, 1, 0xffffffffu, 0xffffffffu, 28};
    uint32_t idb[5] = {1, 20, 1 /* linktype 1, reserved 0 */, 65535, 20};
    assert_int_equal(fwrite(shb, sizeof shb, 1, fx.w), 1);
    assert_int_equal(fwrite(idb, sizeof idb, 1, fx.w), 1);
    p = file_open(&fx, false, &sf);
    assert_null(sf);
    fixture_end(&fx, p, sf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_and_times),
        cmocka_unit_test(test_nanoseconds),
        cmocka_unit_test(test_blocks),
        cmocka_unit_test(test_handover_snapshot),
        cmocka_unit_test(test_handover_truncated),
        cmocka_unit_test(test_not_taken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
