/*
 * test_caps.c — per-thread capabilities (common/caps): a thread names itself
 * and starts with an empty effective set; caps_raise/caps_restore add one
 * capability for one call and take it away again, leave alone one that was
 * already effective, and refuse one that is not permitted.
 *
 * Runs in a forked child holding only CAP_NET_RAW|CAP_NET_ADMIN permitted (as
 * the sensor after its drop), so the runner keeps its own sets. Needs root to
 * hold them; skipped otherwise.
 */
#define _GNU_SOURCE 1
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/caps.h"

#define EXPECT(cond) do { if (!(cond)) _exit(__LINE__ % 200 + 1); } while (0)

/* The calling thread's permitted = {NET_RAW, NET_ADMIN}, effective = both (as priv_drop leaves it). */
static void hold_two(void)
{
    cap_t c = cap_init();
    cap_value_t v[] = {CAP_NET_RAW, CAP_NET_ADMIN};
    EXPECT(c && cap_set_flag(c, CAP_PERMITTED, 2, v, CAP_SET) == 0 &&
           cap_set_flag(c, CAP_EFFECTIVE, 2, v, CAP_SET) == 0 && cap_set_proc(c) == 0);
    cap_free(c);
}

static void *thread_body(void *arg)
{
    (void)arg;
    EXPECT(caps_effective(CAP_NET_RAW));                  /* inherited from the creator */
    EXPECT(caps_thread_init("caps-test-thread-long") == 0);
    char name[32] = "";
    EXPECT(pthread_getname_np(pthread_self(), name, sizeof name) == 0);
    EXPECT(strcmp(name, "caps-test-threa") == 0);         /* the kernel keeps 15 characters */
    EXPECT(!caps_effective(CAP_NET_RAW) && !caps_effective(CAP_NET_ADMIN));
    EXPECT(caps_permitted(CAP_NET_RAW) && caps_permitted(CAP_NET_ADMIN));

    struct caps_saved sv;
    EXPECT(caps_raise(CAP_NET_RAW, &sv) == 0 && sv.raised);
    EXPECT(caps_effective(CAP_NET_RAW) && !caps_effective(CAP_NET_ADMIN));
    caps_restore(&sv);
    EXPECT(!caps_effective(CAP_NET_RAW));

    errno = 0;
    EXPECT(caps_raise(CAP_SYS_ADMIN, &sv) == -1 && errno == EPERM && !sv.raised);
    caps_restore(&sv);                                    /* a no-op */
    EXPECT(!caps_effective(CAP_SYS_ADMIN));
    return NULL;
}

static void child(void)
{
    hold_two();
    pthread_t t;
    EXPECT(pthread_create(&t, NULL, thread_body, NULL) == 0);
    EXPECT(pthread_join(t, NULL) == 0);
    /* caps_raise on one already effective leaves it effective after caps_restore */
    struct caps_saved sv;
    EXPECT(caps_raise(CAP_NET_ADMIN, &sv) == 0 && !sv.raised);
    caps_restore(&sv);
    EXPECT(caps_effective(CAP_NET_ADMIN));
    /* the other thread's calls never touched this one's sets */
    EXPECT(caps_effective(CAP_NET_RAW));
    EXPECT(caps_lower_all() == 0 && !caps_effective(CAP_NET_RAW) && !caps_effective(CAP_NET_ADMIN));
    EXPECT(caps_raise_permitted() == 0 && caps_effective(CAP_NET_RAW) && caps_effective(CAP_NET_ADMIN));
    _exit(0);
}

static void test_raise_and_restore(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        child();
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raise_and_restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
