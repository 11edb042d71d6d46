/*
 * pcapread.c — the benchmark's floor: a bare libpcap pcap_next_ex loop that
 * only counts packets and bytes. Nothing that reads the same file through
 * libpcap can be faster, so the sensor is reported as a fraction of this.
 *
 * Usage: pcapread FILE.pcap   (prints "packets bytes")
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    if (argc != 2) {
        fprintf(stderr, "usage: pcapread FILE.pcap\n");
        return 2;
    }
    pcap_t *p = pcap_open_offline(argv[1], err);
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
    printf("%" PRIu64 " %" PRIu64 "\n", n, bytes);
    return rc == PCAP_ERROR;
}
