/*
 * privileges.c — give up what the sensor does not need (see privileges.h).
 *
 * Uses libcap (Debian's libcap-dev) for the capability sets rather than raw
 * capset(2) structures. Order matters: the bounding set can only shrink while
 * CAP_SETPCAP is still effective (so before the user switch), and
 * PR_SET_KEEPCAPS keeps the permitted set across setresuid() so that the two
 * capabilities we keep survive it (the effective set is emptied by the switch
 * and set again afterwards).
 */
#define _GNU_SOURCE 1 /* setresuid, setresgid */
#include "privileges.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

static const cap_value_t KEEP[] = {CAP_NET_RAW, CAP_NET_ADMIN};
#define NKEEP (sizeof KEEP / sizeof KEEP[0])

static bool kept(cap_value_t c)
{
    for (size_t i = 0; i < NKEEP; i++)
        if (KEEP[i] == c)
            return true;
    return false;
}

/* Whether the calling thread has `c` in its permitted set now. */
static bool permitted(cap_value_t c)
{
    cap_t cur = cap_get_proc();
    cap_flag_value_t v = CAP_CLEAR;
    if (cur) {
        cap_get_flag(cur, c, CAP_PERMITTED, &v);
        cap_free(cur);
    }
    return v == CAP_SET;
}

/* Empty the bounding set but for KEEP (needs CAP_SETPCAP; skipped without it). */
static int shrink_bounding_set(char *err, size_t errlen)
{
    if (!permitted(CAP_SETPCAP))
        return 0;   /* not root: the runtime's bounding set already limits us */
    for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
        if (kept(c) || !CAP_IS_SUPPORTED(c))
            continue;
        if (cap_drop_bound(c) != 0) {
            snprintf(err, errlen, "cannot drop capability %d from the bounding set: %s", (int)c, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int switch_user(const char *user, char *err, size_t errlen)
{
    struct passwd pw, *found = NULL;
    char buf[4096];
    if (getpwnam_r(user, &pw, buf, sizeof buf, &found) != 0 || !found) {
        snprintf(err, errlen, "AGENT_USER=%s: no such user", user);
        return -1;
    }
    if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0 || setgroups(0, NULL) != 0 ||
        setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) != 0 || setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) != 0) {
        snprintf(err, errlen, "AGENT_USER=%s: cannot switch to uid %u gid %u: %s", user, (unsigned)pw.pw_uid,
                 (unsigned)pw.pw_gid, strerror(errno));
        return -1;
    }
    prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
    if (getuid() == 0 || geteuid() == 0) {      /* never continue as root by accident */
        snprintf(err, errlen, "AGENT_USER=%s: still root after the switch", user);
        return -1;
    }
    return 0;
}

/* Permitted = effective = KEEP ∩ what we hold; inheritable and ambient empty. */
static int keep_only(struct priv_result *res, char *err, size_t errlen)
{
    cap_t want = cap_init();
    if (!want) {
        snprintf(err, errlen, "cannot build a capability set: %s", strerror(errno));
        return -1;
    }
    cap_value_t have[NKEEP];
    int n = 0;
    for (size_t i = 0; i < NKEEP; i++)
        if (permitted(KEEP[i]))
            have[n++] = KEEP[i];
    int rc = 0;
    if (n > 0 && (cap_set_flag(want, CAP_PERMITTED, n, have, CAP_SET) != 0 ||
                  cap_set_flag(want, CAP_EFFECTIVE, n, have, CAP_SET) != 0))
        rc = -1;
    if (rc == 0 && cap_set_proc(want) != 0)
        rc = -1;
    if (rc != 0)
        snprintf(err, errlen, "cannot set the capability sets: %s", strerror(errno));
    cap_free(want);
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L);
    for (int i = 0; i < n; i++) {
        res->net_raw |= have[i] == CAP_NET_RAW;
        res->net_admin |= have[i] == CAP_NET_ADMIN;
    }
    return rc;
}

int priv_target(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
    *uid = geteuid();
    *gid = getegid();
    if (*uid != 0 || !user || !*user || strcmp(user, "root") == 0)
        return 0;
    struct passwd pw, *found = NULL;
    char buf[4096];
    if (getpwnam_r(user, &pw, buf, sizeof buf, &found) != 0 || !found) {
        snprintf(err, errlen, "AGENT_USER=%s: no such user", user);
        return -1;
    }
    *uid = pw.pw_uid;
    *gid = pw.pw_gid;
    return 0;
}

int priv_drop(const char *user, struct priv_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    bool as_root = geteuid() == 0;
    bool switch_to = as_root && user && *user && strcmp(user, "root") != 0;
    if (shrink_bounding_set(err, errlen) != 0)
        return -1;
    if (switch_to) {
        if (switch_user(user, err, errlen) != 0)
            return -1;
        res->switched = true;
    }
    if (keep_only(res, err, errlen) != 0)
        return -1;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0) {
        snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
        return -1;
    }
    res->uid = geteuid();
    res->gid = getegid();
    return 0;
}
