/*
 * savefile.c — classic pcap records read in blocks (see savefile.h).
 *
 * The block buffer holds whole records; the caller gets pointers into it.
 * When the next record is not complete in the buffer, its start is moved to
 * the front and the rest of the block filled with one pread at the file
 * offset we keep ourselves (the FILE's own position and stdio buffer are left
 * alone until a handover, which fseeks the FILE to the record libpcap is to
 * read next). Every length comes from the file and is checked before use.
 */
#include "savefile.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SF_FILE_HDR 24u          /* classic pcap file header */
#define SF_REC_HDR 16u           /* record header: seconds, fraction, caplen, len */
#define SF_MAGIC_US 0xa1b2c3d4u  /* in this machine's byte order: not swapped */
#define SF_MAGIC_NS 0xa1b23c4du

struct savefile {
    FILE *f;
    int fd;
    uint8_t *buf;              /* SAVEFILE_BLOCK bytes */
    size_t len;                /* bytes in buf */
    size_t pos;                /* offset in buf of the next record */
    uint64_t buf_off;          /* file offset of buf[0] */
    uint32_t snapshot;         /* libpcap's snapshot length for the file */
    int scale;                 /* fraction: 0 as stored, -1 ns -> us (/1000), 1 us -> ns (*1000) */
    bool eof;                  /* pread said end of file */
};

savefile *savefile_open(pcap_t *p, bool filtered)
{
    FILE *f = pcap_file(p);
    if (filtered || !f || pcap_is_swapped(p) || pcap_major_version(p) != 2 || pcap_minor_version(p) != 4)
        return NULL;
    int fd = fileno(f);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL;
    /* libpcap has read the file header and nothing else (pcapng reads more). */
    if (ftell(f) != (long)SF_FILE_HDR || pcap_snapshot(p) <= 0)
        return NULL;
    uint32_t magic;
    if (pread(fd, &magic, sizeof magic, 0) != (ssize_t)sizeof magic ||
        (magic != SF_MAGIC_US && magic != SF_MAGIC_NS))
        return NULL;
    bool file_ns = magic == SF_MAGIC_NS;
    bool want_ns = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;

    savefile *sf = calloc(1, sizeof *sf);
    if (!sf)
        return NULL;
    sf->buf = malloc(SAVEFILE_BLOCK);
    if (!sf->buf) {
        free(sf);
        return NULL;
    }
    sf->f = f;
    sf->fd = fd;
    sf->buf_off = SF_FILE_HDR;
    sf->snapshot = (uint32_t)pcap_snapshot(p);
    sf->scale = file_ns == want_ns ? 0 : file_ns ? -1 : 1;
    return sf;
}

void savefile_destroy(savefile *sf)
{
    if (!sf)
        return;
    free(sf->buf);
    free(sf);
}

uint64_t savefile_pos(const savefile *sf) { return sf->buf_off + sf->pos; }

/* Move the unread bytes to the front and read more after them. False on a
 * read error; sets eof when the file has no more. */
static bool refill(savefile *sf)
{
    size_t keep = sf->len - sf->pos;
    if (sf->pos > 0) {
        memmove(sf->buf, sf->buf + sf->pos, keep);
        sf->buf_off += sf->pos;
        sf->pos = 0;
        sf->len = keep;
    }
    ssize_t n;
    do
        n = pread(sf->fd, sf->buf + sf->len, SAVEFILE_BLOCK - sf->len, (off_t)(sf->buf_off + sf->len));
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return false;
    if (n == 0)
        sf->eof = true;
    sf->len += (size_t)n;
    return true;
}

/* Position the FILE at the next record for libpcap. */
static enum savefile_next handover(savefile *sf)
{
    uint64_t at = savefile_pos(sf);
    if (at > (uint64_t)LONG_MAX || fseek(sf->f, (long)at, SEEK_SET) != 0)
        return SAVEFILE_FAILED;
    return SAVEFILE_HANDOVER;
}

static inline uint32_t ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

enum savefile_next savefile_next(savefile *sf, struct pcap_pkthdr *h, const uint8_t **data)
{
    for (;;) {
        size_t avail = sf->len - sf->pos;
        if (avail >= SF_REC_HDR) {
            const uint8_t *r = sf->buf + sf->pos;
            uint32_t caplen = ld32(r + 8);
            /* Longer than the snapshot length: libpcap cuts it there or calls
             * the file damaged; longer than a block: it grows its buffer. */
            if (caplen > sf->snapshot || caplen > SAVEFILE_BLOCK - SF_REC_HDR)
                return handover(sf);
            if (avail - SF_REC_HDR >= caplen) {
                /* As libpcap: both time fields are signed 32-bit in the file. */
                h->ts.tv_sec = (time_t)(int32_t)ld32(r);
                long frac = (long)(int32_t)ld32(r + 4);
                h->ts.tv_usec = sf->scale < 0 ? frac / 1000 : sf->scale > 0 ? frac * 1000 : frac;
                h->caplen = caplen;
                h->len = ld32(r + 12);
                *data = r + SF_REC_HDR;
                sf->pos += SF_REC_HDR + caplen;
                return SAVEFILE_RECORD;
            }
        } else if (avail == 0 && sf->eof) {
            return SAVEFILE_END;
        }
        /* The record is not all here: read more. At the end of the file a
         * partial record is libpcap's to report ("truncated dump file"), as
         * is a read error, which it meets again. */
        if (sf->eof || !refill(sf))
            return handover(sf);
    }
}
