/*
 * topology.h — the topology hook: the sensor host's network, and its changes.
 *
 * Every AGENT_TOPOLOGY_INTERVAL seconds (0 = off) the hook emits one
 * `type: "topology"` snapshot (interfaces, addresses, routes, neighbours,
 * WireGuard interfaces and peers, errors), and between snapshots one
 * `type: "topology_change"` event per change as rtnetlink reports it
 * (link_up/down/added/removed, address_*, route_*, neighbor_*), per WireGuard
 * poll (wg_peer_added/removed, wg_handshake_stale) and per LLDP/CDP neighbour
 * announcement seen by the capture (lldp_neighbor, cdp_neighbor). Address
 * changes also bump the host-address generation (common/hostaddr.h) so flow
 * `direction` uses the new set at once.
 *
 * When the sensor replays a file, the hook decodes only the file's LLDP/CDP
 * frames: the host's own tables say nothing about a recorded network.
 */
#ifndef TRACER_TOPOLOGY_H
#define TRACER_TOPOLOGY_H

#include <stddef.h>

#include "../../common/ring.h"
#include "../../common/hostaddr.h"
#include "../hook.h"

struct config;
struct cJSON;

/*
 * hook_create_fn for the topology hook: 0 when topology_interval_s is 0,
 * 1 with *out filled otherwise, -2 when out of memory. Main thread.
 */
int topology_hook_create(const struct config *cfg, struct hook *out, char *err, size_t errlen);

/*
 * The side ring the capture should copy LLDP/CDP frames into
 * (capture_set_l2_ring), when `h` is the topology hook; NULL for any other
 * hook. The ring lives until the hook is destroyed. Main thread.
 */
ring *topology_hook_l2_ring(const struct hook *h);

/*
 * Bump `sig` whenever the host's addresses change, so the sender's direction
 * lookup re-reads them at once; no-op for any other hook. Main thread, before start.
 */
void topology_hook_set_addr_signal(const struct hook *h, hostaddr_signal *sig);

/*
 * One `type: "topology"` snapshot of the host now, without a thread (for
 * `--once topology`): reads the tables over rtnetlink and the WireGuard
 * devices once; what cannot be read is listed in its "errors", as in a
 * periodic snapshot. Returns a new object (caller frees), or NULL with a
 * message when out of memory. Main thread.
 */
struct cJSON *topology_snapshot_once(const struct config *cfg, char *err, size_t errlen);

/* Slots in the LLDP/CDP side ring (each a struct capture_l2_frame, ~1.5 KiB). */
#define TOPOLOGY_L2_RING_SLOTS 256u

#endif
