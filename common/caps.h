/*
 * caps.h — per-thread capabilities: empty while working, raised for one call.
 *
 * Linux keeps the capability sets per thread. After start-up the sensor keeps
 * CAP_NET_RAW and CAP_NET_ADMIN in its *permitted* set only (cmd/privileges),
 * and every thread runs with an *empty effective* set: a thread that parses
 * hostile input (capture decode, trap receiver, SNMP poller, sender, metrics
 * server) cannot use them by accident. The two places that need one raise it
 * around the very call and restore the set afterwards:
 *   - opening a packet socket (pcap_activate: CAP_NET_RAW), at start and when
 *     the capture reopens a lost interface;
 *   - asking the kernel for WireGuard peers over generic netlink (the socket
 *     is opened and used with CAP_NET_ADMIN).
 * Threads are also named here (pthread_setname_np), so that an operator (ps
 * -L, top -H) and the tests can tell them apart in /proc/PID/task/TID/comm.
 *
 * Every function acts on the calling thread only (libcap's cap_set_proc is
 * per thread unless libpsx is linked, which it is not).
 */
#ifndef TRACER_CAPS_H
#define TRACER_CAPS_H

#include <stdbool.h>
#include <sys/capability.h>

/*
 * Start of a thread body: name the calling thread (at most 15 characters are
 * kept) and empty its effective set (the permitted set stays, so that a later
 * caps_raise() works). Returns 0, or -1 with errno when capset failed (the
 * thread then keeps what it inherited, which main has emptied already).
 */
int caps_thread_init(const char *name);

/* Empty the calling thread's effective set. Returns 0 or -1 with errno. */
int caps_lower_all(void);

/* Effective = permitted for the calling thread (main, set-up phase). 0 or -1 with errno. */
int caps_raise_permitted(void);

/* Whether the calling thread has `cap` in its permitted set (so it could raise it). */
bool caps_permitted(cap_value_t cap);

/* Whether the calling thread has `cap` in its effective set now. */
bool caps_effective(cap_value_t cap);

/* What caps_restore() needs to undo one caps_raise(). */
struct caps_saved {
    cap_value_t cap;
    bool raised;        /* caps_raise added it: restore removes it again */
};

/*
 * Add `cap` to the calling thread's effective set, remembering in *sv whether
 * it was there before. Returns 0, or -1 with errno (EPERM: not in the
 * permitted set; the call that needs it will then fail with its own error).
 * Always pair with caps_restore(sv) on the same thread.
 */
int caps_raise(cap_value_t cap, struct caps_saved *sv);

/* Undo caps_raise(): remove the capability if that call added it. */
void caps_restore(const struct caps_saved *sv);

#endif
