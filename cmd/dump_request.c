/*
 * dump_request.c — `--dump-request FILE` (see dump_request.h).
 */
#include "cmd/dump_request.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cmd/sensor_identity.h"
#include "cmd/stages.h"
#include "common/identity.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "config/config.h"
#include "models/flow_event.h"
#include "sender/http_client.h"

/* A finished TCP flow between two documentation addresses (RFC 5737), ending 2 s ago. */
static void sample_flow(struct flow_event *ev)
{
    memset(ev, 0, sizeof *ev);
    uint64_t now = timefmt_now_us();
    ev->last_us = now - 2000000u;
    ev->first_us = ev->last_us - 1500000u;
    ev->ip_version = 4;
    ev->protocol = 6;
    inet_pton(AF_INET, "192.0.2.10", ev->src_ip);
    inet_pton(AF_INET, "198.51.100.20", ev->dst_ip);
    ev->src_port = 51000;
    ev->dst_port = 443;
    ev->src_packets = 10;
    ev->src_bytes = 1200;
    ev->dst_packets = 8;
    ev->dst_bytes = 6400;
    ev->src_tcp_flags = 0x1b;   /* FIN SYN PSH ACK */
    ev->dst_tcp_flags = 0x1b;
    ev->end_reason = FLOW_END_FIN;
    ev->final = 1;
    ev->side_seen = 3;
}

/* The body the sender POSTs for this one event: the object, [object] or the NDJSON line. */
static char *sample_body(const struct config *cfg, const char *sensor_id, size_t *len)
{
    struct flow_event ev;
    sample_flow(&ev);
    struct flow_event_ctx ctx = {.interface = config_source_name(cfg), .hostname = cfg->hostname,
                                 .community_seed = cfg->community_id_seed, .sensor_id = sensor_id};
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = timefmt_now_us();
    char id[40];
    snprintf(id, sizeof id, "%016" PRIx64 "-1", r);   /* the sender's form: prefix, '-', sequence */
    size_t cap = 16384;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t pre = cfg->http_body == CFG_BODY_ARRAY ? 1 : 0;
    size_t n = flow_event_format(&ev, &ctx, FLOW_DIR_UNKNOWN, id, buf + pre, cap - pre - 2);
    if (n == SIZE_MAX || n + pre + 2 >= cap) {
        free(buf);
        return NULL;
    }
    if (pre)
        buf[0] = '[';
    n += pre;
    if (cfg->http_body == CFG_BODY_ARRAY)
        buf[n++] = ']';
    else if (cfg->http_body == CFG_BODY_NDJSON)
        buf[n++] = '\n';
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Write all of buf to the file (created 0600, not through a symbolic link) or stdout. */
static int write_out(const char *path, const unsigned char *buf, size_t len, char *err, size_t errlen)
{
    bool is_stdout = strcmp(path, "-") == 0;
    int fd = is_stdout ? STDOUT_FILENO : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || (!is_stdout && fchmod(fd, 0600) != 0)) {
        snprintf(err, errlen, "--dump-request %s: cannot create: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return EXIT_CONFIG;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, buf + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    int e = errno;
    if ((!is_stdout && close(fd) != 0) || done < len) {
        snprintf(err, errlen, "--dump-request %s: cannot write: %s", path, strerror(done < len ? e : errno));
        return EXIT_RUNTIME;
    }
    return 0;
}

int dump_request_run(const struct config *cfg, char *err, size_t errlen)
{
    log_set_level((enum log_level)cfg->log_level);
    log_set_format(cfg->log_format == CFG_LOG_JSON ? LOG_FORMAT_JSON : LOG_FORMAT_LOGFMT);
    char sensor_id[IDENTITY_MAX + 1];
    if (sensor_identity_setup(cfg, sensor_id, sizeof sensor_id, err, errlen) != 0)
        return EXIT_CONFIG;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "libcurl initialisation failed");
        return EXIT_RUNTIME;
    }
    int status = EXIT_RUNTIME;
    size_t blen = 0, rlen = 0;
    unsigned char *req = NULL;
    char *body = sample_body(cfg, sensor_id, &blen);
    http_client *c = body ? http_client_create(cfg, err, errlen) : NULL;
    if (!body)
        snprintf(err, errlen, "--dump-request: out of memory");
    else if (c && http_client_dump(c, body, blen, &req, &rlen, err, errlen) == 0)
        status = write_out(cfg->dump_request, req, rlen, err, errlen);
    if (status == 0)
        log_info("--dump-request: %zu bytes (a %zu-byte body) written to %s", rlen, blen,
                 strcmp(cfg->dump_request, "-") == 0 ? "standard output" : cfg->dump_request);
    if (req)
        OPENSSL_cleanse(req, rlen);   /* it holds the bearer token */
    free(req);
    free(body);
    http_client_destroy(c);
    curl_global_cleanup();
    return status;
}
