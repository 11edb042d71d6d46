/*
 * snmp_client.c — one SNMP manager session over net-snmp's single-session API
 * (see snmp_client.h for the contract).
 *
 * Why our own wait loop instead of snmp_sess_synch_response: the synchronous
 * call blocks for the agent's whole timeout * (retries + 1) and cannot be
 * interrupted, so a dead agent would hold up shutdown and a walk could not be
 * cut at its time limit. Here a request is sent with snmp_sess_async_send and
 * the reply awaited with snmp_sess_select_info + select (at most 100 ms per
 * round) + snmp_sess_read / snmp_sess_timeout, which is what the synchronous
 * call does inside, plus a look at the stop flag and the deadline each round.
 *
 * Global state and threads. net-snmp keeps process-wide state we cannot
 * avoid: its default store, the transport and security-module registries
 * (written only by init_snmp, read-only afterwards), and two tables that
 * change while messages flow: the USM user list (usm_add_user when a v3
 * session discovers its agent's engine, usm_get_user on every v3 message in
 * or out) and the engine boots/time cache (set_enginetime on every
 * authenticated v3 message received; snmpusm.c, lcd_time.c). Debian builds
 * net-snmp without --enable-reentrant (NETSNMP_REENTRANT is undefined in
 * net-snmp-config.h), so snmp_res_lock() is a no-op and neither table nor
 * the request-id counters have a lock of their own. The single-session API
 * (snmp_sess_*) only makes *sessions* independent, and net-snmp's
 * README.thread says so plainly: "no resource locks are applied within the
 * SNMP Library", and the SNMPv3 support "was never checked for
 * multi-threading correctness. It is most likely that it is not thread-safe
 * at this time." (MIB parsing is not thread-safe either; we load none, and
 * init_snmp runs once, before any thread.) The trap thread and
 * up to 64 poller threads process v3 messages at the same time, so every
 * call that builds, parses or discovers (snmp_sess_open, _async_send,
 * _send, _read, _timeout, _select_info, _close) runs under one process-wide
 * mutex, snmp_client_lib_lock(). Waiting (select) happens outside it, so the
 * lock serialises microseconds of BER/USM work, not the waits. The one
 * exception is a v3 open: net-snmp discovers the engine synchronously inside
 * snmp_sess_open (and inside the first send after a failed discovery), so
 * that call holds the lock for up to the target's timeout * (retries + 1);
 * other SNMP work waits meanwhile (datagrams wait in the socket buffer).
 * The pthread_once and this mutex are the only mutable statics of the SNMP
 * hooks: they stand for net-snmp's own process-wide state.
 */
#include "snmp_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "snmp_log.h"

#define SNMPC_TICK_MS 100

/* ---------------------------------------------------------------- library init */

static pthread_once_t snmp_lib_once = PTHREAD_ONCE_INIT;   /* net-snmp's state is process-wide */
static pthread_mutex_t snmp_lib_mu = PTHREAD_MUTEX_INITIALIZER;   /* see the top of this file */

void snmp_client_lib_lock(void)
{
    pthread_mutex_lock(&snmp_lib_mu);
}

void snmp_client_lib_unlock(void)
{
    pthread_mutex_unlock(&snmp_lib_mu);
}

/* net-snmp log lines go to our log at debug level (they can be noisy and are
 * not the user's business at info). They never carry our passwords: keys are
 * built in memory and no configuration line is ever parsed from text. */
static int snmp_log_to_ours(int major, int minor, void *server_arg, void *client_arg)
{
    (void)major;
    (void)minor;
    (void)client_arg;
    const struct snmp_log_message *m = server_arg;
    if (m && m->msg && log_enabled(LOG_DEBUG)) {
        size_t n = strlen(m->msg);
        while (n > 0 && (m->msg[n - 1] == '\n' || m->msg[n - 1] == '\r'))
            n--;
        log_debug("net-snmp: %.*s", (int)n, m->msg);
    }
    return 0;
}

