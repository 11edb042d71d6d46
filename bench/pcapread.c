/*
 * pcapread.c — the benchmark's floor: a bare libpcap pcap_next_ex loop that
 * only counts packets and bytes. Nothing that reads the same file through
 * libpcap the same way can be faster, so the sensor is reported as a fraction
 * of this.
 *
 * The sensor opens its file through its own FILE with a larger stdio buffer
 * (capture.c, CAP_FILE_BUF), which reads faster than pcap_open_offline's
 * default 4 KiB one; with -b BYTES the floor does the same, so the bench can
 * also show the floor for that way of reading.
 *
 * Usage: pcapread [-b BYTES] FILE.pcap   (prints "packets bytes")
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    size_t bufsize = 0;
    int a = 1;
    if (argc == 4 && strcmp(argv[1], "-b") == 0) {
        bufsize = strtoul(argv[2], NULL, 10);
        a = 3;
    }
    if (a + 1 != argc) {
        fprintf(stderr, "usage: pcapread [-b BYTES] FILE.pcap\n");
        return 2;
    }
    pcap_t *p;
    char *buf = NULL;
    if (bufsize) {
        FILE *f = fopen(argv[a], "rb");
        if (!f) {
            perror(argv[a]);
            return 1;
        }
        buf = malloc(bufsize);
        if (buf)
            setvbuf(f, buf, _IOFBF, bufsize);
        p = pcap_fopen_offline(f, err);
        if (!p)
            fclose(f);
    } else {
        p = pcap_open_offline(argv[a], err);
    }
    if (!p) {
        fprintf(stderr, "pcapread: %s\n", err);
        return 1;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    uint64_t n = 0, bytes = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        n++;
        bytes += h->len;
    }
    if (rc == PCAP_ERROR)
        fprintf(stderr, "pcapread: %s\n", pcap_geterr(p));
    pcap_close(p);
    free(buf);
    printf("%" PRIu64 " %" PRIu64 "\n", n, bytes);
    return rc == PCAP_ERROR;
}
