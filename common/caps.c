/*
 * caps.c — per-thread capabilities (see caps.h).
 *
 * Thin on purpose: libcap (Debian's libcap-dev, already used by
 * cmd/privileges.c) builds the sets; cap_get_proc/cap_set_proc read and write
 * the calling thread's sets with capget/capset. Nothing here is global.
 */
#define _GNU_SOURCE 1 /* pthread_setname_np */
#include "caps.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static bool has(cap_value_t cap, cap_flag_t which)
{
    cap_t cur = cap_get_proc();
    cap_flag_value_t v = CAP_CLEAR;
    if (cur) {
        if (cap_get_flag(cur, cap, which, &v) != 0)
            v = CAP_CLEAR;
        cap_free(cur);
    }
    return v == CAP_SET;
}

bool caps_permitted(cap_value_t cap) { return has(cap, CAP_PERMITTED); }
bool caps_effective(cap_value_t cap) { return has(cap, CAP_EFFECTIVE); }

/* Set or clear `cap` in the effective set (cap < 0: every capability). */
/* When rc is 0, make `cur` the thread's sets; free it either way, keeping errno. */
static int commit_and_free(cap_t cur, int rc)
{
    if (rc == 0)
        rc = cap_set_proc(cur);
    int saved = errno;
    cap_free(cur);
    errno = saved;
    return rc;
}

static int set_effective(cap_value_t cap, cap_flag_value_t v)
{
    cap_t cur = cap_get_proc();
    if (!cur)
        return -1;
    int rc;
    if (cap < 0)
        rc = cap_clear_flag(cur, CAP_EFFECTIVE);
    else
        rc = cap_set_flag(cur, CAP_EFFECTIVE, 1, &cap, v);
    return commit_and_free(cur, rc);
}

int caps_lower_all(void) { return set_effective(-1, CAP_CLEAR); }

int caps_raise_permitted(void)
{
    cap_t cur = cap_get_proc();
    if (!cur)
        return -1;
    int rc = 0;
    for (cap_value_t c = 0; c <= CAP_LAST_CAP && rc == 0; c++) {
        cap_flag_value_t v = CAP_CLEAR;
        if (CAP_IS_SUPPORTED(c) && cap_get_flag(cur, c, CAP_PERMITTED, &v) == 0 && v == CAP_SET)
            rc = cap_set_flag(cur, CAP_EFFECTIVE, 1, &c, CAP_SET);
    }
    return commit_and_free(cur, rc);
}

int caps_thread_init(const char *name)
{
    char n[16];
    snprintf(n, sizeof n, "%s", name);   /* the kernel keeps 15 characters */
    pthread_setname_np(pthread_self(), n);
    return caps_lower_all();
}

int caps_raise(cap_value_t cap, struct caps_saved *sv)
{
    sv->cap = cap;
    sv->raised = false;
    if (caps_effective(cap))
        return 0;
    if (!caps_permitted(cap)) {
        errno = EPERM;
        return -1;
    }
    if (set_effective(cap, CAP_SET) != 0)
        return -1;
    sv->raised = true;
    return 0;
}

void caps_restore(const struct caps_saved *sv)
{
    if (sv->raised) {
        int saved = errno;               /* keep the raised call's errno for its caller */
        set_effective(sv->cap, CAP_CLEAR);
        errno = saved;
    }
}