static void snmp_lib_init_once(void)
{
    /* No snmp.conf from /etc/snmp or ~/.snmp, no persistent files under /var/lib/snmp. */
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_LOAD_HOST_FILES, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_NO_TOKEN_WARNINGS, 1);
    /* We print values ourselves from numeric OIDs: no MIB files are needed.
     * An empty directory list keeps init_snmp from reading ~/.snmp/mibs. */
    netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIBDIRS, "");
    /* And an empty module list: without it init_snmp still tries net-snmp's ~30 default modules
     * (NETSNMP_DEFAULT_MIBS) and logs "Cannot find module (...)" for each. The line is what a
     * snmp.conf "mibs :" would say (a list with no entries; mib.c netsnmp_init_mib), handed to
     * the pre-MIB configuration pass that runs even with DONT_READ_CONFIGS. A MIBS variable in
     * the environment still wins, as net-snmp documents. */
    char mibs_none[] = "mibs :";
    netsnmp_config_remember(mibs_none);
    snmp_disable_log();
    netsnmp_register_loghandler(NETSNMP_LOGHANDLER_CALLBACK, SNMP_SYSLOG_DEBUG);
    snmp_register_callback(SNMP_CALLBACK_LIBRARY, SNMP_CALLBACK_LOGGING, snmp_log_to_ours, NULL);
    init_snmp("tracer-sensor");
}

int snmp_client_lib_init(void)
{
    pthread_once(&snmp_lib_once, snmp_lib_init_once);
    return 0;
}

/* ---------------------------------------------------------------- helpers */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

char *snmp_client_peername(const char *host, uint16_t port, bool tcp, char *buf, size_t buflen)
{
    bool v6 = strchr(host, ':') != NULL;
    int n = snprintf(buf, buflen, v6 ? "%s6:[%s]:%u" : "%s:%s:%u", tcp ? "tcp" : "udp", host, (unsigned)port);
    return n < 0 || (size_t)n >= buflen ? NULL : buf;
}

const char *snmp_client_usm_error(int e)
{
    switch (e) {
    case SNMPERR_AUTHENTICATION_FAILURE: case SNMPERR_USM_AUTHENTICATIONFAILURE:
        return "auth failure";
    case SNMPERR_UNKNOWN_USER_NAME: case SNMPERR_USM_UNKNOWNSECURITYNAME: case SNMPERR_BAD_SEC_NAME:
        return "unknown user";
    case SNMPERR_DECRYPTION_ERR: case SNMPERR_USM_DECRYPTIONERROR:
        return "decryption error";
    case SNMPERR_UNSUPPORTED_SEC_LEVEL: case SNMPERR_USM_UNSUPPORTEDSECURITYLEVEL: case SNMPERR_BAD_SEC_LEVEL:
        return "unsupported security level";
    case SNMPERR_NOT_IN_TIME_WINDOW: case SNMPERR_USM_NOTINTIMEWINDOW:
        return "not in time window";
    case SNMPERR_UNKNOWN_ENG_ID: case SNMPERR_USM_UNKNOWNENGINEID:
        return "unknown engine id";
    case SNMPERR_USM_ENCRYPTIONERROR:
        return "encryption error";
    case SNMPERR_TIMEOUT:
        return "timeout";
    default:
        return "security error";
    }
}

/* RFC 3416 error-status names. */
static const char *errstat_name(long s)
{
    static const char *const NAMES[] = {
        "noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr", "noAccess", "wrongType",
        "wrongLength", "wrongEncoding", "wrongValue", "noCreation", "inconsistentValue",
        "resourceUnavailable", "commitFailed", "undoFailed", "authorizationError", "notWritable",
        "inconsistentName"};
    if (s >= 0 && (size_t)s < sizeof NAMES / sizeof NAMES[0])
        return NAMES[s];
    return "error";
}

/* ---------------------------------------------------------------- the session */

