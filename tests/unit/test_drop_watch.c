/*
 * test_drop_watch.c — drop episodes: one start per spell of drops, an end after
 * DROP_WATCH_QUIET_US without new drops, totals per episode.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/drop_watch.h"
#include "common/log.h"

#define S 1000000u

static void test_episodes(void **state)
{
    (void)state;
    log_set_level(LOG_ERROR);              /* the lines themselves are not under test */
    struct drop_watch w;
    drop_watch_init(&w, "ring full", "ring_drops", 5);   /* drops before start are not an episode */
    drop_watch_update(&w, 5, 1 * S);
    assert_false(w.active);
    drop_watch_update(&w, 9, 2 * S);        /* an episode starts */
    assert_true(w.active);
    assert_int_equal(w.episode_start, 5);
    drop_watch_update(&w, 12, 3 * S);       /* same episode */
    assert_int_equal(w.episode_start, 5);
    assert_int_equal(w.seen, 12);
    drop_watch_update(&w, 12, 3 * S + DROP_WATCH_QUIET_US - 1);
    assert_true(w.active);                  /* not quiet long enough */
    drop_watch_update(&w, 12, 3 * S + DROP_WATCH_QUIET_US);
    assert_false(w.active);                 /* ended: 7 dropped in it */
    drop_watch_update(&w, 13, 20 * S);      /* a new episode */
    assert_true(w.active);
    assert_int_equal(w.episode_start, 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_episodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
