/*
 * capture.h — the capture stage: libpcap in, pkt_records out.
 *
 * The capture thread owns the pcap_t (live: pcap_create/activate with the
 * configured snap length, promiscuous mode, a 100 ms timeout, a large kernel
 * buffer and the BPF filter; or a pcap/pcapng file), decodes every frame with
 * decode_packet() and pushes only the records, in bursts, into its ring. Live,
 * a full ring drops records (counted by the ring) rather than stalling the
 * kernel; replaying a file, it waits. Undecodable frames are counted by reason.
 * With an interface list there is one such capture (thread, pcap_t, ring) per
 * interface, and each record says which interface it came in on.
 */
#ifndef TRACER_CAPTURE_H
#define TRACER_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/ring.h"
#include "decode.h"

struct config;
struct ifnames;
typedef struct capture capture;

/* Interfaces one capture stage reads at most (AGENT_INTERFACE list). */
#define CAPTURE_MAX_PORTS 16

struct capture_stats {
    uint64_t frames;                        /* frames read from libpcap */
    uint64_t records;                       /* decoded records pushed into the ring */
    uint64_t ring_drops;                    /* records lost to a full ring (live) */
    uint64_t decode[DECODE_RESULT_COUNT];   /* frames by decode result (DECODE_OK = decoded) */
    uint64_t kernel_received;               /* pcap_stats ps_recv (live) */
    uint64_t kernel_dropped;                /* ps_drop: dropped by the kernel buffer */
    uint64_t interface_dropped;             /* ps_ifdrop: dropped by the interface/driver */
    uint64_t file_truncated;                /* 1 when the pcap file ended inside a record */
    uint64_t interface_lost;                /* live handle failures (interface down or gone) */
    uint64_t reopens;                       /* successful reopens after such a failure */
    /* tunnel (issue 14): records by what the decoder did with a tunnel (AGENT_DECAP) */
    uint64_t tunnel_decapsulated;           /* records of packets taken out of tunnels */
    uint64_t tunnel_capped;                 /* a tunnel beyond DECODE_MAX_TUNNELS left closed */
    uint64_t tunnel_undecoded;              /* a tunnel header or inner packet unusable: outer flow */
    uint64_t tunnel_fragment;               /* a tunnel in an IP fragment left closed: outer flow */
    uint64_t interface_names_full;          /* interfaces left unnamed: the name table was full (issue 14.7) */
    /* dpi (issue 15) */
    uint64_t payload_copied;                /* packets whose payload went to the payload ring */
    uint64_t payload_ring_full;             /* ... that went without (ring full, live) */
    uint64_t payload_done_skips;            /* payload not copied: the flow is done with inspection */
};

/*
 * Open the sources named by cfg (pcap_file if set, else each interface of
 * cfg->interfaces) and set the filter. Source i pushes into outs[i]; nouts
 * must be the number of sources (1 for a file, cfg->interface_count live).
 * Returns NULL with a message in err when a device cannot be opened (no
 * permission, no such device) or the filter does not compile. A live
 * interface that exists but is not up is no error: that is logged once and
 * capture_run waits for it (opening it with backoff, as after a lost
 * interface).
 *
 * Where packets came in (pkt_record.iface, ids of `names`, which may be NULL):
 * with several interfaces every record carries its interface's id; on the
 * "any" device the capture asks for Linux cooked v2 headers and names each
 * record's interface from the header's index (if_indextoname once per new
 * index, cached); otherwise the id is 0 (the capture's own name). `names`
 * must outlive the capture. Main thread.
 */
capture *capture_create(const struct config *cfg, ring *const *outs, size_t nouts, struct ifnames *names,
                        char *err, size_t errlen);

/* NULL-safe; after the capture thread was joined. */
void capture_destroy(capture *c);

/*
 * Thread body: read until the file ends or capture_stop() is called. Live, a
 * failing handle (interface down or removed) is logged, counted and reopened
 * with backoff; it never ends the capture. With several interfaces it starts
 * one more thread per interface beyond the first (each the single producer of
 * its own ring) and joins them before it returns. Returns 0, or -1 when a
 * thread could not be started (logged; the others are stopped).
 * capture_finished() is true once it has returned.
 */
int capture_run(capture *c);

/* Any thread: make capture_run return soon. */
void capture_stop(capture *c);

/* Any thread: whether capture_run has finished (acquire). */
bool capture_finished(const capture *c);

/* Any thread: bytes of the pcap file read so far (updated once per burst; 0 live). */
uint64_t capture_file_pos(const capture *c);

/* Any thread: counters, summed over the interfaces (kernel counts refreshed by the capture
 * threads every second and at the end). */
void capture_get_stats(const capture *c, struct capture_stats *out);

/* Any thread: the libpcap datalink type of the (first) source; -1 while a live
 * interface that was not up at start has not been opened yet. */
int capture_datalink(const capture *c);

/*
 * Link-layer discovery side channel (the topology hook's LLDP/CDP input).
 * When a ring is set, every frame that decode_l2_discovery() recognises is
 * copied, up to CAPTURE_L2_MAX bytes, into one fixed-size slot of it: no
 * allocation, no logging. Live, a full ring drops the frame (counted by the
 * ring and in l2_drops); replaying a file, the capture waits for room, as it
 * does for records. The ring's slot size must be sizeof(struct capture_l2_frame).
 */
#define CAPTURE_L2_MAX 1518u
#define CAPTURE_L2_F_TRUNCATED 0x01u   /* caplen < wire length, or cut to CAPTURE_L2_MAX */

struct capture_l2_frame {
    uint64_t ts_us;                    /* capture time, µs since the epoch */
    uint32_t caplen;                   /* bytes valid in data (<= CAPTURE_L2_MAX) */
    uint32_t wire_len;                 /* original length on the wire */
    struct decode_l2_info info;        /* kind-specific offsets, source MAC, VLAN */
    uint8_t  kind;                     /* enum decode_l2_kind */
    uint8_t  flags;                    /* CAPTURE_L2_F_* */
    uint8_t  data[CAPTURE_L2_MAX];
};

/* Main thread, before capture_run starts; r NULL turns the side channel off. */
void capture_set_l2_ring(capture *c, ring *r);

/*
 * dpi (issue 15): the payload path (common/payload.h). With rings set, TCP
 * and UDP packets with payload whose flow `done` does not mark as done are
 * copied (from the IP header of the packet the record describes: the inner
 * one when a tunnel was opened; at most PAYLOAD_DATA_MAX bytes) into a slot
 * of their port's payload ring before their record is queued, and the record
 * carries the slot's sequence number and the ring's index (payload_ring). A
 * ring has one producer, so each capture port has its own: `payloads[i]`
 * belongs to port i, the port whose packet ring is the i-th given to
 * capture_create (`n` must be the number of ports). Live, a full payload ring
 * sends the record without payload (payload_ring_full); replaying a file,
 * the capture waits. Main thread, before capture_run; payloads NULL turns it
 * off; done NULL copies every TCP/UDP packet (no hints: what a file gives
 * then never depends on how far the capture ran ahead of the processor). The
 * slot size must be PAYLOAD_SLOT_SIZE. Returns 0, or -1 (wrong count or slot
 * size: nothing usable set).
 */
struct payload_done;
int capture_set_payload(capture *c, ring *const *payloads, size_t n, struct payload_done *done);

/* Any thread: LLDP/CDP frames copied, and lost to a full side ring. */
uint64_t capture_l2_frames(const capture *c);
uint64_t capture_l2_drops(const capture *c);

#endif