struct snmp_client {
    void *sess;                        /* net-snmp single-session handle */
    const struct snmp_target *t;
    const atomic_bool *stop;
    /* The outstanding request; written by the callback (same thread, inside snmp_sess_read). */
    int reqid;
    int stale_reqid;
    size_t bytes, max_bytes;           /* value bytes delivered since snmp_client_budget; 0 = no cap */
    bool byte_limited;                   /* a request given up on (time limit); its late answer is ignored */
    bool done;
    int op;
    netsnmp_pdu *resp;
    _Atomic uint64_t *rows_seen;         /* snmp_client_count_rows; NULL = not counted */
};

static int on_response(int op, netsnmp_session *session, int reqid, netsnmp_pdu *pdu, void *magic)
{
    (void)session;
    snmp_client *c = magic;
    if (op == NETSNMP_CALLBACK_OP_RESEND || op == NETSNMP_CALLBACK_OP_CONNECT)
        return 1;   /* informational: the request is still outstanding */
    /* Not `reqid != c->reqid`: net-snmp may resend a v3 request under a new id (after a report)
     * and then answers the callback with that id. One request is outstanding at a time. */
    if (c->done || (c->stale_reqid && reqid == c->stale_reqid))
        return 1;
    c->done = true;
    c->op = op;
    if ((op == NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE || op == NETSNMP_CALLBACK_OP_SEC_ERROR) && pdu)
        c->resp = snmp_clone_pdu(pdu);   /* NULL when out of memory: treated as a failure */
    return 1;
}

void snmp_client_auth_oid(enum snmp_cfg_auth a, const oid **p, size_t *len)
{
    switch (a) {
    case SNMP_CFG_AUTH_MD5:    *p = usmHMACMD5AuthProtocol; *len = OID_LENGTH(usmHMACMD5AuthProtocol); break;
    case SNMP_CFG_AUTH_SHA224: *p = usmHMAC128SHA224AuthProtocol; *len = OID_LENGTH(usmHMAC128SHA224AuthProtocol); break;
    case SNMP_CFG_AUTH_SHA256: *p = usmHMAC192SHA256AuthProtocol; *len = OID_LENGTH(usmHMAC192SHA256AuthProtocol); break;
    case SNMP_CFG_AUTH_SHA384: *p = usmHMAC256SHA384AuthProtocol; *len = OID_LENGTH(usmHMAC256SHA384AuthProtocol); break;
    case SNMP_CFG_AUTH_SHA512: *p = usmHMAC384SHA512AuthProtocol; *len = OID_LENGTH(usmHMAC384SHA512AuthProtocol); break;
    default:                   *p = usmHMACSHA1AuthProtocol; *len = OID_LENGTH(usmHMACSHA1AuthProtocol); break;
    }
}

void snmp_client_priv_oid(enum snmp_cfg_priv pv, const oid **p, size_t *len)
{
    switch (pv) {
    case SNMP_CFG_PRIV_DES:    *p = usmDESPrivProtocol; *len = OID_LENGTH(usmDESPrivProtocol); break;
    case SNMP_CFG_PRIV_AES192: *p = usmAES192PrivProtocol; *len = OID_LENGTH(usmAES192PrivProtocol); break;
    case SNMP_CFG_PRIV_AES256: *p = usmAES256PrivProtocol; *len = OID_LENGTH(usmAES256PrivProtocol); break;
    default:                   *p = usmAESPrivProtocol; *len = OID_LENGTH(usmAESPrivProtocol); break;
    }
}

