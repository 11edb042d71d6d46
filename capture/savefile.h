/*
 * savefile.h — the records of a classic pcap file, read in large blocks and
 * handed over in place.
 *
 * Replaying a file, libpcap reads every record with two freads: the kernel
 * copies the file into the stdio buffer and libpcap copies each record out of
 * it again, with a call chain per record (about a third of the capture
 * thread on the bench trace). This reader takes over from libpcap after it
 * has opened the file and checked its header, when the file is one it can
 * read exactly as libpcap would: a regular file in classic pcap format
 * (microsecond or nanosecond magic) in this machine's byte order, version
 * 2.4, read without a BPF filter. It reads blocks with pread and points the
 * caller into them; a record it cannot hand over as libpcap would (longer
 * than the snapshot length, cut off by the end of the file, a read error) is
 * given back: the FILE is positioned at that record and libpcap reads the
 * rest, with its own checks and messages. pcapng files, byte-swapped files,
 * older versions and standard input always stay with libpcap.
 */
#ifndef TRACER_SAVEFILE_H
#define TRACER_SAVEFILE_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct savefile savefile;

/* Block buffer size: holds any record up to libpcap's largest usual
 * snapshot length (262,144 bytes) with its header, and stays in L2. */
#define SAVEFILE_BLOCK (512u * 1024u)

enum savefile_next {
    SAVEFILE_RECORD = 1,   /* *h and *data set; data valid until the next call */
    SAVEFILE_END = 0,      /* end of file after a whole record */
    SAVEFILE_HANDOVER = -1,/* libpcap reads on from here (the FILE is positioned at the
                              record to read next); the reader is spent */
    SAVEFILE_FAILED = -2   /* the FILE could not be positioned there: nothing more can be read */
};

/*
 * Take over reading p's records (p opened by pcap_fopen_offline*, nothing
 * read yet but the file header), unless `filtered` (a BPF filter is set:
 * libpcap applies it) or the file does not qualify (see above). Returns NULL
 * then, or without memory: libpcap keeps reading, nothing changed.
 */
savefile *savefile_open(pcap_t *p, bool filtered);
void savefile_destroy(savefile *sf);

/* The next record, with the time stamp and lengths libpcap would give. */
enum savefile_next savefile_next(savefile *sf, struct pcap_pkthdr *h, const uint8_t **data);

/* Bytes of the file read up to the end of the last record handed over. */
uint64_t savefile_pos(const savefile *sf);

#endif
