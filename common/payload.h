/*
 * payload.h — what the capture thread shares with the processor so that
 * deep packet inspection sees payload without slowing the flows it is done
 * with.
 *
 * Packet records (capture/decode.h) carry no payload. For TCP and UDP packets
 * with L4 payload whose flow is not known to be done with inspection, the
 * capture thread copies the packet from its IP header on (at most
 * PAYLOAD_DATA_MAX bytes) into a slot of a second SPSC ring, the payload
 * ring, just before it queues the record; the record then carries
 * PKT_F_PAYLOAD and the slot's sequence number.
 *
 * TCP/UDP packets without payload (handshake, ACKs) are copied too, headers
 * only, on the same rule: nDPI's TCP tracking reads them (ndpiReader gives it
 * every packet). What the processor does with a slot depends only on its own
 * state of the flow. One race is left: a flow ending and its 5-tuple coming
 * back while the capture is ahead of the processor may find the old flow's
 * done mark, and its first packets then go uninspected; so the hints are used
 * live only, and a file is replayed without them (every TCP/UDP packet is
 * copied, labels never depend on thread timing).
 *
 * The processor publishes which flows are done in a `payload_done` table:
 * 2^20 relaxed-atomic 32-bit slots indexed by a hash of the canonical flow
 * (both endpoints and the protocol; the same value from either direction),
 * each holding a fingerprint of the done flow that hashed there. The capture
 * thread hashes the flow only for packets with payload and skips the copy
 * when the fingerprint matches. The table is a hint, never a correctness
 * condition: a stale or overwritten slot costs one useless copy (the
 * processor ignores payload of a done flow), and a false "done" needs both
 * 20 index bits and 32 fingerprint bits to collide.
 */
#ifndef TRACER_PAYLOAD_H
#define TRACER_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

/* One payload ring slot: 2 KiB, so a full-size Ethernet packet fits whole. */
#define PAYLOAD_SLOT_SIZE 2048u
#define PAYLOAD_DATA_MAX (PAYLOAD_SLOT_SIZE - 12u)

struct payload_slot {
    uint32_t seq;          /* = pkt_record.payload_seq of the record it belongs to */
    uint16_t l3_len;       /* bytes in data[], from the IP header on */
    uint16_t l4_off;       /* offset of the L4 payload in data[] */
    uint16_t l4_len;       /* L4 payload bytes in data[] (cut to what was captured/copied) */
    uint16_t reserved;
    uint8_t  data[PAYLOAD_DATA_MAX];
};
_Static_assert(sizeof(struct payload_slot) == PAYLOAD_SLOT_SIZE, "payload slot is 2 KiB");

typedef struct payload_done payload_done;

/* Create an empty table (4 MiB). NULL with a message in err when memory is short. Main thread. */
payload_done *payload_done_create(char *err, size_t errlen);

/* NULL-safe; after every thread using it was joined. */
void payload_done_destroy(payload_done *d);

/*
 * Hash of a flow: `a`/`b` are the 16-byte addresses (pkt_record layout) with
 * their ports, in either order (the result is symmetric), `proto` the IP
 * protocol. Any thread, no state but the table's seed.
 */
uint64_t payload_flow_hash(const payload_done *d, const uint8_t *a, uint16_t pa,
                           const uint8_t *b, uint16_t pb, uint8_t proto);

/* Capture thread: whether the flow with hash h is marked done (one relaxed load). */
int payload_done_test(const payload_done *d, uint64_t h);

/* Processor thread (under the flow table's lock): mark the flow with hash h done. */
void payload_done_mark(payload_done *d, uint64_t h);

/* Processor thread: the flow with hash h ended; clear its slot if it still holds it. */
void payload_done_clear(payload_done *d, uint64_t h);

#endif
