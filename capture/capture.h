/*
 * capture.h — the capture stage: libpcap in, pkt_records out.
 *
 * The capture thread owns the pcap_t (live: pcap_create/activate with the
 * configured snap length, promiscuous mode, a 100 ms timeout, a large kernel
 * buffer and the BPF filter; or a pcap/pcapng file), decodes every frame with
 * decode_packet() and pushes only the records, in bursts, into its ring. Live,
 * a full ring drops records (counted by the ring) rather than stalling the
 * kernel; replaying a file, it waits. Undecodable frames are counted by reason.
 */
#ifndef TRACER_CAPTURE_H
#define TRACER_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/ring.h"
#include "decode.h"

struct config;
typedef struct capture capture;

struct capture_stats {
    uint64_t frames;                        /* frames read from libpcap */
    uint64_t records;                       /* decoded records pushed into the ring */
    uint64_t ring_drops;                    /* records lost to a full ring (live) */
    uint64_t decode[DECODE_RESULT_COUNT];   /* frames by decode result (DECODE_OK = decoded) */
    uint64_t kernel_received;               /* pcap_stats ps_recv (live) */
    uint64_t kernel_dropped;                /* ps_drop: dropped by the kernel buffer */
    uint64_t interface_dropped;             /* ps_ifdrop: dropped by the interface/driver */
};

/*
 * Open the source named by cfg (pcap_file if set, else interface) and set the
 * filter. Returns NULL with a message in err when the device cannot be opened
 * (no permission, no such device) or the filter does not compile. Main thread.
 */
capture *capture_create(const struct config *cfg, ring *out, char *err, size_t errlen);

/* NULL-safe; after the capture thread was joined. */
void capture_destroy(capture *c);

/*
 * Thread body: read until the file ends, capture_stop() is called, or a pcap
 * error occurs. Returns 0, or -1 on a pcap error (message logged).
 * capture_finished() is true once it has returned.
 */
int capture_run(capture *c);

/* Any thread: make capture_run return soon. */
void capture_stop(capture *c);

/* Any thread: whether capture_run has finished (acquire). */
bool capture_finished(const capture *c);

/* Any thread: counters (kernel counts refreshed by the capture thread every second and at the end). */
void capture_get_stats(const capture *c, struct capture_stats *out);

/* The libpcap datalink type of the source, and its name. */
int capture_datalink(const capture *c);

#endif