/* Fill the v3 part of `s` (keys localised later by the library). Returns 0 or -1. */
static int setup_usm(netsnmp_session *s, const struct snmp_usm *u, const char *context)
{
    const oid *ap, *pp;
    size_t alen, plen;
    s->securityName = u->username;
    s->securityNameLen = strlen(u->username);
    s->contextName = (char *)(context ? context : "");
    s->contextNameLen = strlen(s->contextName);
    s->securityLevel = u->level == SNMP_CFG_AUTHPRIV ? SNMP_SEC_LEVEL_AUTHPRIV
                     : u->level == SNMP_CFG_AUTHNOPRIV ? SNMP_SEC_LEVEL_AUTHNOPRIV : SNMP_SEC_LEVEL_NOAUTH;
    if (u->level == SNMP_CFG_NOAUTH)
        return 0;
    snmp_client_auth_oid(u->auth, &ap, &alen);
    s->securityAuthProto = (oid *)ap;
    s->securityAuthProtoLen = alen;
    s->securityAuthKeyLen = USM_AUTH_KU_LEN;
    if (generate_Ku(ap, (u_int)alen, (const u_char *)u->auth_password, strlen(u->auth_password),
                    s->securityAuthKey, &s->securityAuthKeyLen) != SNMPERR_SUCCESS)
        return -1;
    if (u->level != SNMP_CFG_AUTHPRIV)
        return 0;
    snmp_client_priv_oid(u->priv, &pp, &plen);
    s->securityPrivProto = (oid *)pp;
    s->securityPrivProtoLen = plen;
    s->securityPrivKeyLen = USM_PRIV_KU_LEN;
    if (generate_Ku(ap, (u_int)alen, (const u_char *)u->priv_password, strlen(u->priv_password),
                    s->securityPrivKey, &s->securityPrivKeyLen) != SNMPERR_SUCCESS)
        return -1;
    return 0;
}

snmp_client *snmp_client_open(const struct snmp_target *t, const atomic_bool *stop, char *err, size_t errlen)
{
    char peer[320];
    netsnmp_session s;
    snmp_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->t = t;
    c->stop = stop;
    if (!snmp_client_peername(t->host, t->port, t->tcp, peer, sizeof peer)) {
        snprintf(err, errlen, "host name too long");
        free(c);
        return NULL;
    }
    snmp_sess_init(&s);
    s.peername = peer;
    s.timeout = (long)t->timeout_ms * 1000L;
    s.retries = (int)t->retries;
    switch (t->version) {
    case SNMP_CFG_V1:
        s.version = SNMP_VERSION_1;
        break;
    case SNMP_CFG_V3:
        s.version = SNMP_VERSION_3;
        break;
    default:
        s.version = SNMP_VERSION_2c;
        break;
    }
    if (t->version == SNMP_CFG_V3) {
        if (setup_usm(&s, &t->usm, t->context) != 0) {
            explicit_bzero(&s, sizeof s);
            snprintf(err, errlen, "cannot derive the v3 keys");
            free(c);
            return NULL;
        }
    } else {
        s.community = (u_char *)t->community;
        s.community_len = strlen(t->community);
    }
    snmp_client_lib_lock();
    c->sess = snmp_sess_open(&s);   /* copies everything it needs from s; v3: discovers the engine */
    snmp_client_lib_unlock();
    if (!c->sess) {
        int liberr = s.s_snmp_errno, syserr = s.s_errno;
        if (liberr == SNMPERR_TIMEOUT)
            snprintf(err, errlen, "timeout");
        else if (liberr <= SNMPERR_BAD_SEC_NAME && liberr >= SNMPERR_USM_DECRYPTIONERROR)
            snprintf(err, errlen, "%s", snmp_client_usm_error(liberr));
        else
            snprintf(err, errlen, "cannot open %s: %s%s%s", peer, snmp_api_errstring(liberr),
                     syserr ? ": " : "", syserr ? strerror(syserr) : "");
        explicit_bzero(&s, sizeof s);
        free(c);
        return NULL;
    }
    explicit_bzero(&s, sizeof s);
    return c;
}

void snmp_client_close(snmp_client *c)
{
    if (!c)
        return;
    if (c->sess) {
        snmp_client_lib_lock();
        snmp_sess_close(c->sess);
        snmp_client_lib_unlock();
    }
    if (c->resp)
        snmp_free_pdu(c->resp);
    free(c);
}

void snmp_client_budget(snmp_client *c, size_t max_bytes)
{
    c->bytes = 0;
    c->max_bytes = max_bytes;
    c->byte_limited = false;
}

bool snmp_client_budget_hit(const snmp_client *c)
{
    return c->byte_limited;
}

/* Charge v's bytes (value + name) to the poll's budget. false when the budget is spent. */
static bool charge(snmp_client *c, const netsnmp_variable_list *v)
{
    c->bytes += v->val_len + v->name_length * sizeof(oid);
    if (c->max_bytes && c->bytes > c->max_bytes) {
        c->byte_limited = true;
        return false;
    }
    return true;
}

