/*
 * tunnel.c — names of the tunnel types (see tunnel.h).
 */
#include "tunnel.h"

#include <stddef.h>

const char *tunnel_type_name(unsigned t)
{
    static const char *const names[TUNNEL_COUNT] = {
        [TUNNEL_NONE] = "", [TUNNEL_GRE] = "gre", [TUNNEL_ERSPAN1] = "erspan_i",
        [TUNNEL_ERSPAN2] = "erspan_ii", [TUNNEL_ERSPAN3] = "erspan_iii",
        [TUNNEL_VXLAN] = "vxlan", [TUNNEL_GENEVE] = "geneve", [TUNNEL_GTPU] = "gtpu",
        [TUNNEL_IPIP] = "ipip", [TUNNEL_IP6IP] = "ip6ip",
    };
    return t < TUNNEL_COUNT ? names[t] : "";
}

const char *tunnel_id_name(unsigned t)
{
    switch (t) {
    case TUNNEL_GRE:     return "gre_key";
    case TUNNEL_ERSPAN2:
    case TUNNEL_ERSPAN3: return "session_id";
    case TUNNEL_VXLAN:
    case TUNNEL_GENEVE:  return "vni";
    case TUNNEL_GTPU:    return "teid";
    default:             return NULL;
    }
}
