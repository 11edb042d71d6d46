/*
 * hostport.c — "HOST:PORT", "[IPV6]:PORT", ":PORT" (see hostport.h).
 */
#include "hostport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool hostport_split(const char *addr, char *host, size_t hostlen, unsigned long *port)
{
    const char *p;
    size_t hl;
    if (addr[0] == '[') {
        const char *close = strstr(addr, "]:");
        if (!close || close == addr + 1)
            return false;
        hl = (size_t)(close - addr - 1);
        if (hl >= hostlen)
            return false;
        memcpy(host, addr + 1, hl);
        p = close + 2;
    } else {
        const char *colon = strrchr(addr, ':');
        if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
            return false;
        hl = (size_t)(colon - addr);
        if (hl >= hostlen)
            return false;
        memcpy(host, addr, hl);
        p = colon + 1;
    }
    host[hl] = '\0';
    if (*p < '0' || *p > '9')
        return false;
    char *end = NULL;
    errno = 0;
    *port = strtoul(p, &end, 10);
    return errno == 0 && end && *end == '\0' && *port <= 65535;
}
