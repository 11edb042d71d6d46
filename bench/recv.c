/*
 * recv.c — the benchmark's HTTP ingest endpoint on loopback.
 *
 * It must never be what limits the sensor, so it does almost nothing: one
 * thread per connection, HTTP/1.1 keep-alive, read a request (headers, then
 * Content-Length bytes), count the events in the body (occurrences of
 * "event_id"), answer 200 with an empty body. With -o FILE every body is also
 * written out, one per line, for the truth check.
 *
 * Usage: recv [-o FILE] PORTFILE   (binds 127.0.0.1:0, writes the port to
 * PORTFILE; on SIGTERM/SIGINT prints "events posts bytes span events_after
 * user_s sys_s" and exits). span is the seconds from the first complete POST to the last
 * (CLOCK_MONOTONIC) and events_after the events that arrived after the first
 * POST, so events_after / span is the rate the sender delivered at while it
 * had events, whatever came before its first batch (reading a capture file).
 * user_s and sys_s are the receiver's own CPU seconds (getrusage), so the
 * bench can say which side of the loopback the time went to.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static _Atomic uint64_t n_events, n_posts, n_bytes;
static _Atomic uint64_t first_ns, last_ns, first_events;   /* first and last POST */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static FILE *dump;
static pthread_mutex_t dump_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t count_events(const char *b, size_t n)
{
    static const char pat[] = "\"event_id\"";
    uint64_t c = 0;
    const char *p = b, *end = b + n;
    while ((p = memmem(p, (size_t)(end - p), pat, sizeof pat - 1)) != NULL) {
        c++;
        p += sizeof pat - 1;
    }
    return c;
}

static void *conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        char *hend;
        while (!(hend = memmem(buf, len, "\r\n\r\n", 4))) {
            if (len == cap)
                buf = realloc(buf, cap *= 2);
            ssize_t r = read(fd, buf + len, cap - len);
            if (r <= 0)
                goto out;
            len += (size_t)r;
        }
        size_t hlen = (size_t)(hend - buf) + 4, clen = 0;
        buf[hlen - 1] = '\0';
        for (char *l = buf; l && l < buf + hlen; l = strstr(l, "\r\n"), l = l ? l + 2 : NULL) {
            if (!strncasecmp(l, "Content-Length:", 15))
                clen = strtoul(l + 15, NULL, 10);
            if (!strncasecmp(l, "Expect: 100-continue", 20))
                (void)!write(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        }
        while (len < hlen + clen) {
            if (hlen + clen > cap)
                buf = realloc(buf, cap = hlen + clen);
            ssize_t r = read(fd, buf + len, cap - len);
            if (r <= 0)
                goto out;
            len += (size_t)r;
        }
        uint64_t ev = count_events(buf + hlen, clen), now = mono_ns(), zero = 0;
        if (atomic_compare_exchange_strong(&first_ns, &zero, now))
            atomic_store(&first_events, ev);
        atomic_store(&last_ns, now);
        atomic_fetch_add(&n_events, ev);
        atomic_fetch_add(&n_posts, 1);
        atomic_fetch_add(&n_bytes, clen);
        if (dump) {
            pthread_mutex_lock(&dump_lock);
            fwrite(buf + hlen, 1, clen, dump);
            fputc('\n', dump);
            pthread_mutex_unlock(&dump_lock);
        }
        static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        if (write(fd, ok, sizeof ok - 1) < 0)
            goto out;
        memmove(buf, buf + hlen + clen, len - hlen - clen);
        len -= hlen + clen;
    }
out:
    free(buf);
    close(fd);
    return NULL;
}

static void *acceptor(void *arg)
{
    int ls = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        pthread_create(&t, NULL, conn, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int a = 1;
    if (a + 1 < argc && !strcmp(argv[a], "-o")) {
        dump = fopen(argv[a + 1], "w");
        a += 2;
    }
    if (a >= argc) {
        fprintf(stderr, "usage: recv [-o FILE] PORTFILE\n");
        return 2;
    }
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    pthread_sigmask(SIG_BLOCK, &ss, NULL);
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 64) ||
        getsockname(ls, (struct sockaddr *)&sa, &sl)) {
        perror("recv");
        return 1;
    }
    FILE *pf = fopen(argv[a], "w");
    fprintf(pf, "%u\n", ntohs(sa.sin_port));
    fclose(pf);
    pthread_t t;
    pthread_create(&t, NULL, acceptor, (void *)(intptr_t)ls);
    int sig;
    sigwait(&ss, &sig);
    if (dump) {
        pthread_mutex_lock(&dump_lock);
        fflush(dump);
    }
    uint64_t f = atomic_load(&first_ns), l = atomic_load(&last_ns);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%" PRIu64 " %" PRIu64 " %" PRIu64 " %.6f %" PRIu64 " %.3f %.3f\n", atomic_load(&n_events),
           atomic_load(&n_posts), atomic_load(&n_bytes), f ? (double)(l - f) / 1e9 : 0.0,
           atomic_load(&n_events) - atomic_load(&first_events),
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    fflush(stdout);
    _exit(0);
}