/* Charge v to the budget, then hand it to cb. SNMPC_OK, or SNMPC_LIMIT /
 * SNMPC_FAILURE with the reason in err (the caller frees the response). */
static int deliver(snmp_client *c, const netsnmp_variable_list *v, snmp_client_cb cb, void *arg,
                   char *err, size_t errlen)
{
    if (!charge(c, v)) {
        snprintf(err, errlen, "poll byte limit (%zu) reached", c->max_bytes);
        return SNMPC_LIMIT;
    }
    if (cb(v, arg) != 0) {
        snprintf(err, errlen, "out of memory");
        return SNMPC_FAILURE;
    }
    if (c->rows_seen)
        atomic_fetch_add_explicit(c->rows_seen, 1, memory_order_relaxed);
    return SNMPC_OK;
}

void snmp_client_count_rows(snmp_client *c, _Atomic uint64_t *counter)
{
    c->rows_seen = counter;
}

/* Send `pdu` (ownership passes) and wait for the answer until `deadline_ms`
 * (0 = none). On SNMPC_OK *resp is the response (caller frees). */
static int request(snmp_client *c, netsnmp_pdu *pdu, uint64_t deadline_ms, netsnmp_pdu **resp,
                   char *err, size_t errlen)
{
    *resp = NULL;
    if (c->resp) {
        snmp_free_pdu(c->resp);
        c->resp = NULL;
    }
    c->done = false;
    c->op = 0;
    c->reqid = 0;
    snmp_client_lib_lock();
    int reqid = snmp_sess_async_send(c->sess, pdu, on_response, c);
    int liberr = 0, syserr = 0;
    char *msg = NULL;
    if (reqid == 0)
        snmp_sess_error(c->sess, &syserr, &liberr, &msg);
    snmp_client_lib_unlock();
    if (reqid == 0) {
        /* A v3 session whose engine discovery failed at open discovers again inside this send
         * (synchronously): an agent that does not answer then fails here with SNMPERR_TIMEOUT,
         * and a refusing one with a USM error. Both mean what they mean for a request. */
        int rc = SNMPC_FAILURE;
        if (liberr == SNMPERR_TIMEOUT) {
            snprintf(err, errlen, "timeout");
            rc = SNMPC_TIMEOUT;
        } else if (liberr <= SNMPERR_BAD_SEC_NAME && liberr >= SNMPERR_USM_DECRYPTIONERROR) {
            snprintf(err, errlen, "%s", snmp_client_usm_error(liberr));
            rc = SNMPC_AUTH;
        } else {
            snprintf(err, errlen, "send failed: %s", msg ? msg : "unknown error");
        }
        free(msg);
        snmp_free_pdu(pdu);
        return rc;
    }
    c->reqid = reqid;
    while (!c->done) {
        if (atomic_load_explicit(c->stop, memory_order_relaxed)) {
            snprintf(err, errlen, "stopped");
            return SNMPC_STOPPED;
        }
        uint64_t now = now_ms();
        if (deadline_ms && now >= deadline_ms) {
            snprintf(err, errlen, "walk time limit reached");
            c->stale_reqid = c->reqid;   /* a late answer to this request is ignored */
            return SNMPC_LIMIT;
        }
        int numfds = 0, block = 1;
        fd_set fds;
        struct timeval tv = {0, 0};
        FD_ZERO(&fds);
        snmp_client_lib_lock();
        snmp_sess_select_info(c->sess, &numfds, &fds, &tv, &block);
        snmp_client_lib_unlock();
        uint64_t wait_ms = SNMPC_TICK_MS;
        if (!block) {
            uint64_t lib = (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
            if (lib < wait_ms)
                wait_ms = lib;
        }
        if (deadline_ms && deadline_ms - now < wait_ms)
            wait_ms = deadline_ms - now;
        tv.tv_sec = (time_t)(wait_ms / 1000u);
        tv.tv_usec = (suseconds_t)((wait_ms % 1000u) * 1000u);
        int n = select(numfds, &fds, NULL, NULL, &tv);
        if (n > 0) {
            snmp_client_lib_lock();
            snmp_sess_read(c->sess, &fds);   /* on_response runs in here */
            snmp_client_lib_unlock();
        } else if (n == 0) {
            snmp_client_lib_lock();
            snmp_sess_timeout(c->sess);   /* retransmits or reports the timeout when due */
            snmp_client_lib_unlock();
        } else if (errno != EINTR) {
            snprintf(err, errlen, "select: %s", strerror(errno));
            return SNMPC_FAILURE;
        }
    }
    switch (c->op) {
    case NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE:
        break;
    case NETSNMP_CALLBACK_OP_TIMED_OUT:
        snprintf(err, errlen, "timeout");
        return SNMPC_TIMEOUT;
    case NETSNMP_CALLBACK_OP_SEC_ERROR:
        /* A v3 report (wrong digest, unknown user, ...) that net-snmp turned into an error. */
        snprintf(err, errlen, "%s", c->resp ? snmp_client_usm_error(snmpv3_get_report_type(c->resp))
                                            : "auth failure");
        return SNMPC_AUTH;
    default: {
        snmp_client_lib_lock();
        netsnmp_session *ss = snmp_sess_session(c->sess);
        int e = ss ? ss->s_snmp_errno : 0;
        snmp_client_lib_unlock();
        if (e == SNMPERR_TIMEOUT) {
            snprintf(err, errlen, "timeout");
            return SNMPC_TIMEOUT;
        }
        if (e <= SNMPERR_BAD_SEC_NAME && e >= SNMPERR_USM_DECRYPTIONERROR) {
            snprintf(err, errlen, "%s", snmp_client_usm_error(e));
            return SNMPC_AUTH;
        }
        snprintf(err, errlen, "%s", e ? snmp_api_errstring(e) : "send failed");
        return SNMPC_FAILURE;
    }
    }
    if (!c->resp) {
        snprintf(err, errlen, "out of memory");
        return SNMPC_FAILURE;
    }
    if (c->resp->command == SNMP_MSG_REPORT) {
        snprintf(err, errlen, "%s", snmp_client_usm_error(snmpv3_get_report_type(c->resp)));
        return SNMPC_AUTH;
    }
    *resp = c->resp;
    c->resp = NULL;
    return SNMPC_OK;
}

int snmp_client_get(snmp_client *c, const struct snmp_oid *oids, size_t n, snmp_client_cb cb, void *arg,
                    char *err, size_t errlen)
{
    bool dropped[SNMP_CFG_MAX_OIDS] = {false};
    if (n > SNMP_CFG_MAX_OIDS)
        n = SNMP_CFG_MAX_OIDS;
    for (size_t attempt = 0; attempt <= n; attempt++) {
        netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
        size_t map[SNMP_CFG_MAX_OIDS], asked = 0;
        if (!pdu) {
            snprintf(err, errlen, "out of memory");
            return SNMPC_FAILURE;
        }
        for (size_t i = 0; i < n; i++) {
            if (dropped[i])
                continue;
            if (!snmp_add_null_var(pdu, oids[i].ids, oids[i].len)) {
                snmp_free_pdu(pdu);
                snprintf(err, errlen, "out of memory");
                return SNMPC_FAILURE;
            }
            map[asked++] = i;
        }
        if (asked == 0) {
            snmp_free_pdu(pdu);
            break;
        }
        netsnmp_pdu *resp;
        int rc = request(c, pdu, 0, &resp, err, errlen);
        if (rc != SNMPC_OK)
            return rc;
        if (resp->errstat == SNMP_ERR_NOSUCHNAME && c->t->version == SNMP_CFG_V1 && resp->errindex >= 1 &&
            (size_t)resp->errindex <= asked) {
            /* v1 has no per-varbind exceptions: drop the culprit and ask again. */
            size_t bad = map[resp->errindex - 1];
            dropped[bad] = true;
            snmp_free_pdu(resp);
            netsnmp_variable_list v;
            memset(&v, 0, sizeof v);
            memcpy(v.name_loc, oids[bad].ids, oids[bad].len * sizeof(oid));
            v.name = v.name_loc;
            v.name_length = oids[bad].len;
            v.type = SNMP_NOSUCHOBJECT;
            if (cb(&v, arg) != 0) {
                snprintf(err, errlen, "out of memory");
                return SNMPC_FAILURE;
            }
            continue;
        }
        if (resp->errstat != SNMP_ERR_NOERROR) {
            snprintf(err, errlen, "%s", errstat_name(resp->errstat));
            snmp_free_pdu(resp);
            return SNMPC_AGENT;
        }
        for (netsnmp_variable_list *v = resp->variables; v; v = v->next_variable) {
            int drc = deliver(c, v, cb, arg, err, errlen);
            if (drc != SNMPC_OK) {
                snmp_free_pdu(resp);
                return drc;
            }
        }
        snmp_free_pdu(resp);
        break;
    }
    return SNMPC_OK;
}

int snmp_client_walk(snmp_client *c, const oid *root, size_t rootlen, snmp_client_cb cb, void *arg,
                     size_t *rows, char *err, size_t errlen)
{
    oid cur[MAX_OID_LEN];
    size_t curlen = rootlen;
    const struct snmp_target *t = c->t;
    uint64_t deadline = now_ms() + t->max_walk_ms;
    *rows = 0;
    if (rootlen == 0 || rootlen > MAX_OID_LEN) {
        snprintf(err, errlen, "bad walk root");
        return SNMPC_FAILURE;
    }
    memcpy(cur, root, rootlen * sizeof(oid));
    for (;;) {
        bool bulk = t->version != SNMP_CFG_V1;
        netsnmp_pdu *pdu = snmp_pdu_create(bulk ? SNMP_MSG_GETBULK : SNMP_MSG_GETNEXT);
        if (!pdu) {
            snprintf(err, errlen, "out of memory");
            return SNMPC_FAILURE;
        }
        if (bulk) {
            size_t left = t->max_rows - *rows;
            pdu->non_repeaters = 0;
            pdu->max_repetitions = (long)(left < t->max_repetitions ? left : t->max_repetitions);
        }
        if (!snmp_add_null_var(pdu, cur, curlen)) {
            snmp_free_pdu(pdu);
            snprintf(err, errlen, "out of memory");
            return SNMPC_FAILURE;
        }
        netsnmp_pdu *resp;
        int rc = request(c, pdu, deadline, &resp, err, errlen);
        if (rc != SNMPC_OK)
            return rc;
        if (resp->errstat != SNMP_ERR_NOERROR) {
            long es = resp->errstat;
            snmp_free_pdu(resp);
            if (es == SNMP_ERR_NOSUCHNAME && !bulk)
                return SNMPC_OK;   /* v1: the end of the MIB view */
            snprintf(err, errlen, "%s", errstat_name(es));
            return SNMPC_AGENT;
        }
        bool end = resp->variables == NULL;
        for (netsnmp_variable_list *v = resp->variables; v && !end; v = v->next_variable) {
            if (v->type == SNMP_ENDOFMIBVIEW || !snmp_oid_below(root, rootlen, v->name, v->name_length)) {
                end = true;
                break;
            }
            if (snmp_oid_compare(v->name, v->name_length, cur, curlen) <= 0) {
                snmp_free_pdu(resp);
                snprintf(err, errlen, "agent returned OIDs out of order");
                return SNMPC_FAILURE;
            }
            int drc = deliver(c, v, cb, arg, err, errlen);
            if (drc != SNMPC_OK) {
                snmp_free_pdu(resp);
                return drc;
            }
            memcpy(cur, v->name, v->name_length * sizeof(oid));
            curlen = v->name_length;
            if (++*rows >= t->max_rows) {
                snmp_free_pdu(resp);
                snprintf(err, errlen, "walk row limit (%u) reached", t->max_rows);
                return SNMPC_LIMIT;
            }
        }
        snmp_free_pdu(resp);
        if (end)
            return SNMPC_OK;
    }
}
