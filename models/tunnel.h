/*
 * tunnel.h — the tunnel types a flow can come through, and their names.
 *
 * The decoder (capture/decode.c) takes packets out of tunnels and tags each
 * record with the innermost tunnel's type; the flow table keys flows by it
 * and the FlowEvent JSON names it. This small header is what those three
 * share, so that models/ depends on no stage (issue 14).
 */
#ifndef TRACER_TUNNEL_H
#define TRACER_TUNNEL_H

#include <stdint.h>

enum tunnel_type {
    TUNNEL_NONE = 0,
    TUNNEL_GRE,        /* GRE carrying IP, Ethernet (0x6558), MPLS, PPP (PPTP); id = key */
    TUNNEL_ERSPAN1,    /* ERSPAN type I (GRE 0x88be without sequence number): no id */
    TUNNEL_ERSPAN2,    /* ERSPAN type II (GRE 0x88be); id = session id */
    TUNNEL_ERSPAN3,    /* ERSPAN type III (GRE 0x22eb); id = session id */
    TUNNEL_VXLAN,      /* UDP 4789; id = VNI */
    TUNNEL_GENEVE,     /* UDP 6081; id = VNI */
    TUNNEL_GTPU,       /* UDP 2152; id = TEID (one per direction) */
    TUNNEL_IPIP,       /* IPv4 in IPv4/IPv6 (protocol 4) */
    TUNNEL_IP6IP,      /* IPv6 in IPv4/IPv6 (protocol 41) */
    TUNNEL_COUNT
};

/* "gre", "erspan_i", "erspan_ii", "erspan_iii", "vxlan", "geneve", "gtpu",
 * "ipip", "ip6ip"; "" for TUNNEL_NONE or an unknown value. Any thread. */
const char *tunnel_type_name(unsigned t);

/* The name of the type's id in events ("gre_key", "session_id", "vni",
 * "teid"), or NULL when the type has none. Any thread. */
const char *tunnel_id_name(unsigned t);

/*
 * The part of a tunnel id that joins the flow key: the id of the tunnels
 * whose id names a segment both directions share (VNI, GRE key, ERSPAN
 * session); 0 for GTP-U (each end picks the TEID it receives on, so the two
 * directions of one conversation carry different TEIDs) and the rest.
 */
static inline uint32_t tunnel_key_id(unsigned t, uint32_t id)
{
    return t == TUNNEL_GTPU ? 0u : id;
}

#endif
