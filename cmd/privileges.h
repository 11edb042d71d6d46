/*
 * privileges.h — give up what the sensor does not need once it is set up.
 *
 * The sensor parses hostile traffic, so it should not do that as root. main
 * opens everything that needs privileges first (the capture, the trap socket,
 * the metrics socket, the spool directory, the log file) and then calls
 * priv_drop() before any thread starts:
 *  - started as root with AGENT_USER other than "root": switch to that user and
 *    its group (no supplementary groups), keeping only CAP_NET_RAW and
 *    CAP_NET_ADMIN, which reopening the capture (interface lost and back),
 *    promiscuous mode and WireGuard's netlink need;
 *  - otherwise (root kept, or a non-root user given capabilities by setcap or
 *    the container runtime): keep only those two capabilities, if held;
 *  - always: empty the capability bounding set of everything else, clear the
 *    ambient and inheritable sets, and set no_new_privs, so no later exec can
 *    gain anything.
 * Capabilities are per thread on Linux, so this must run before threads start.
 */
#ifndef TRACER_PRIVILEGES_H
#define TRACER_PRIVILEGES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct priv_result {
    bool switched;          /* the user changed (started as root) */
    uid_t uid;              /* effective ids afterwards */
    gid_t gid;
    bool net_raw;           /* capabilities kept */
    bool net_admin;
};

/*
 * The uid and gid the sensor will run as after priv_drop(user): `user`'s when
 * started as root with a user other than "root", else the current effective
 * ids. For what must be handed over before the drop (the log file). Returns 0,
 * or -1 with a message in err (unknown user). Main thread only.
 */
int priv_target(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen);

/*
 * Apply the rules above for AGENT_USER `user` ("root" keeps root). Returns 0
 * and fills *res, or -1 with a message in err (unknown user, a failing
 * setuid/setgid/capset: never continue half-dropped). Main thread only.
 */
int priv_drop(const char *user, struct priv_result *res, char *err, size_t errlen);

#endif
