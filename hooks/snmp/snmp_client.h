/*
 * snmp_client.h — one SNMP manager session: open, GET, bounded walk.
 *
 * The poller's workers talk to agents through this wrapper around net-snmp's
 * single-session API (snmp_sess_*), which is the API net-snmp documents as
 * safe for threads as long as each session is used by one thread at a time.
 * Requests are sent asynchronously and the reply is awaited in a select()
 * loop that wakes at least every 100 ms to look at a stop flag and a
 * deadline, so stopping the sensor or reaching a walk's time limit never
 * waits for an agent's full timeout. Walks use GETBULK (v2c/v3) or GETNEXT
 * (v1), stop at the end of the subtree and are bounded in rows and time.
 *
 * It also holds snmp_client_lib_init(), the one-time net-snmp initialisation
 * both SNMP hooks rely on.
 */
#ifndef TRACER_SNMP_CLIENT_H
#define TRACER_SNMP_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include "snmp_config.h"
#include "snmp_values.h"

typedef struct snmp_client snmp_client;

enum snmp_client_status {
    SNMPC_OK       = 0,
    SNMPC_TIMEOUT  = -1,   /* no answer within timeout * (retries + 1) */
    SNMPC_AUTH     = -2,   /* v3 report: wrong digest, unknown user, decryption error, ... */
    SNMPC_AGENT    = -3,   /* the agent answered with an error-status */
    SNMPC_STOPPED  = -4,   /* the stop flag was raised */
    SNMPC_LIMIT    = -5,   /* a walk reached max_rows or max_walk_time (what came so far was delivered) */
    SNMPC_FAILURE  = -6,   /* local failure: send error, bad agent behaviour, out of memory */
};

/*
 * Initialise net-snmp once per process: no persistent state files, no
 * configuration files (neither /etc/snmp nor ~/.snmp), no MIB files, library
 * log lines routed to our log at debug level. Must be called from the main
 * thread before any thread that uses net-snmp starts; later calls do nothing.
 * Returns 0.
 */
int snmp_client_lib_init(void);

/*
 * The process-wide lock around net-snmp's message processing (see
 * snmp_client.c for why). Every call into net-snmp that builds, parses or
 * discovers (snmp_sess_open/_read/_timeout/_send/_async_send/_select_info/
 * _close, usm_* on the user list) holds it; never hold it while waiting in
 * select(). Not recursive. Any thread.
 */
void snmp_client_lib_lock(void);
void snmp_client_lib_unlock(void);

/*
 * Start a poll's byte budget: from now on GETs and walks stop with
 * SNMPC_LIMIT ("poll byte limit (N) reached") once the values and names
 * delivered exceed max_bytes (0 = no cap), and snmp_client_budget_hit then
 * returns true. A hostile agent's huge answers thus cannot grow a poll's
 * event without bound. The owning thread.
 */
void snmp_client_budget(snmp_client *c, size_t max_bytes);
bool snmp_client_budget_hit(const snmp_client *c);

/*
 * From now on add 1 to *counter (relaxed) for each variable a GET or walk
 * delivers, so another thread can watch a long walk's progress (the on-demand
 * jobs' GET /v1/snmp/jobs/{ticket}); NULL stops counting. The owning thread.
 */
void snmp_client_count_rows(snmp_client *c, _Atomic uint64_t *counter);

/*
 * Called for each variable a GET or walk delivers; the variable belongs to
 * the client (copy what you keep). Return 0 to go on, -1 to abort (out of
 * memory): the operation then returns SNMPC_FAILURE.
 */
typedef int (*snmp_client_cb)(const netsnmp_variable_list *v, void *arg);

/*
 * Open a session to target `t` (which must outlive the client). `stop` is
 * read (relaxed) while waiting. For v3 this discovers the agent's engine id,
 * which can block for up to timeout * (retries + 1). Returns NULL on failure
 * with a short reason in err ("timeout", "cannot open udp:host:161: ...").
 * Credentials never appear in err. Any thread; the client then belongs to
 * that thread (it may pass to another across a mutex).
 */
snmp_client *snmp_client_open(const struct snmp_target *t, const atomic_bool *stop, char *err, size_t errlen);

/* NULL-safe. The owning thread. */
void snmp_client_close(snmp_client *c);

/*
 * GET the n OIDs (at most SNMP_CFG_MAX_OIDS) in one request and call cb for
 * each varbind of the answer. On v1, an OID the agent reports as noSuchName is
 * dropped from the request, reported to cb as a NULL-typed noSuchObject
 * variable, and the rest is asked again. Returns an snmp_client_status; err
 * gets a short reason ("timeout", "auth failure", "noSuchName", ...).
 */
int snmp_client_get(snmp_client *c, const struct snmp_oid *oids, size_t n, snmp_client_cb cb, void *arg,
                    char *err, size_t errlen);

/*
 * Walk the subtree below `root`, calling cb for each variable in OID order,
 * until the end of the subtree, max_rows variables or max_walk_ms (the
 * target's). *rows gets the number delivered. Returns an snmp_client_status
 * (SNMPC_LIMIT when a bound cut the walk short).
 */
int snmp_client_walk(snmp_client *c, const oid *root, size_t rootlen, snmp_client_cb cb, void *arg,
                     size_t *rows, char *err, size_t errlen);

/* Map net-snmp's SNMPERR_* code of a v3 report / USM failure to a short text ("auth failure", ...). */
const char *snmp_client_usm_error(int snmperr);

/* The net-snmp transport spec for host:port ("udp:h:161", "udp6:[h]:161", "tcp:...").
 * Returns buf, or NULL when it does not fit. */
char *snmp_client_peername(const char *host, uint16_t port, bool tcp, char *buf, size_t buflen);

/* net-snmp's OID (and length) of a configured v3 auth / priv protocol, for
 * building users: the poller's sessions and the trap receiver's users. */
void snmp_client_auth_oid(enum snmp_cfg_auth a, const oid **p, size_t *len);
void snmp_client_priv_oid(enum snmp_cfg_priv pv, const oid **p, size_t *len);

#endif
