/*
 * sandbox.c — the seccomp allow-list (see sandbox.h for what and why).
 *
 * Built with libseccomp (Debian's libseccomp-dev) rather than raw BPF: it
 * resolves names per architecture, handles the x32 and 32-bit entry points on
 * x86_64 (refused: only the native ABI is allowed) and compiles the argument
 * checks. The list was taken from strace -f of every path the sensor has
 * (file replay, live capture with an interface lost and reopened, HTTP and
 * HTTPS delivery with the spool, SNMP polls and traps, topology netlink and
 * WireGuard, the metrics server, SIGHUP log reopen, shutdown), then widened
 * to each call's harmless siblings (pread/pwrite, the *at forms, epoll_pwait2)
 * so that a library update choosing a sibling does not fail.
 */
#define _GNU_SOURCE 1 /* CLONE_THREAD */
#include "sandbox.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif

/* Allowed without argument checks. */
static const char *const ALLOW[] = {
    /* memory */
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "msync", "mincore",
    /* threads, locks, signals, time */
    "futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq", "set_tid_address",
    "gettid", "getpid", "sched_yield", "sched_getaffinity", "exit", "exit_group", "restart_syscall",
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "rt_sigsuspend", "sigaltstack",
    "nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday", "time",
    /* files and descriptors (log, spool, pcap file, configuration, certificates, /proc, /sys) */
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
    "open", "openat", "openat2", "close", "close_range", "lseek", "fstat", "stat", "lstat", "newfstatat",
    "statx", "fstatfs", "statfs", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
    "getdents64", "getdents", "getcwd", "fcntl", "dup", "dup2", "dup3", "pipe", "pipe2", "fsync", "fdatasync",
    "ftruncate", "rename", "renameat", "renameat2", "unlink", "unlinkat", "link", "linkat", "mkdir",
    "mkdirat", "rmdir", "fchmod", "fchmodat", "fchown", "fchownat", "flock", "fadvise64", "fallocate",
    "umask", "sendfile",
    /* waiting on descriptors */
    "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
    "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "timerfd_create", "timerfd_settime",
    "timerfd_gettime",
    /* sockets (socket and socketpair themselves are checked below) */
    "connect", "bind", "listen", "accept", "accept4", "getsockname", "getpeername", "setsockopt",
    "getsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown",
    /* identity and limits (read only), randomness, capabilities of the own thread, thread names */
    "uname", "getrandom", "getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid", "getresgid",
    "capget", "capset", "prctl", "sysinfo", "getrlimit", "getrusage", "times",
};

#ifdef SANDBOX_SANITIZER
/* LeakSanitizer (at exit) clones a helper task that ptrace-attaches every thread; TSan reports the same way. */
static const char *const ALLOW_SANITIZER[] = {"clone", "ptrace", "wait4", "waitid", "kill", "getppid", "tgkill"};
#endif

/* Socket families the sensor uses: packet capture, netlink, IPv4/IPv6, unix (WireGuard UAPI, nscd). */
static const int FAMILIES[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET};

#define NALLOW (sizeof ALLOW / sizeof ALLOW[0])

static int allow_names(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int nr = seccomp_syscall_resolve_name(names[i]);
        if (nr == __NR_SCMP_ERROR)
            continue;                   /* not on this architecture (e.g. open on aarch64) */
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        if (rc == -EDOM || rc == -EFAULT)
            continue;                   /* a pseudo-syscall this architecture lacks */
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int add_rules(scmp_filter_ctx ctx)
{
    int rc = allow_names(ctx, ALLOW, NALLOW);
#ifdef SANDBOX_SANITIZER
    if (rc == 0)
        rc = allow_names(ctx, ALLOW_SANITIZER, sizeof ALLOW_SANITIZER / sizeof ALLOW_SANITIZER[0]);
#else
    /* Threads only: glibc's pthread_create passes CLONE_THREAD; fork() does not. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0_64(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    /* raise()/abort() signal the own process only. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)getpid()));
#endif
    /* clone3 passes here; the quiet filter (below) answers it with ENOSYS. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone3), 0);
    for (size_t i = 0; rc == 0 && i < sizeof FAMILIES / sizeof FAMILIES[0]; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                              SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)FAMILIES[i]));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1, SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX));
    /* Every ioctl but pushing input into a terminal (TIOCSTI) or the console (TIOCLINUX): below
     * TIOCSTI, above TIOCLINUX, and each request between them (libseccomp compares an argument
     * once per rule). */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1_32(SCMP_CMP_LT, TIOCSTI));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1_32(SCMP_CMP_GT, TIOCLINUX));
    for (uint32_t req = TIOCSTI + 1; rc == 0 && req < TIOCLINUX; req++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1_32(SCMP_CMP_EQ, req));
    /* Limits may be read, not raised. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, SCMP_A2_64(SCMP_CMP_EQ, 0));
    return rc;
}

/*
 * Two filters, because the kernel logs every refusal of a filter loaded with
 * SECCOMP_FILTER_FLAG_LOG: the quiet one only answers clone3 with ENOSYS (its
 * flags live in memory seccomp cannot read; glibc then falls back to clone,
 * whose flags the main filter checks), so that creating a thread (libcurl's
 * resolver does, per lookup) does not write to the kernel log; the main one
 * logs what it refuses. The kernel runs both and takes the stricter answer.
 */
static int load(scmp_filter_ctx ctx, bool all_threads)
{
    int rc = 0;
    if (all_threads)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    return rc == 0 ? seccomp_load(ctx) : rc;
}

static int load_quiet_clone3(bool all_threads)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return -ENOMEM;
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (rc == 0)
        rc = load(ctx, all_threads);
    seccomp_release(ctx);
    return rc;
}

int sandbox_apply(bool all_threads, char *err, size_t errlen)
{
    int rc = load_quiet_clone3(all_threads);
    if (rc != 0) {
        snprintf(err, errlen, "seccomp: cannot load the filter: %s", strerror(-rc));
        return -1;
    }
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx) {
        snprintf(err, errlen, "seccomp: cannot initialise libseccomp");
        return -1;
    }
    rc = add_rules(ctx);
    const char *what = "cannot build the filter";
    if (rc == 0) {
        /* Let the kernel log refused calls (audit type=1326); older kernels lack it: not fatal. */
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
        what = "cannot load the filter";
        rc = load(ctx, all_threads);
    }
    if (rc != 0)
        snprintf(err, errlen, "seccomp: %s: %s", what, strerror(-rc));
    seccomp_release(ctx);
    return rc == 0 ? 0 : -1;
}
