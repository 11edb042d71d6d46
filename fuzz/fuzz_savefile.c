/*
 * fuzz_savefile.c — libFuzzer harness for the block reader of classic pcap
 * files (capture/savefile.c), with libpcap as the oracle.
 *
 * Input: a whole capture file. It is read twice: by libpcap alone
 * (pcap_next_ex over an fmemopen stream: the reference), and as the sensor
 * reads a file (libpcap opens it from a file under /dev/shm, savefile_open takes over, and
 * after a handover libpcap reads on from the FILE). Checked: the same records
 * in the same order (time stamp, captured and wire length, bytes), the same
 * end (end of file, or an error with the same message). Static names are
 * prefixed fsf_.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/savefile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FSF_MAX_RECORDS 100000

static void fsf_same(const struct pcap_pkthdr *a, const u_char *ad, const struct pcap_pkthdr *b,
                     const u_char *bd)
{
    if (a->ts.tv_sec != b->ts.tv_sec || a->ts.tv_usec != b->ts.tv_usec || a->caplen != b->caplen ||
        a->len != b->len || (a->caplen && memcmp(ad, bd, a->caplen) != 0)) {
        fprintf(stderr, "fuzz_savefile: record differs from libpcap's (caplen %u vs %u)\n", a->caplen,
                b->caplen);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char ebuf[PCAP_ERRBUF_SIZE];
    if (size == 0)
        return 0;
    FILE *rf = fmemopen((void *)data, size, "rb");
    if (!rf)
        return 0;
    pcap_t *ref = pcap_fopen_offline_with_tstamp_precision(rf, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    if (!ref) {
        fclose(rf);
        return 0;
    }
    char path[] = "/dev/shm/fuzz_savefile.XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0)
        unlink(path);                  /* gone with the descriptor */
    if (fd < 0 || write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0) {
        if (fd >= 0)
            close(fd);
        pcap_close(ref);
        return 0;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        pcap_close(ref);
        return 0;
    }
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    if (!p) {                          /* the reference opened the same bytes */
        fprintf(stderr, "fuzz_savefile: libpcap opened the stream but not the file: %s\n", ebuf);
        abort();
    }
    savefile *sf = savefile_open(p, false);
    struct pcap_pkthdr *rh;
    const u_char *rd;
    int rr = 1;
    unsigned n = 0;
    for (; sf && n < FSF_MAX_RECORDS; n++) {
        struct pcap_pkthdr h;
        const uint8_t *d;
        enum savefile_next r = savefile_next(sf, &h, &d);
        if (r == SAVEFILE_FAILED)
            abort();                   /* an fseek on a regular file cannot fail here */
        if (r == SAVEFILE_HANDOVER)
            break;
        rr = pcap_next_ex(ref, &rh, &rd);
        if (r == SAVEFILE_END) {
            if (rr != PCAP_ERROR_BREAK) {
                fprintf(stderr, "fuzz_savefile: end of file where libpcap read on (%d)\n", rr);
                abort();
            }
            goto done;
        }
        if (rr != 1) {
            fprintf(stderr, "fuzz_savefile: a record where libpcap has none (%d: %s)\n", rr, pcap_geterr(ref));
            abort();
        }
        fsf_same(&h, d, rh, rd);
    }
    /* libpcap reads the rest (all of it when the reader did not take the file) */
    for (; n < FSF_MAX_RECORDS; n++) {
        struct pcap_pkthdr *h;
        const u_char *d;
        int r = pcap_next_ex(p, &h, &d);
        rr = pcap_next_ex(ref, &rh, &rd);
        if (r != rr) {
            fprintf(stderr, "fuzz_savefile: after the handover %d where libpcap alone gives %d\n", r, rr);
            abort();
        }
        if (r != 1) {
            if (r == PCAP_ERROR && strcmp(pcap_geterr(p), pcap_geterr(ref)) != 0) {
                fprintf(stderr, "fuzz_savefile: \"%s\" where libpcap alone says \"%s\"\n", pcap_geterr(p),
                        pcap_geterr(ref));
                abort();
            }
            break;
        }
        fsf_same(h, d, rh, rd);
    }
done:
    savefile_destroy(sf);
    pcap_close(p);
    pcap_close(ref);
    return 0;
}
