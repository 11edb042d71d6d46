/*
 * test_growbuf.c — the growth step of the sender's and the Kafka output's byte buffers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/growbuf.h"

/* From empty: `first`, then doubling, the last step clamped to max; past max refused, buffer kept. */
static void test_growth(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t cap = 0, len = 0;
    assert_int_equal(growbuf_reserve(&buf, &cap, len, 10, 64, 1000), 0);
    assert_int_equal(cap, 64);
    memset(buf, 'x', 64);
    len = 60;
    assert_int_equal(growbuf_reserve(&buf, &cap, len, 4, 64, 1000), 0);   /* fits: unchanged */
    assert_int_equal(cap, 64);
    assert_int_equal(growbuf_reserve(&buf, &cap, len, 100, 64, 1000), 0); /* 64 -> 128 -> 256 */
    assert_int_equal(cap, 256);
    assert_int_equal(buf[59], 'x');
    assert_int_equal(growbuf_reserve(&buf, &cap, len, 900, 64, 1000), 0); /* 256 -> 512 -> 1000 */
    assert_int_equal(cap, 1000);
    char *keep = buf;
    assert_int_equal(growbuf_reserve(&buf, &cap, len, 941, 64, 1000), -1);
    assert_ptr_equal(buf, keep);
    assert_int_equal(cap, 1000);
    assert_int_equal(growbuf_reserve(&buf, &cap, len, 940, 64, 1000), 0);
    free(buf);
}

/* A buffer created with a capacity grows from it, not from `first`. */
static void test_from_cap(void **state)
{
    (void)state;
    size_t cap = 48;
    char *buf = malloc(cap);
    assert_non_null(buf);
    assert_int_equal(growbuf_reserve(&buf, &cap, 40, 9, 4096, (size_t)1 << 30), 0);
    assert_int_equal(cap, 96);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_from_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
