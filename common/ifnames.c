/*
 * ifnames.c — the interface-name table (see ifnames.h).
 *
 * Publication: a writer fills entry[count] completely, then stores count + 1
 * with release; a reader's acquire load of count makes every entry below it
 * visible. Entries are never written again, so the name pointer a reader gets
 * stays valid until ifnames_destroy.
 */
#include "common/ifnames.h"

#include <net/if.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ifnames_entry {
    uint32_t ifindex;
    char name[IF_NAMESIZE];
};

struct ifnames {
    pthread_mutex_t lock;                 /* writers only */
    _Atomic uint32_t count;               /* published entries */
    _Atomic uint64_t full;
    struct ifnames_entry e[IFNAMES_MAX];
};

ifnames *ifnames_create(void)
{
    ifnames *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    pthread_mutex_init(&t->lock, NULL);
    atomic_init(&t->count, 0);
    atomic_init(&t->full, 0);
    return t;
}

void ifnames_destroy(ifnames *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* Under the lock: find or append. */
static uint16_t add_locked(ifnames *t, uint32_t ifindex, const char *name)
{
    uint32_t n = atomic_load_explicit(&t->count, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++)
        if (t->e[i].ifindex == ifindex && strncmp(t->e[i].name, name, IF_NAMESIZE) == 0)
            return (uint16_t)(i + 1);
    if (n == IFNAMES_MAX) {
        atomic_fetch_add_explicit(&t->full, 1, memory_order_relaxed);
        return 0;
    }
    t->e[n].ifindex = ifindex;
    snprintf(t->e[n].name, sizeof t->e[n].name, "%s", name);
    atomic_store_explicit(&t->count, n + 1, memory_order_release);   /* publishes e[n] */
    return (uint16_t)(n + 1);
}

uint16_t ifnames_add(ifnames *t, uint32_t ifindex, const char *name)
{
    if (!t || !name || !name[0])
        return 0;
    pthread_mutex_lock(&t->lock);
    uint16_t id = add_locked(t, ifindex, name);
    pthread_mutex_unlock(&t->lock);
    return id;
}

uint16_t ifnames_resolve(ifnames *t, uint32_t ifindex)
{
    if (!t || ifindex == 0)
        return 0;
    char name[IF_NAMESIZE + 16];
    if (!if_indextoname(ifindex, name))
        snprintf(name, sizeof name, "ifindex%u", (unsigned)ifindex);
    return ifnames_add(t, ifindex, name);
}

uint16_t ifnames_find(const ifnames *t, uint32_t ifindex)
{
    if (!t || ifindex == 0)
        return 0;
    uint32_t n = atomic_load_explicit(&((ifnames *)t)->count, memory_order_acquire);
    while (n > 0) {
        if (t->e[n - 1].ifindex == ifindex)
            return (uint16_t)n;
        n--;
    }
    return 0;
}

const char *ifnames_name(const ifnames *t, uint16_t id)
{
    if (!t || id == 0)
        return NULL;
    uint32_t n = atomic_load_explicit(&((ifnames *)t)->count, memory_order_acquire);
    return id <= n ? t->e[id - 1u].name : NULL;
}

uint64_t ifnames_full(const ifnames *t)
{
    return t ? atomic_load_explicit(&((ifnames *)t)->full, memory_order_relaxed) : 0;
}
