/*
 * topology_wg.h — WireGuard interfaces and peers, from the kernel module
 * (generic netlink family "wireguard") or a userspace implementation such as
 * wireguard-go (the UAPI socket /var/run/wireguard/IFNAME.sock, "get=1").
 *
 * Sensors often sit on WireGuard meshes; which peers an interface has, where
 * they are and when they last completed a handshake is the part of the
 * topology that rtnetlink does not tell. Private and preshared keys are never
 * kept: the UAPI answer's private key is used once to derive the interface's
 * public key (X25519, OpenSSL) and wiped; the kernel's is skipped unread.
 * Prefix: twg_. One thread (the topology hook's).
 */
#ifndef TRACER_TOPOLOGY_WG_H
#define TRACER_TOPOLOGY_WG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct mnl_socket;

#define TWG_KEY_LEN 32
#define TWG_UAPI_DIR "/var/run/wireguard"

struct twg_peer {
    uint8_t public_key[TWG_KEY_LEN];
    char endpoint[64];             /* "ip:port" / "[ip6]:port"; "" = none */
    char (*allowed_ips)[52];       /* "prefix/len" each; heap, n_allowed entries */
    size_t n_allowed;
    int64_t last_handshake_s;      /* Unix seconds, 0 = never */
    int64_t last_handshake_ns;
    uint64_t rx_bytes, tx_bytes;
    uint16_t keepalive_s;          /* persistent keepalive interval, 0 = off */
    /* carried between polls by twg_diff: */
    int64_t first_seen_s;
    bool stale_reported;
};

struct twg_dev {
    char ifname[16];
    bool kernel;                   /* true: generic netlink, false: UAPI socket */
    bool has_public_key;
    uint8_t public_key[TWG_KEY_LEN];
    uint16_t listen_port;
    uint32_t fwmark;
    struct twg_peer *peers;
    size_t n_peers;
};

/* Free what a device holds (peers, allowed IPs) and zero it. NULL-safe. */
void twg_dev_clear(struct twg_dev *d);

/* Whether IFNAME has a UAPI socket in `dir` (TWG_UAPI_DIR). */
bool twg_uapi_present(const char *dir, const char *ifname);

/*
 * Ask a userspace implementation over its UAPI socket (dir/IFNAME.sock).
 * Fills *out (cleared first). Returns 0, or -1 with a message in err
 * (socket missing or refused, timeout after 1 s, malformed answer, errno=N).
 */
int twg_get_uapi(const char *dir, const char *ifname, struct twg_dev *out, char *err, size_t errlen);

/*
 * Parse a UAPI "get" answer (text up to and including the blank line).
 * Exposed for tests. Returns 0 or -1 with a message.
 */
int twg_parse_uapi(const char *text, size_t len, struct twg_dev *out, char *err, size_t errlen);

/*
 * Ask the kernel module over generic netlink (WG_CMD_GET_DEVICE, dump, peers
 * coalesced over messages). `nl` is an open NETLINK_GENERIC libmnl socket;
 * *family_id caches the resolved family (0 = resolve now). Returns 0, or -1
 * with a message (the family is absent when the module is not loaded).
 */
int twg_get_genl(struct mnl_socket *nl, uint16_t *family_id, uint32_t seq, const char *ifname,
                 void *buf, size_t bufsize, struct twg_dev *out, char *err, size_t errlen);

/* Standard base64 of a 32-byte key (44 chars + NUL), as `wg` prints it. */
void twg_key_b64(const uint8_t key[TWG_KEY_LEN], char out[45]);

/* JSON: the interface with its peers, and one peer (new objects; NULL on OOM). */
struct cJSON *twg_dev_json(const struct twg_dev *d);
struct cJSON *twg_peer_json(const struct twg_peer *p);

/*
 * Changes between two polls of one interface. prev NULL: the interface is new
 * (initial = true at start: its peers are not "added"); cur NULL: it is gone
 * (every peer "removed"). Emits "wg_peer_added", "wg_peer_removed" and
 * "wg_handshake_stale" (no handshake for TWG_STALE_S seconds, counted from the
 * peer's first sighting when it never had one; once per stale period) through
 * cb, and carries first_seen_s / stale_reported over into cur. now_s: Unix time.
 */
#define TWG_STALE_S 180
typedef void (*twg_change_fn)(void *ctx, const char *change, const char *ifname, const struct twg_peer *p);
void twg_diff(const struct twg_dev *prev, struct twg_dev *cur, int64_t now_s, bool initial,
              twg_change_fn cb, void *ctx);

#endif
