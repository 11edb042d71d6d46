/*
 * test_snmp_limiter.c — the SNMP concurrency bound the poller and the API's
 * jobs share: slots are counted, a full limiter makes takers wait until a
 * slot is given back, a deadline or a raised stop flag ends the wait.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hooks/snmp/snmp_limiter.h"

static void test_counts_and_deadline(void **state)
{
    (void)state;
    snmp_limiter *l = snmp_limiter_create(2);
    assert_non_null(l);
    assert_int_equal(snmp_limiter_slots(l), 2);
    assert_true(snmp_limiter_acquire(l, NULL, 0));
    assert_true(snmp_limiter_acquire(l, NULL, 0));
    assert_int_equal(snmp_limiter_in_use(l), 2);
    assert_false(snmp_limiter_acquire(l, NULL, 30));   /* full: the deadline ends the wait */
    snmp_limiter_release(l);
    assert_int_equal(snmp_limiter_in_use(l), 1);
    assert_true(snmp_limiter_acquire(l, NULL, 30));
    snmp_limiter_release(l);
    snmp_limiter_release(l);
    assert_int_equal(snmp_limiter_in_use(l), 0);
    snmp_limiter_release(l);                            /* one too many: stays at 0 */
    assert_int_equal(snmp_limiter_in_use(l), 0);
    snmp_limiter_destroy(l);
    snmp_limiter_destroy(NULL);
    l = snmp_limiter_create(0);                         /* 0 means 1 */
    assert_int_equal(snmp_limiter_slots(l), 1);
    snmp_limiter_destroy(l);
}

static void test_stop_flag(void **state)
{
    (void)state;
    snmp_limiter *l = snmp_limiter_create(1);
    atomic_bool stop;
    atomic_init(&stop, true);
    assert_true(snmp_limiter_acquire(l, &stop, 0));     /* a free slot is taken even when stopping */
    assert_false(snmp_limiter_acquire(l, &stop, 0));    /* full and stopping: no wait at all */
    snmp_limiter_release(l);
    snmp_limiter_destroy(l);
}

struct waiter {
    snmp_limiter *l;
    bool got;
};

static void *take(void *arg)
{
    struct waiter *w = arg;
    w->got = snmp_limiter_acquire(w->l, NULL, 0);   /* waits until the main thread gives a slot back */
    return NULL;
}

static void test_release_wakes_a_waiter(void **state)
{
    (void)state;
    snmp_limiter *l = snmp_limiter_create(1);
    assert_true(snmp_limiter_acquire(l, NULL, 0));
    struct waiter w = {l, false};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, take, &w), 0);
    snmp_limiter_release(l);
    pthread_join(t, NULL);
    assert_true(w.got);
    assert_int_equal(snmp_limiter_in_use(l), 1);
    snmp_limiter_release(l);
    snmp_limiter_destroy(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_and_deadline),
        cmocka_unit_test(test_stop_flag),
        cmocka_unit_test(test_release_wakes_a_waiter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
