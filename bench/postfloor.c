/*
 * postfloor.c — the fastest one-object-per-POST rate this machine allows the
 * benchmark receiver, whatever the client library: the floor under the
 * sender's "one object per POST" row.
 *
 * C threads with one kept-alive TCP connection each write a prebuilt HTTP/1.1
 * POST (the headers libcurl sends, a FlowEvent-sized JSON body with one
 * "event_id") and read the 200 back, nothing else: no JSON, no queue, no poll
 * loop. With -p K each connection writes K requests before reading K answers
 * (HTTP/1.1 pipelining, which libcurl no longer does) to show what the kernel
 * and the receiver cost when requests share segments and wake-ups.
 *
 * Usage: postfloor [-c CONNS] [-n REQUESTS] [-p DEPTH] PORT
 * Prints "requests seconds requests_per_s user_s sys_s" (this process's CPU).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port, depth = 1;
static long per_conn;
static char req[2048];
static size_t req_len;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *client(void *arg)
{
    (void)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("postfloor: connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char *out = malloc(req_len * (size_t)depth), in[65536];
    for (int i = 0; i < depth; i++)
        memcpy(out + req_len * (size_t)i, req, req_len);
    for (long done = 0; done < per_conn; done += depth) {
        size_t want = req_len * (size_t)depth, off = 0;
        while (off < want) {
            ssize_t w = write(fd, out + off, want - off);
            if (w <= 0) {
                perror("postfloor: write");
                exit(1);
            }
            off += (size_t)w;
        }
        /* Each answer ends with "\r\n\r\n" (Content-Length: 0). */
        int answers = 0;
        size_t len = 0;
        while (answers < depth) {
            ssize_t r = read(fd, in + len, sizeof in - len);
            if (r <= 0) {
                perror("postfloor: read");
                exit(1);
            }
            len += (size_t)r;
            char *p = in, *e;
            while ((e = memmem(p, len - (size_t)(p - in), "\r\n\r\n", 4)) != NULL) {
                answers++;
                p = e + 4;
            }
            len -= (size_t)(p - in);
            memmove(in, p, len);
        }
    }
    free(out);
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    int conns = 8, opt;
    long total = 200000;
    while ((opt = getopt(argc, argv, "c:n:p:")) != -1) {
        if (opt == 'c')
            conns = atoi(optarg);
        else if (opt == 'n')
            total = atol(optarg);
        else if (opt == 'p')
            depth = atoi(optarg);
        else
            return 2;
    }
    if (optind >= argc || conns < 1 || conns > 256 || depth < 1 || depth > 64) {
        fprintf(stderr, "usage: postfloor [-c CONNS 1..256] [-n REQUESTS] [-p DEPTH 1..64] PORT\n");
        return 2;
    }
    port = atoi(argv[optind]);
    char body[1024];
    int bl = snprintf(body, sizeof body,
                      "{\"flow_id\":\"0f6c1b2a9e3d4c5b\",\"src_ip\":\"10.1.2.3\",\"dst_ip\":\"10.4.5.6\","
                      "\"src_port\":40000,\"dst_port\":443,\"protocol\":\"TCP\",\"packets\":2,\"bytes\":120,"
                      "\"start_time\":\"2026-01-01T00:00:00.000000Z\",\"end_time\":\"2026-01-01T00:00:01.000000Z\","
                      "\"duration\":1.0,\"tcp_flags\":\"SA\",\"interface\":\"eth0\",\"direction\":\"outbound\","
                      "\"event_id\":\"00000000-0000-4000-8000-000000000000\",\"schema_version\":2,\"type\":\"flow\","
                      "\"sensor_id\":\"bench\",\"community_id\":\"1:abcdefghijklmnopqrstuvwxyz0=\","
                      "\"src_bytes\":60,\"dst_bytes\":60,\"src_packets\":1,\"dst_packets\":1,"
                      "\"end_reason\":\"idle_timeout\",\"ip_version\":4,\"vlan\":null,\"padding\":\"%0200d\"}", 0);
    req_len = (size_t)snprintf(req, sizeof req,
                               "POST /ingest HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: tracer-sensor/0\r\n"
                               "Accept: */*\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                               port, bl, body);
    per_conn = (total / conns + depth - 1) / depth * depth;
    pthread_t *t = calloc((size_t)conns, sizeof *t);
    double t0 = now_s();
    for (int i = 0; i < conns; i++)
        pthread_create(&t[i], NULL, client, NULL);
    for (int i = 0; i < conns; i++)
        pthread_join(t[i], NULL);
    double secs = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long n = per_conn * conns;
    printf("%ld %.3f %.0f %.2f %.2f\n", n, secs, (double)n / secs,
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    free(t);
    return 0;
}
