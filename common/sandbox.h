/*
 * sandbox.h — the seccomp allow-list the sensor runs under once it is set up.
 *
 * The sensor parses hostile input (packets, traps, SNMP answers, HTTP
 * replies). Should a parser bug ever give an attacker code execution inside
 * it, the kernel should refuse what a sensor never does after start-up:
 * execute programs (execve), trace or read other processes (ptrace,
 * process_vm_*), fork, mount or change namespaces, load kernel code (bpf,
 * modules), reach rare kernel surfaces (io_uring, userfaultfd, keyctl,
 * perf_event_open, exotic socket families), push characters into a terminal
 * (TIOCSTI) or signal other processes. Everything else it needs (files,
 * sockets of the five families it uses, threads, time, memory, capset for the
 * per-thread capability raise, prctl for thread names) is allowed.
 *
 * A call outside the list fails with EPERM (not a kill): a rare path missed
 * here (a library doing something new after an upgrade) then fails like any
 * refused call and is reported by the code around it, instead of killing a
 * sensor that is capturing. The refusal is also logged by the kernel (audit
 * type=1326, in `journalctl -k` / dmesg) so such a path can be found. clone3
 * fails with ENOSYS so that glibc falls back to clone, whose flags the filter
 * can check (threads only). Builds with AddressSanitizer or ThreadSanitizer
 * also allow what their runtimes need at exit (LeakSanitizer stops the world
 * with a ptrace-ing helper task); execve stays refused in every build.
 */
#ifndef TRACER_SANDBOX_H
#define TRACER_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Build the filter and load it. all_threads: every thread of the process gets
 * it (seccomp TSYNC), as main does once every thread runs; otherwise only the
 * calling thread and the threads it creates later. Threads created afterwards
 * inherit it either way. Irreversible. Returns 0, or -1 with a message in err
 * (libseccomp missing the kernel support, a thread with a different filter).
 */
int sandbox_apply(bool all_threads, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
