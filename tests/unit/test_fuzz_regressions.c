/*
 * test_fuzz_regressions.c — every input kept in fuzz/regressions/<target>/
 * replayed through the fuzz harness of that target, under ASan+UBSan in
 * `make test`.
 *
 * Each crash libFuzzer found was fixed in its module and its input kept
 * (fuzz/README.md). This test makes sure none comes back without waiting for
 * the fuzzer to find it again: it builds the harnesses in, unchanged
 * (each file is included with its LLVMFuzzerTestOneInput renamed), and runs
 * each kept input, plus a few edge inputs (empty, one byte, all 0xff), once.
 * A regression shows up as a sanitizer report or an abort from a harness
 * check. The directory is fuzz/regressions (run from the repository root, as
 * make does) or $TRACER_FUZZ_REGRESSIONS.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#define LLVMFuzzerTestOneInput fuzz_decode_one
#include "fuzz/fuzz_decode.c"
#undef LLVMFuzzerTestOneInput

#define LLVMFuzzerTestOneInput fuzz_l2_one
#include "fuzz/fuzz_l2.c"
#undef LLVMFuzzerTestOneInput

#define LLVMFuzzerTestOneInput fuzz_trap_one
#include "fuzz/fuzz_trap.c"
#undef LLVMFuzzerTestOneInput

#define LLVMFuzzerTestOneInput fuzz_snmp_config_one
#include "fuzz/fuzz_snmp_config.c"
#undef LLVMFuzzerTestOneInput

#define LLVMFuzzerTestOneInput fuzz_config_one
#include "fuzz/fuzz_config.c"
#undef LLVMFuzzerTestOneInput

#define LLVMFuzzerTestOneInput fuzz_wg_one
#include "fuzz/fuzz_wg.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_spool_one
#include "fuzz/fuzz_spool.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_savefile_one
#include "fuzz/fuzz_savefile.c"
#undef LLVMFuzzerTestOneInput

typedef int (*fuzz_entry)(const uint8_t *data, size_t size);

static const char *regressions_dir(void)
{
    const char *d = getenv("TRACER_FUZZ_REGRESSIONS");
    return d && *d ? d : "fuzz/regressions";
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Replays every file of fuzz/regressions/<target>/ through `entry`; returns how many inputs ran. */
static size_t replay(const char *target, fuzz_entry entry)
{
    static const uint8_t edge_ff[64] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t edge_zero[1] = {0};
    assert_int_equal(entry(edge_zero, 0), 0);
    assert_int_equal(entry(edge_zero, 1), 0);
    assert_int_equal(entry(edge_ff, sizeof edge_ff), 0);

    struct stat st;
    const char *root = regressions_dir();
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode))
        fail_msg("%s: not a directory (run from the repository root or set TRACER_FUZZ_REGRESSIONS)", root);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", root, target);
    DIR *d = opendir(dir);
    if (!d)
        return 0;   /* no input kept for this target */
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        size_t len = 0;
        uint8_t *data = read_all(path, &len);
        if (!data)
            fail_msg("%s: cannot read", path);
        print_message("fuzz_%s: %s (%zu bytes)\n", target, e->d_name, len);
        assert_int_equal(entry(data, len), 0);
        free(data);
        n++;
    }
    closedir(d);
    return n;
}

static void test_decode(void **state)
{
    (void)state;
    replay("decode", fuzz_decode_one);
}

static void test_l2(void **state)
{
    (void)state;
    replay("l2", fuzz_l2_one);
}

static void test_trap(void **state)
{
    (void)state;
    replay("trap", fuzz_trap_one);
}

static void test_snmp_config(void **state)
{
    (void)state;
    replay("snmp_config", fuzz_snmp_config_one);
}

static void test_config(void **state)
{
    (void)state;
    replay("config", fuzz_config_one);
}

static void test_wg(void **state)
{
    (void)state;
    assert_true(replay("wg", fuzz_wg_one) >= 1);
}

static void test_spool(void **state)
{
    (void)state;
    replay("spool", fuzz_spool_one);
}

/* Kept: a file cut inside its last record, and a nanosecond file with a record
 * past its 64-byte snap length (both hand over to libpcap). */
static void test_savefile(void **state)
{
    (void)state;
    assert_true(replay("savefile", fuzz_savefile_one) >= 2);
}

/* The trap harness's receiver lives for the process; free it so LeakSanitizer stays quiet. */
static int teardown_trap(void **state)
{
    (void)state;
    if (ft_hook.self)
        ft_hook.ops->destroy(ft_hook.self);
    ft_hook.self = NULL;
    ring_destroy(ft_ring);
    ft_ring = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_l2),
        cmocka_unit_test_teardown(test_trap, teardown_trap),
        cmocka_unit_test(test_snmp_config),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_wg),
        cmocka_unit_test(test_spool),
        cmocka_unit_test(test_savefile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
