/*
 * test_sandbox.c — the seccomp allow-list the sensor loads (common/sandbox):
 * what it refuses (execve, exotic socket families, TIOCSTI, signalling
 * another process, raising a limit, fork) and that what the sensor does
 * still works (files, IPv4/unix/netlink sockets, threads, naming a thread).
 *
 * Each case runs in a forked child, which loads the very filter main loads
 * (sandbox_apply) and reports through its exit status: the filter is
 * irreversible and must not reach the test runner. The child ends with
 * _exit, so no sanitizer exit handler runs in it.
 */
#define _GNU_SOURCE 1
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/sandbox.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#else
#define UNDER_SANITIZER 0
#endif

/* Run body() in a child under the filter; returns its exit status (0 = as expected, else a line number). */
static int in_sandbox(int (*body)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[256];
        if (sandbox_apply(false, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            _exit(100);
        }
        _exit(body());
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st))
        return 200 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

#define EXPECT(cond) do { if (!(cond)) return __LINE__ % 100 + 1; } while (0)

static int body_execve(void)
{
    char *const argv[] = {"true", NULL};
    char *const envp[] = {NULL};
    errno = 0;
    int rc = execve("/bin/true", argv, envp);
    EXPECT(rc == -1 && errno == EPERM);
    rc = execve("/bin/sh", argv, envp);
    EXPECT(rc == -1 && errno == EPERM);
    return 0;
}

static void test_execve_refused(void **state)
{
    (void)state;
    assert_int_equal(in_sandbox(body_execve), 0);
}

/* Without the filter the same child really runs /bin/true (so EPERM above is the filter's doing). */
static void test_execve_works_without_filter(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char *const argv[] = {"true", NULL};
        char *const envp[] = {NULL};
        execve("/bin/true", argv, envp);
        _exit(99);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static int body_refusals(void)
{
    errno = 0;
    EXPECT(socket(38 /* AF_ALG */, SOCK_SEQPACKET, 0) == -1 && errno == EPERM);
    errno = 0;
    EXPECT(socket(AF_INET, SOCK_DGRAM, 0) >= 0);                /* allowed family */
    EXPECT(socket(AF_NETLINK, SOCK_RAW, 0) >= 0);
    int sv[2];
    EXPECT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    char c = 'x';
    errno = 0;
    EXPECT(ioctl(sv[0], TIOCSTI, &c) == -1 && errno == EPERM);  /* refused before the tty check */
    int n = -1;
    EXPECT(ioctl(sv[0], FIONREAD, &n) == 0 && n == 0);          /* other requests pass */
    errno = 0;
    EXPECT(UNDER_SANITIZER || (kill(getppid(), 0) == -1 && errno == EPERM));
    struct rlimit rl;
    EXPECT(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    errno = 0;
    EXPECT(setrlimit(RLIMIT_NOFILE, &rl) == -1 && errno == EPERM);
    errno = 0;
    EXPECT(unshare(CLONE_NEWNET) == -1 && errno == EPERM);
    errno = 0;
    EXPECT(chroot("/") == -1 && errno == EPERM);
    if (!UNDER_SANITIZER) {                 /* LeakSanitizer needs a plain clone: allowed there */
        errno = 0;
        pid_t p = fork();
        if (p == 0)
            _exit(0);
        EXPECT(p == -1 && errno == EPERM);
    }
    return 0;
}

static void test_other_refusals(void **state)
{
    (void)state;
    assert_int_equal(in_sandbox(body_refusals), 0);
}

static void *thread_body(void *arg)
{
    pthread_setname_np(pthread_self(), "sandbox-t");
    *(int *)arg = 42;
    return NULL;
}

static int body_allowed(void)
{
    char path[] = "/tmp/test_sandbox_XXXXXX";
    int fd = mkstemp(path);
    EXPECT(fd >= 0);
    EXPECT(write(fd, "abc", 3) == 3 && fsync(fd) == 0);
    char moved[sizeof path + 4];
    snprintf(moved, sizeof moved, "%s.old", path);
    EXPECT(rename(path, moved) == 0 && unlink(moved) == 0);
    close(fd);
    int v = 0;
    pthread_t t;                            /* clone3 -> ENOSYS -> clone with CLONE_THREAD */
    EXPECT(pthread_create(&t, NULL, thread_body, &v) == 0);
    EXPECT(pthread_join(t, NULL) == 0 && v == 42);
    EXPECT(getpid() > 0);
    return 0;
}

static void test_allowed_paths(void **state)
{
    (void)state;
    assert_int_equal(in_sandbox(body_allowed), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_execve_refused),
        cmocka_unit_test(test_execve_works_without_filter),
        cmocka_unit_test(test_other_refusals),
        cmocka_unit_test(test_allowed_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
