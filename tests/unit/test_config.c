/*
 * test_config.c — config_load() against the rules in config.h.
 *
 * Every test builds its own argv and envp (config_load never reads the real
 * environment) and checks exact values and exact messages: defaults, every
 * numeric setting at and past its bounds, flags over variables, collected
 * errors, interface / pcap / URL / BPF / spool checks, secrets that never show
 * up in a message, the send-interval forms, and --help / --version. The group
 * setup writes its own pcap, pcapng and secret files into a fresh temp dir.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"

#include <limits.h>
#include <net/if.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERRLEN 4096

struct fx {
    char dir[64];
    char pcap[128];        /* valid pcap, one packet (mkstemp) */
    char pcapng[128];      /* valid pcapng, SHB + IDB */
    char garbage[128];     /* not a capture file */
    char token[128];       /* "tok-123\r\n" */
    char token_empty[128]; /* "\r\n" */
    char token_ctrl[128];  /* "abc\ndef\n" */
    char token_big[128];   /* 64 KiB + 1 */
    char token_max[128];   /* exactly 64 KiB, no newline */
    char key_bin[128];     /* "k\0ey\n" */
    char key_crcrlf[128];  /* "key\r\r\n": only the last "\r\n" is a line end */
    char key_2lf[128];     /* "key\n\n" */
    char token_2lf[128];   /* "tok\n\n": the second newline is part of the token */
    char pcap_env[256];    /* "AGENT_PCAP_FILE=<pcap>" */
};

struct res {
    struct config *cfg;
    int nerr;
    char err[ERRLEN];
};

/* ---------------------------------------------------------------- fixture */

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static void put_le16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

/* A classic pcap (microsecond, little-endian, Ethernet) with one 60-byte packet. */
static int write_pcap(int fd)
{
    unsigned char b[24 + 16 + 60];
    memset(b, 0, sizeof b);
    put_le32(b + 0, 0xa1b2c3d4u); /* magic */
    put_le16(b + 4, 2);           /* version 2.4 */
    put_le16(b + 6, 4);
    put_le32(b + 16, 65535);      /* snaplen */
    put_le32(b + 20, 1);          /* LINKTYPE_ETHERNET */
    put_le32(b + 24, 1700000000); /* ts_sec */
    put_le32(b + 28, 0);          /* ts_usec */
    put_le32(b + 32, 60);         /* incl_len */
    put_le32(b + 36, 60);         /* orig_len */
    memset(b + 40, 0xff, 6);      /* broadcast destination */
    b[52] = 0x08;                 /* ethertype IPv4 */
    ssize_t w = write(fd, b, sizeof b);
    return (w == (ssize_t)sizeof b && close(fd) == 0) ? 0 : -1;
}

/* A pcapng with a section header block and one Ethernet interface block. */
static int write_pcapng(const char *path)
{
    unsigned char b[28 + 20];
    memset(b, 0, sizeof b);
    put_le32(b + 0, 0x0a0d0d0au);  /* SHB */
    put_le32(b + 4, 28);
    put_le32(b + 8, 0x1a2b3c4du);  /* byte-order magic */
    put_le16(b + 12, 1);           /* version 1.0 */
    put_le16(b + 14, 0);
    put_le32(b + 16, 0xffffffffu); /* section length: unknown (-1) */
    put_le32(b + 20, 0xffffffffu);
    put_le32(b + 24, 28);
    put_le32(b + 28, 1);           /* IDB */
    put_le32(b + 32, 20);
    put_le16(b + 36, 1);           /* LINKTYPE_ETHERNET */
    put_le32(b + 40, 65535);       /* snaplen */
    put_le32(b + 44, 20);
    return write_file(path, b, sizeof b);
}

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/test_config.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->pcap, sizeof f->pcap, "%s/one.XXXXXX", f->dir);
    int fd = mkstemp(f->pcap);
    if (fd < 0 || write_pcap(fd) != 0)
        return -1;
    snprintf(f->pcapng, sizeof f->pcapng, "%s/one.pcapng", f->dir);
    snprintf(f->garbage, sizeof f->garbage, "%s/garbage.pcap", f->dir);
    snprintf(f->token, sizeof f->token, "%s/token", f->dir);
    snprintf(f->token_empty, sizeof f->token_empty, "%s/token_empty", f->dir);
    snprintf(f->token_ctrl, sizeof f->token_ctrl, "%s/token_ctrl", f->dir);
    snprintf(f->token_big, sizeof f->token_big, "%s/token_big", f->dir);
    snprintf(f->token_max, sizeof f->token_max, "%s/token_max", f->dir);
    snprintf(f->key_bin, sizeof f->key_bin, "%s/key_bin", f->dir);
    snprintf(f->key_crcrlf, sizeof f->key_crcrlf, "%s/key_crcrlf", f->dir);
    snprintf(f->key_2lf, sizeof f->key_2lf, "%s/key_2lf", f->dir);
    snprintf(f->token_2lf, sizeof f->token_2lf, "%s/token_2lf", f->dir);
    snprintf(f->pcap_env, sizeof f->pcap_env, "AGENT_PCAP_FILE=%s", f->pcap);

    char *big = malloc(65537);
    if (!big)
        return -1;
    memset(big, 'a', 65537);
    int rc = write_pcapng(f->pcapng) | write_file(f->garbage, "this is no pcap\n", 16) |
             write_file(f->token, "tok-123\r\n", 9) | write_file(f->token_empty, "\r\n", 2) |
             write_file(f->token_ctrl, "abc\ndef\n", 8) | write_file(f->token_big, big, 65537) |
             write_file(f->token_max, big, 65536) | write_file(f->key_bin, "k\0ey\n", 5) |
             write_file(f->key_crcrlf, "key\r\r\n", 6) | write_file(f->key_2lf, "key\n\n", 5) |
             write_file(f->token_2lf, "tok\n\n", 5);
    free(big);
    if (rc != 0)
        return -1;
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    const char *files[] = { f->pcap, f->pcapng, f->garbage, f->token, f->token_empty,
                            f->token_ctrl, f->token_big, f->token_max, f->key_bin,
                            f->key_crcrlf, f->key_2lf, f->token_2lf };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        unlink(files[i]);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* ---------------------------------------------------------------- helpers */

/*
 * Runs config_load with argv = {"tracer-sensor", args...} and envp = {env...},
 * plus AGENT_PCAP_FILE=<the fixture pcap> first when with_pcap. The arrays
 * are NULL-terminated (either may be NULL). Copies, so config_load gets char**.
 */
static void run(struct res *r, const struct fx *f, bool with_pcap, const char *const *env,
                const char *const *args)
{
    char *envp[64], *argv[64];
    int ne = 0, na = 0;
    if (with_pcap)
        envp[ne++] = strdup(f->pcap_env);
    for (size_t i = 0; env && env[i]; i++)
        envp[ne++] = strdup(env[i]);
    envp[ne] = NULL;
    argv[na++] = strdup("tracer-sensor");
    for (size_t i = 0; args && args[i]; i++)
        argv[na++] = strdup(args[i]);
    argv[na] = NULL;

    memset(r->err, 'X', sizeof r->err); /* config_load must terminate it */
    r->nerr = -1;
    r->cfg = config_load(na, argv, envp, r->err, sizeof r->err, &r->nerr);

    for (int i = 0; i < ne; i++)
        free(envp[i]);
    for (int i = 0; i < na; i++)
        free(argv[i]);
}

#define ENV(...)  ((const char *const[]){ __VA_ARGS__, NULL })
#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Expect success: no errors, a config. */
static void expect_ok(struct res *r)
{
    if (r->cfg == NULL)
        print_error("unexpected errors:\n%s\n", r->err);
    assert_non_null(r->cfg);
    assert_int_equal(r->nerr, 0);
    assert_string_equal(r->err, "");
}

/* Expect exactly one problem with exactly this message. */
static void expect_err(struct res *r, const char *msg)
{
    assert_null(r->cfg);
    assert_string_equal(r->err, msg);
    assert_int_equal(r->nerr, 1);
}

static void one_env_err(const struct fx *f, const char *kv, const char *msg)
{
    struct res r;
    run(&r, f, true, ENV(kv), NULL);
    expect_err(&r, msg);
}

static void done(struct res *r)
{
    config_destroy(r->cfg);
    r->cfg = NULL;
}

/* ---------------------------------------------------------------- defaults */

static void test_defaults_with_pcap(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, NULL, NULL);
    expect_ok(&r);
    struct config *c = r.cfg;
    assert_null(c->interface);
    assert_string_equal(c->pcap_file, f->pcap);
    assert_string_equal(c->bpf_filter, "");
    assert_int_equal(c->snap_len, 256);
    assert_true(c->promiscuous);
    assert_int_equal(c->pcap_buffer_mb, 64);
    assert_null(c->endpoint_url);
    assert_int_equal(c->batch_size, 100);
    assert_int_equal(c->http_body, CFG_BODY_OBJECT);   /* go-Tracer's body: one object per POST */
    assert_null(c->events_endpoint_url);
    assert_int_equal(c->http_connections, 8);
    assert_int_equal(c->retry_max_attempts, 5);
    assert_int_equal(c->queue_max_mb, 64);
    assert_int_equal(c->send_interval_ms, 1000);
    assert_null(c->auth_token);
    assert_null(c->hmac_key);
    assert_int_equal(c->hmac_key_len, 0);
    assert_null(c->spool_dir);
    assert_int_equal(c->spool_max_mb, 256);
    assert_false(c->stdout_also);                       /* outputs (issue 16) */
    assert_null(c->kafka_brokers);
    assert_string_equal(c->kafka_topic_flow, "tracer.flows");
    assert_string_equal(c->kafka_topic_events, "tracer.events");
    assert_string_equal(c->kafka_compression, "lz4");
    assert_string_equal(c->kafka_security_protocol, "plaintext");
    assert_string_equal(c->kafka_sasl_mechanism, "PLAIN");
    assert_null(c->kafka_sasl_username);
    assert_null(c->kafka_sasl_password);
    assert_int_equal(c->kafka_queue_max_events, 100000);
    assert_int_equal(c->kafka_delivery_timeout_ms, 30000);
    assert_int_equal(c->tcp_idle_timeout_s, 60);
    assert_int_equal(c->udp_idle_timeout_s, 30);
    assert_int_equal(c->idle_timeout_s, 30);
    assert_int_equal(c->active_timeout_s, 300);
    assert_int_equal(c->max_flows, 1000000);
    assert_true(c->vlan_in_key);
    assert_true(c->decap);
    assert_false(c->dpi);
    assert_int_equal(c->dpi_flows, 32768);
    assert_int_equal(c->community_id_seed, 0);
    assert_int_equal(c->packet_ring_slots, 65536);
    assert_int_equal(c->event_ring_slots, 16384);
    assert_int_equal(c->shutdown_timeout_ms, 10000);
    assert_int_equal(c->log_level, CFG_LOG_INFO);
    assert_false(c->show_help);
    assert_false(c->show_version);

    char host[HOST_NAME_MAX + 1];
    if (gethostname(host, sizeof host) != 0 || host[0] == '\0')
        strcpy(host, "unknown");
    host[sizeof host - 1] = '\0';
    assert_string_equal(c->hostname, host);
    assert_string_equal(c->state_dir, "/var/lib/tracer-sensor");
    assert_false(c->state_dir_explicit);
    assert_null(c->sensor_id);
    done(&r);
}

static void test_empty_variables_mean_default(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true,
        ENV("AGENT_SNAP_LEN=", "AGENT_PROMISCUOUS=", "AGENT_INTERFACE=", "AGENT_ENDPOINT_URL=",
            "AGENT_SEND_INTERVAL=", "AGENT_AUTH_TOKEN=", "AGENT_AUTH_TOKEN_FILE=",
            "AGENT_SPOOL_DIR=", "AGENT_BPF_FILTER=", "LOG_LEVEL=", "AGENT_EVENT_RING_SLOTS="),
        NULL);
    expect_ok(&r);
    assert_int_equal(r.cfg->snap_len, 256);
    assert_true(r.cfg->promiscuous);
    assert_null(r.cfg->interface);
    assert_null(r.cfg->endpoint_url);
    assert_int_equal(r.cfg->send_interval_ms, 1000);
    assert_null(r.cfg->auth_token);
    assert_null(r.cfg->spool_dir);
    assert_string_equal(r.cfg->bpf_filter, "");
    assert_int_equal(r.cfg->log_level, CFG_LOG_INFO);
    assert_int_equal(r.cfg->event_ring_slots, 16384);
    done(&r);
}

/* The first occurrence of a variable counts, as with getenv(); unrelated ones are ignored. */
static void test_env_first_occurrence_and_noise(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true,
        ENV("PATH=/bin", "NOEQUALS", "AGENT_SNAP_LENX=5", "XAGENT_SNAP_LEN=5",
            "AGENT_SNAP_LEN=128", "AGENT_SNAP_LEN=abc"),
        NULL);
    expect_ok(&r);
    assert_int_equal(r.cfg->snap_len, 128);
    done(&r);
}

/* ---------------------------------------------------------------- numbers */

struct numcase {
    const char *var, *flag;
    size_t off, size;
    const char *min_s, *max_s, *below_s, *above_s; /* below_s NULL when min is 0 */
    uint32_t min, max;
    const char *rule;
};

#define F32(field) offsetof(struct config, field), sizeof(uint32_t)
#define F16(field) offsetof(struct config, field), sizeof(uint16_t)

static const struct numcase NUMS[] = {
    { "AGENT_SNAP_LEN", "--snap-len", F32(snap_len), "64", "262144", "63", "262145", 64, 262144,
      "must be an integer in [64, 262144]" },
    { "AGENT_PCAP_BUFFER_MB", "--pcap-buffer-mb", F32(pcap_buffer_mb), "1", "2048", "0", "2049",
      1, 2048, "must be an integer in [1, 2048]" },
    { "AGENT_BATCH_SIZE", "--batch-size", F32(batch_size), "1", "10000", "0", "10001", 1, 10000,
      "must be an integer in [1, 10000]" },
    { "AGENT_HTTP_CONNECTIONS", "--http-connections", F32(http_connections), "1", "256", "0", "257",
      1, 256, "must be an integer in [1, 256]" },
    { "AGENT_RETRY_MAX_ATTEMPTS", "--retry-max-attempts", F32(retry_max_attempts), "1", "1000", "0",
      "1001", 1, 1000, "must be an integer in [1, 1000]" },
    { "AGENT_QUEUE_MAX_MB", "--queue-max-mb", F32(queue_max_mb), "1", "65536", "0", "65537", 1, 65536,
      "must be an integer in [1, 65536]" },
    { "AGENT_SPOOL_MAX_MB", "--spool-max-mb", F32(spool_max_mb), "1", "1048576", "0", "1048577",
      1, 1048576, "must be an integer in [1, 1048576]" },
    { "AGENT_KAFKA_QUEUE_MAX_EVENTS", "--kafka-queue-max-events", F32(kafka_queue_max_events), "1", "10000000",
      "0", "10000001", 1, 10000000, "must be an integer in [1, 10000000]" },
    { "AGENT_MAX_FLOWS", "--max-flows", F32(max_flows), "1", "100000000", "0", "100000001", 1,
      100000000, "must be an integer in [1, 100000000]" },
    { "AGENT_COMMUNITY_ID_SEED", "--community-id-seed", F16(community_id_seed), "0", "65535",
      NULL, "65536", 0, 65535, "must be an integer in [0, 65535]" },
    { "AGENT_PACKET_RING_SLOTS", "--packet-ring-slots", F32(packet_ring_slots), "1024",
      "4194304", "512", "8388608", 1024, 4194304, "must be a power of two in [1024, 4194304]" },
    { "AGENT_EVENT_RING_SLOTS", "--event-ring-slots", F32(event_ring_slots), "1024", "4194304",
      "512", "8388608", 1024, 4194304, "must be a power of two in [1024, 4194304]" },
    { "AGENT_DPI_FLOWS", "--dpi-flows", F32(dpi_flows), "16", "1048576", "15", "1048577", 16,
      1048576, "must be an integer in [16, 1048576]" },
};

static uint32_t field_value(const struct config *c, const struct numcase *n)
{
    const unsigned char *p = (const unsigned char *)c + n->off;
    if (n->size == sizeof(uint16_t)) {
        uint16_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void num_ok(const struct fx *f, const struct numcase *n, const char *val, uint32_t want)
{
    char kv[128];
    snprintf(kv, sizeof kv, "%s=%s", n->var, val);
    struct res r;
    run(&r, f, true, ENV(kv), NULL);
    expect_ok(&r);
    assert_int_equal(field_value(r.cfg, n), want);
    done(&r);
}

static void num_bad(const struct fx *f, const struct numcase *n, const char *val)
{
    char kv[128], msg[256];
    snprintf(kv, sizeof kv, "%s=%s", n->var, val);
    snprintf(msg, sizeof msg, "%s=%s: %s", n->var, val, n->rule);
    one_env_err(f, kv, msg);
}

static void test_numeric_variables(void **state)
{
    struct fx *f = *state;
    for (size_t i = 0; i < sizeof NUMS / sizeof NUMS[0]; i++) {
        const struct numcase *n = &NUMS[i];
        num_ok(f, n, n->min_s, n->min);
        num_ok(f, n, n->max_s, n->max);
        if (n->below_s)
            num_bad(f, n, n->below_s);
        num_bad(f, n, n->above_s);
        num_bad(f, n, "abc");
        num_bad(f, n, "1024x");
        num_bad(f, n, "2048 ");
        num_bad(f, n, " 2048");
        num_bad(f, n, "-1");
        num_bad(f, n, "-2048");
        num_bad(f, n, "+2048");
        num_bad(f, n, "0x400");
        num_bad(f, n, "2048.0");
        num_bad(f, n, "4294967296");           /* 2^32 */
        num_bad(f, n, "18446744073709551616"); /* 2^64: strtoull ERANGE */
    }
}

/* Exact literal messages for one setting, so the table above is not the only witness. */
static void test_numeric_messages_literal(void **state)
{
    struct fx *f = *state;
    one_env_err(f, "AGENT_SNAP_LEN=abc", "AGENT_SNAP_LEN=abc: must be an integer in [64, 262144]");
    one_env_err(f, "AGENT_SNAP_LEN=63", "AGENT_SNAP_LEN=63: must be an integer in [64, 262144]");
    one_env_err(f, "AGENT_SNAP_LEN=-64",
                "AGENT_SNAP_LEN=-64: must be an integer in [64, 262144]");
    one_env_err(f, "AGENT_SNAP_LEN=100kb",
                "AGENT_SNAP_LEN=100kb: must be an integer in [64, 262144]");
    one_env_err(f, "AGENT_PACKET_RING_SLOTS=1000",
                "AGENT_PACKET_RING_SLOTS=1000: must be a power of two in [1024, 4194304]");
    one_env_err(f, "AGENT_EVENT_RING_SLOTS=3000",
                "AGENT_EVENT_RING_SLOTS=3000: must be a power of two in [1024, 4194304]");
    one_env_err(f, "AGENT_COMMUNITY_ID_SEED=-1",
                "AGENT_COMMUNITY_ID_SEED=-1: must be an integer in [0, 65535]");
    one_env_err(f, "AGENT_MAX_FLOWS=0", "AGENT_MAX_FLOWS=0: must be an integer in [1, 100000000]");
}

/* Every numeric flag, both forms, and its message under the flag's name. */
static void test_numeric_flags(void **state)
{
    struct fx *f = *state;
    for (size_t i = 0; i < sizeof NUMS / sizeof NUMS[0]; i++) {
        const struct numcase *n = &NUMS[i];
        struct res r;
        run(&r, f, true, NULL, ARGS(n->flag, n->max_s));
        expect_ok(&r);
        assert_int_equal(field_value(r.cfg, n), n->max);
        done(&r);

        char arg[128], msg[256];
        snprintf(arg, sizeof arg, "%s=%s", n->flag, n->min_s);
        run(&r, f, true, NULL, ARGS(arg));
        expect_ok(&r);
        assert_int_equal(field_value(r.cfg, n), n->min);
        done(&r);

        snprintf(arg, sizeof arg, "%s=abc", n->flag);
        snprintf(msg, sizeof msg, "%s=abc: %s", n->flag, n->rule);
        run(&r, f, true, NULL, ARGS(arg));
        expect_err(&r, msg);

        run(&r, f, true, NULL, ARGS(n->flag, "-1"));
        snprintf(msg, sizeof msg, "%s=-1: %s", n->flag, n->rule);
        expect_err(&r, msg);
    }
}

/* ---------------------------------------------------------------- flags */

static void test_flag_overrides_variable(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, ENV("AGENT_SNAP_LEN=100", "AGENT_BATCH_SIZE=7", "LOG_LEVEL=debug"),
        ARGS("--snap-len", "200", "--batch-size=9"));
    expect_ok(&r);
    assert_int_equal(r.cfg->snap_len, 200);
    assert_int_equal(r.cfg->batch_size, 9);
    assert_int_equal(r.cfg->log_level, CFG_LOG_DEBUG); /* no flag: the variable */
    done(&r);

    /* the overridden variable is not validated */
    run(&r, f, true, ENV("AGENT_SNAP_LEN=abc"), ARGS("--snap-len=300"));
    expect_ok(&r);
    assert_int_equal(r.cfg->snap_len, 300);
    done(&r);

    /* an empty flag value means the default, whatever the variable says */
    run(&r, f, true, ENV("AGENT_SNAP_LEN=100"), ARGS("--snap-len="));
    expect_ok(&r);
    assert_int_equal(r.cfg->snap_len, 256);
    done(&r);

    /* the last of a repeated flag wins */
    run(&r, f, true, NULL, ARGS("--snap-len=100", "--snap-len", "120"));
    expect_ok(&r);
    assert_int_equal(r.cfg->snap_len, 120);
    done(&r);
}

static void test_flag_equals_form(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, false, NULL,
        ARGS("--pcap-file", f->pcap, "--bpf-filter=tcp port 80", "--promiscuous=off",
             "--send-interval=250ms", "--log-level=WARN", "--interface=lo",
             "--auth-token=a=b=c"));
    expect_ok(&r);
    assert_string_equal(r.cfg->pcap_file, f->pcap);
    assert_string_equal(r.cfg->interface, "lo");
    assert_string_equal(r.cfg->bpf_filter, "tcp port 80");
    assert_false(r.cfg->promiscuous);
    assert_int_equal(r.cfg->send_interval_ms, 250);
    assert_int_equal(r.cfg->log_level, CFG_LOG_WARN);
    assert_string_equal(r.cfg->auth_token, "a=b=c"); /* split at the first '=' only */
    done(&r);
}

/* Each flag name is its variable without AGENT_, lower case, '-' for '_'. */
static void test_every_flag_is_known(void **state)
{
    static const char *const vars[] = {
        "AGENT_INTERFACE", "AGENT_PCAP_FILE", "AGENT_BPF_FILTER", "AGENT_SNAP_LEN",
        "AGENT_PROMISCUOUS", "AGENT_PCAP_BUFFER_MB", "AGENT_ENDPOINT_URL", "AGENT_BATCH_SIZE",
        "AGENT_SEND_INTERVAL", "AGENT_AUTH_TOKEN", "AGENT_AUTH_TOKEN_FILE", "AGENT_HMAC_KEY",
        "AGENT_HMAC_KEY_FILE", "AGENT_SPOOL_DIR", "AGENT_SPOOL_MAX_MB", "AGENT_TCP_IDLE_TIMEOUT",
        "AGENT_UDP_IDLE_TIMEOUT", "AGENT_IDLE_TIMEOUT", "AGENT_ACTIVE_TIMEOUT", "AGENT_MAX_FLOWS",
        "AGENT_COMMUNITY_ID_SEED", "AGENT_PACKET_RING_SLOTS", "AGENT_EVENT_RING_SLOTS",
        "AGENT_VLAN_IN_KEY",
        "AGENT_DECAP",
        "AGENT_DPI", "AGENT_DPI_FLOWS",
        "LOG_LEVEL", "AGENT_METRICS_ADDR", "LOG_FORMAT",
        "AGENT_SECCOMP",
        "AGENT_HTTP_BODY", "AGENT_EVENTS_ENDPOINT_URL", "AGENT_HTTP_CONNECTIONS",
        "AGENT_RETRY_MAX_ATTEMPTS", "AGENT_QUEUE_MAX_MB",
        "AGENT_IPFIX_COLLECTOR", "AGENT_IPFIX_PROTOCOL", "AGENT_IPFIX_TEMPLATE_REFRESH",
        "AGENT_IPFIX_DOMAIN_ID", "AGENT_IPFIX_TIME_PRECISION",
        "AGENT_STDOUT", "AGENT_KAFKA_BROKERS", "AGENT_KAFKA_TOPIC_FLOW", "AGENT_KAFKA_TOPIC_EVENTS",
        "AGENT_KAFKA_COMPRESSION", "AGENT_KAFKA_SECURITY_PROTOCOL", "AGENT_KAFKA_SSL_CA_FILE",
        "AGENT_KAFKA_SASL_MECHANISM", "AGENT_KAFKA_SASL_USERNAME", "AGENT_KAFKA_SASL_PASSWORD_FILE",
        "AGENT_KAFKA_QUEUE_MAX_EVENTS", "AGENT_KAFKA_DELIVERY_TIMEOUT",
        "AGENT_API_ADDR", "AGENT_API_KEY_FILE", "AGENT_API_TLS_CERT", "AGENT_API_TLS_KEY",
        "AGENT_API_JOB_RETENTION", "AGENT_API_MAX_JOBS", "AGENT_API_MAX_QUEUED",
    };
    struct fx *f = *state;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = vars[i];
        if (strncmp(v, "AGENT_", 6) == 0)
            v += 6;
        char flag[64] = "--";
        size_t n = 2;
        for (; *v; v++)
            flag[n++] = (*v == '_') ? '-' : (char)(*v - 'A' + 'a');
        flag[n] = '\0';

        char arg[80];
        snprintf(arg, sizeof arg, "%s=", flag); /* empty: default, but the name must parse */
        struct res r;
        run(&r, f, true, NULL, ARGS(arg));
        expect_ok(&r);
        done(&r);
    }
}

static void test_unknown_flag(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, NULL, ARGS("--bogus"));
    expect_err(&r, "--bogus: unknown flag (see --help)");
    run(&r, f, true, NULL, ARGS("--bogus=secret"));
    expect_err(&r, "--bogus: unknown flag (see --help)");
    run(&r, f, true, NULL, ARGS("-x"));
    expect_err(&r, "-x: unknown flag (see --help)");
    run(&r, f, true, NULL, ARGS("-snap-len=100")); /* one dash: not a flag here */
    expect_err(&r, "-snap-len: unknown flag; did you mean --snap-len? (see --help)");
    /* typos get the nearest flag (edit distance <= 3 and under half the name) */
    run(&r, f, true, NULL, ARGS("--intreface", "eth0"));
    assert_null(r.cfg);
    assert_non_null(strstr(r.err, "--intreface: unknown flag; did you mean --interface? (see --help)"));
    run(&r, f, true, NULL, ARGS("--snaplen=512"));
    expect_err(&r, "--snaplen: unknown flag; did you mean --snap-len? (see --help)");
    run(&r, f, true, NULL, ARGS("--tcp-idle-timout=5"));
    expect_err(&r, "--tcp-idle-timout: unknown flag; did you mean --tcp-idle-timeout? (see --help)");
    run(&r, f, true, NULL, ARGS("--hlep"));
    expect_err(&r, "--hlep: unknown flag; did you mean --help? (see --help)");
    run(&r, f, true, NULL, ARGS("-interface"));
    expect_err(&r, "-interface: unknown flag; did you mean --interface? (see --help)");
    /* a variable passed as an argument */
    run(&r, f, true, NULL, ARGS("AGENT_SNAP_LEN=512"));
    expect_err(&r, "AGENT_SNAP_LEN=512: a variable given as an argument: set it in the environment, "
               "or use --snap-len VALUE");
}

/* tcpdump's and softflowd's short forms, and a BPF expression as trailing arguments. */
static void test_short_forms_and_expression(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, false, NULL, ARGS("-i", "lo", "tcp", "port", "443"));
    expect_ok(&r);
    assert_string_equal(r.cfg->interface, "lo");
    assert_null(r.cfg->pcap_file);
    assert_string_equal(r.cfg->bpf_filter, "tcp port 443");
    done(&r);

    run(&r, f, false, NULL, ARGS("-ilo", "-r", f->pcap, "udp or icmp"));
    expect_ok(&r);
    assert_string_equal(r.cfg->interface, "lo");
    assert_string_equal(r.cfg->pcap_file, f->pcap);
    assert_string_equal(r.cfg->bpf_filter, "udp or icmp");
    done(&r);

    /* the expression wins over AGENT_BPF_FILTER, as a flag would */
    run(&r, f, true, ENV("AGENT_BPF_FILTER=udp"), ARGS("tcp"));
    expect_ok(&r);
    assert_string_equal(r.cfg->bpf_filter, "tcp");
    done(&r);

    /* flags may follow the expression's words; after "--" everything is expression */
    run(&r, f, true, NULL, ARGS("tcp", "--snap-len", "512", "--", "and", "not", "port", "22"));
    expect_ok(&r);
    assert_string_equal(r.cfg->bpf_filter, "tcp and not port 22");
    assert_int_equal(r.cfg->snap_len, 512);
    done(&r);

    /* --bpf-filter and an expression: ambiguous */
    run(&r, f, true, NULL, ARGS("--bpf-filter", "udp", "tcp", "port", "80"));
    expect_err(&r, "EXPRESSION=tcp port 80: a filter expression and --bpf-filter: give only one");

    /* a bad expression is named as such */
    run(&r, f, true, NULL, ARGS("tcp", "port"));
    assert_null(r.cfg);
    assert_int_equal(r.nerr, 1);
    assert_true(strncmp(r.err, "EXPRESSION=tcp port: invalid filter: ", 37) == 0);

    run(&r, f, true, NULL, ARGS("-i"));
    expect_err(&r, "--interface: missing value");
    run(&r, f, false, NULL, ARGS("-r", "--snap-len", "100"));
    assert_null(r.cfg);
    assert_non_null(strstr(r.err, "--pcap-file: missing value"));
}

static void test_flag_missing_value(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, NULL, ARGS("--snap-len"));
    expect_err(&r, "--snap-len: missing value");
    /* the next argument is a flag, not the value */
    run(&r, f, true, NULL, ARGS("--bpf-filter", "--batch-size", "5"));
    expect_err(&r, "--bpf-filter: missing value");
}

static void test_help_and_version(void **state)
{
    struct fx *f = *state;
    static const char *const helps[] = { "-h", "--help" };
    static const char *const versions[] = { "-V", "--version" };
    struct res r;
    for (size_t i = 0; i < 2; i++) {
        /* bad variables and flags do not matter when help is asked for */
        run(&r, f, false, ENV("AGENT_SNAP_LEN=abc", "AGENT_INTERFACE=nosuchif0"),
            ARGS("--batch-size=0", helps[i], "--bogus"));
        expect_ok(&r);
        assert_true(r.cfg->show_help);
        assert_false(r.cfg->show_version);
        assert_int_equal(r.cfg->snap_len, 256);
        done(&r);

        run(&r, f, false, ENV("AGENT_SNAP_LEN=abc"), ARGS(versions[i]));
        expect_ok(&r);
        assert_false(r.cfg->show_help);
        assert_true(r.cfg->show_version);
        done(&r);
    }
    run(&r, f, false, NULL, ARGS("--version", "--help"));
    expect_ok(&r);
    assert_true(r.cfg->show_help);
    assert_true(r.cfg->show_version);
    done(&r);
}

/* ---------------------------------------------------------------- errors */

static void test_multiple_errors_collected(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, ENV("AGENT_SNAP_LEN=abc", "AGENT_BATCH_SIZE=0", "LOG_LEVEL=loud"), NULL);
    assert_null(r.cfg);
    assert_int_equal(r.nerr, 3);
    assert_string_equal(r.err, "AGENT_SNAP_LEN=abc: must be an integer in [64, 262144]\n"
                               "AGENT_BATCH_SIZE=0: must be an integer in [1, 10000]\n"
                               "LOG_LEVEL=loud: must be one of error, warn, info, debug");
}

/* AGENT_STDOUT and the Kafka settings (issue 16): values kept, each bad one named with its rule. */
static void test_kafka_settings(void **state)
{
    struct fx *f = *state;
    struct res r;
    char pw[160];
    snprintf(pw, sizeof pw, "AGENT_KAFKA_SASL_PASSWORD_FILE=%s", f->token);
    run(&r, f, true, ENV("AGENT_KAFKA_BROKERS=k1:9092,[::1]:9093,10.0.0.1:19092", "AGENT_STDOUT=on",
                         "AGENT_KAFKA_TOPIC_FLOW=net.flows_v1", "AGENT_KAFKA_TOPIC_EVENTS=net-events",
                         "AGENT_KAFKA_COMPRESSION=ZSTD", "AGENT_KAFKA_SECURITY_PROTOCOL=sasl_ssl",
                         "AGENT_KAFKA_SASL_MECHANISM=scram-sha-512", "AGENT_KAFKA_SASL_USERNAME=sensor", pw,
                         "AGENT_KAFKA_QUEUE_MAX_EVENTS=5000", "AGENT_KAFKA_DELIVERY_TIMEOUT=2s"), NULL);
    expect_ok(&r);
    struct config *c = r.cfg;
    assert_true(c->stdout_also);
    assert_string_equal(c->kafka_brokers, "k1:9092,[::1]:9093,10.0.0.1:19092");
    assert_string_equal(c->kafka_topic_flow, "net.flows_v1");
    assert_string_equal(c->kafka_topic_events, "net-events");
    assert_string_equal(c->kafka_compression, "zstd");
    assert_string_equal(c->kafka_security_protocol, "sasl_ssl");
    assert_string_equal(c->kafka_sasl_mechanism, "SCRAM-SHA-512");
    assert_string_equal(c->kafka_sasl_username, "sensor");
    assert_string_equal(c->kafka_sasl_password, "tok-123");      /* the file's content, newline cut */
    assert_string_equal(c->kafka_sasl_password_file, f->token);
    assert_int_equal(c->kafka_queue_max_events, 5000);
    assert_int_equal(c->kafka_delivery_timeout_ms, 2000);
    /* the startup line shows the file, never the password */
    struct config_kv kv[128];
    size_t n = config_describe(c, kv, 128);
    for (size_t i = 0; i < n; i++) {
        assert_null(strstr(kv[i].value, "tok-123"));
        if (strcmp(kv[i].var, "AGENT_KAFKA_SASL_PASSWORD_FILE") == 0)
            assert_string_equal(kv[i].value, f->token);
    }
    done(&r);

    one_env_err(f, "AGENT_KAFKA_BROKERS=k1", "AGENT_KAFKA_BROKERS=k1: must be a comma-separated list of "
                "HOST:PORT, port in [1, 65535]");
    one_env_err(f, "AGENT_KAFKA_BROKERS=k1:9092,", "AGENT_KAFKA_BROKERS=k1:9092,: must be a comma-separated "
                "list of HOST:PORT, port in [1, 65535]");
    one_env_err(f, "AGENT_KAFKA_BROKERS=k1:65536", "AGENT_KAFKA_BROKERS=k1:65536: must be a comma-separated "
                "list of HOST:PORT, port in [1, 65535]");
    one_env_err(f, "AGENT_KAFKA_TOPIC_FLOW=a/b", "AGENT_KAFKA_TOPIC_FLOW=a/b: must be 1-249 characters of "
                "[A-Za-z0-9._-], not \".\" or \"..\"");
    one_env_err(f, "AGENT_KAFKA_TOPIC_EVENTS=..", "AGENT_KAFKA_TOPIC_EVENTS=..: must be 1-249 characters of "
                "[A-Za-z0-9._-], not \".\" or \"..\"");
    one_env_err(f, "AGENT_KAFKA_COMPRESSION=brotli", "AGENT_KAFKA_COMPRESSION=brotli: must be one of none, "
                "gzip, snappy, lz4, zstd");
    one_env_err(f, "AGENT_KAFKA_SECURITY_PROTOCOL=tls", "AGENT_KAFKA_SECURITY_PROTOCOL=tls: must be one of "
                "plaintext, ssl, sasl_plaintext, sasl_ssl");
    one_env_err(f, "AGENT_KAFKA_SASL_USERNAME=u", "AGENT_KAFKA_SASL_USERNAME=u: needs "
                "AGENT_KAFKA_SECURITY_PROTOCOL=sasl_plaintext or sasl_ssl");
    one_env_err(f, "AGENT_KAFKA_DELIVERY_TIMEOUT=500ms", "AGENT_KAFKA_DELIVERY_TIMEOUT=500ms: must be "
                "seconds (60, 0.5) or a duration (500ms, 60s, 5m, 1h30m) in [1s, 1h]");
    one_env_err(f, "AGENT_STDOUT=maybe", "AGENT_STDOUT=maybe: must be true or false");
    run(&r, f, true, ENV("AGENT_KAFKA_BROKERS=k1:9092", "AGENT_KAFKA_SECURITY_PROTOCOL=sasl_plaintext"), NULL);
    expect_err(&r, "AGENT_KAFKA_SECURITY_PROTOCOL=sasl_plaintext: needs AGENT_KAFKA_SASL_USERNAME and "
               "AGENT_KAFKA_SASL_PASSWORD_FILE");
    done(&r);
    char bad[160];
    snprintf(bad, sizeof bad, "AGENT_KAFKA_SASL_PASSWORD_FILE=%s", f->token_ctrl);
    run(&r, f, true, ENV("AGENT_KAFKA_SECURITY_PROTOCOL=sasl_plaintext", "AGENT_KAFKA_SASL_USERNAME=u", bad),
        NULL);
    char msg[256];
    snprintf(msg, sizeof msg, "AGENT_KAFKA_SASL_PASSWORD_FILE=%s: must not contain control characters",
             f->token_ctrl);
    expect_err(&r, msg);
    done(&r);
}

static void test_errbuf_overflow_ends_with_dots(void **state)
{
    struct fx *f = *state;
    char *envp[] = { f->pcap_env, "AGENT_SNAP_LEN=abc", "AGENT_BATCH_SIZE=0", "LOG_LEVEL=loud",
                     NULL };
    char *argv[] = { "tracer-sensor", NULL };
    /* 54 chars of line one, "\n...", NUL: 59 bytes */
    char small[60];
    int nerr = -1;
    struct config *c = config_load(1, argv, envp, small, sizeof small, &nerr);
    assert_null(c);
    assert_int_equal(nerr, 3);
    assert_string_equal(small, "AGENT_SNAP_LEN=abc: must be an integer in [64, 262144]\n...");

    char tiny[10];
    c = config_load(1, argv, envp, tiny, sizeof tiny, &nerr);
    assert_null(c);
    assert_int_equal(nerr, 3);
    assert_string_equal(tiny, "...");

    /* no buffer at all: still a count */
    c = config_load(1, argv, envp, NULL, 0, &nerr);
    assert_null(c);
    assert_int_equal(nerr, 3);
}

/* An echoed value keeps its message on one line and bounded in length. */
static void test_echoed_values_one_line(void **state)
{
    struct fx *f = *state;
    one_env_err(f, "LOG_LEVEL=x\ny\tz",
                "LOG_LEVEL=x?y?z: must be one of error, warn, info, debug");

    char kv[512], msg[512];
    char longv[301];
    memset(longv, 'a', 300);
    longv[300] = '\0';
    snprintf(kv, sizeof kv, "LOG_LEVEL=%s", longv);
    snprintf(msg, sizeof msg, "LOG_LEVEL=%.200s...: must be one of error, warn, info, debug",
             longv);
    one_env_err(f, kv, msg);
}

/* ---------------------------------------------------------------- capture source */

static void test_interface(void **state)
{
    struct fx *f = *state;
    if (if_nametoindex("eth9") != 0)
        skip();
    one_env_err(f, "AGENT_INTERFACE=eth9", "AGENT_INTERFACE=eth9: no such network interface");

    struct res r;
    run(&r, f, false, ENV("AGENT_INTERFACE=eth9"), NULL); /* no pcap: still one message */
    expect_err(&r, "AGENT_INTERFACE=eth9: no such network interface");
    run(&r, f, false, NULL, ARGS("--interface", "eth9"));
    expect_err(&r, "--interface=eth9: no such network interface");

    run(&r, f, false, ENV("AGENT_INTERFACE=any"), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->interface, "any");
    assert_null(r.cfg->pcap_file);
    done(&r);

    run(&r, f, false, ENV("AGENT_INTERFACE=lo"), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->interface, "lo");
    done(&r);

    /* interface and pcap file together: both kept */
    run(&r, f, true, ENV("AGENT_INTERFACE=lo"), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->interface, "lo");
    assert_string_equal(r.cfg->pcap_file, f->pcap);
    done(&r);
}

/* An interface other than lo, for lists of two; NULL when the host has none. */
static const char *second_interface(char *buf, size_t len)
{
    struct if_nameindex *all = if_nameindex(), *i;
    const char *found = NULL;
    for (i = all; i && i->if_index != 0; i++) {
        if (strcmp(i->if_name, "lo") != 0 && strlen(i->if_name) < len) {
            snprintf(buf, len, "%s", i->if_name);
            found = buf;
            break;
        }
    }
    if (all)
        if_freenameindex(all);
    return found;
}

/* AGENT_INTERFACE as a list (issue 14.7): each rule's one message, and a valid list split. */
static void test_interface_list(void **state)
{
    struct fx *f = *state;
    struct res r;
    one_env_err(f, "AGENT_INTERFACE=lo,,lo", "AGENT_INTERFACE=lo,,lo: an empty interface name in the list "
                                             "(names are separated by single commas)");
    one_env_err(f, "AGENT_INTERFACE=lo,", "AGENT_INTERFACE=lo,: an empty interface name in the list "
                                          "(names are separated by single commas)");
    one_env_err(f, "AGENT_INTERFACE=,lo", "AGENT_INTERFACE=,lo: an empty interface name in the list "
                                          "(names are separated by single commas)");
    one_env_err(f, "AGENT_INTERFACE=lo,lo", "AGENT_INTERFACE=lo,lo: lo is listed twice");
    one_env_err(f, "AGENT_INTERFACE=any,lo",
                "AGENT_INTERFACE=any,lo: \"any\" captures every interface already: it cannot be listed with others");
    one_env_err(f, "AGENT_INTERFACE=lo,any",
                "AGENT_INTERFACE=lo,any: \"any\" captures every interface already: it cannot be listed with others");
    if (if_nametoindex("eth9") == 0)
        one_env_err(f, "AGENT_INTERFACE=lo,eth9", "AGENT_INTERFACE=lo,eth9: no such network interface: eth9");
    /* 17 names: the count is checked before the names exist or repeat */
    one_env_err(f, "AGENT_INTERFACE=lo,a1,a2,a3,a4,a5,a6,a7,a8,a9,b1,b2,b3,b4,b5,b6,b7",
                "AGENT_INTERFACE=lo,a1,a2,a3,a4,a5,a6,a7,a8,a9,b1,b2,b3,b4,b5,b6,b7: "
                "more than 16 interfaces in the list");
    run(&r, f, false, NULL, ARGS("--interface", "lo,lo"));
    expect_err(&r, "--interface=lo,lo: lo is listed twice");

    run(&r, f, false, ENV("AGENT_INTERFACE=lo"), NULL);
    expect_ok(&r);
    assert_int_equal(r.cfg->interface_count, 1);
    assert_string_equal(r.cfg->interfaces[0], "lo");
    done(&r);

    char other[64], kv[160], val[140];
    if (!second_interface(other, sizeof other))
        skip();
    snprintf(val, sizeof val, "lo,%s", other);
    snprintf(kv, sizeof kv, "AGENT_INTERFACE=%s", val);
    run(&r, f, false, ENV(kv), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->interface, val);
    assert_int_equal(r.cfg->interface_count, 2);
    assert_string_equal(r.cfg->interfaces[0], "lo");
    assert_string_equal(r.cfg->interfaces[1], other);
    done(&r);
}

/* Neither interface nor file: the first up, non-loopback interface, or the one message. */
static void test_default_interface(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, false, NULL, NULL);
    if (r.cfg) {
        assert_int_equal(r.nerr, 0);
        assert_non_null(r.cfg->interface);
        assert_string_not_equal(r.cfg->interface, "lo");
        assert_string_not_equal(r.cfg->interface, "any");
        assert_int_not_equal(if_nametoindex(r.cfg->interface), 0);
        assert_null(r.cfg->pcap_file);
        done(&r);
    } else {
        expect_err(&r, "AGENT_INTERFACE: not set and no up, non-loopback interface found");
    }
}

static void test_identity_settings(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, ENV("AGENT_STATE_DIR=/srv/tracer", "AGENT_SENSOR_ID=edge-7.dc2:rack_4"), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->state_dir, "/srv/tracer");
    assert_true(r.cfg->state_dir_explicit);
    assert_string_equal(r.cfg->sensor_id, "edge-7.dc2:rack_4");
    done(&r);
    one_env_err(f, "AGENT_STATE_DIR=var/lib/x", "AGENT_STATE_DIR=var/lib/x: must be an absolute directory path");
    one_env_err(f, "AGENT_SENSOR_ID=two words",
                "AGENT_SENSOR_ID=two words: must be 1-64 characters from A-Z a-z 0-9 . _ : -");
    one_env_err(f, "AGENT_SENSOR_ID=0123456789012345678901234567890123456789012345678901234567890123x",
                "AGENT_SENSOR_ID=0123456789012345678901234567890123456789012345678901234567890123x: "
                "must be 1-64 characters from A-Z a-z 0-9 . _ : -");
}

static void test_pcap_file(void **state)
{
    struct fx *f = *state;
    char kv[256], msg[512];
    struct res r;
    run(&r, f, false, ENV("AGENT_PCAP_FILE=/nonexistent/x.pcap"), NULL);
    expect_err(&r, "AGENT_PCAP_FILE=/nonexistent/x.pcap: cannot open: "
                   "/nonexistent/x.pcap: No such file or directory");
    run(&r, f, false, NULL, ARGS("--pcap-file", "/nonexistent/x.pcap"));
    expect_err(&r, "--pcap-file=/nonexistent/x.pcap: cannot open: "
                   "/nonexistent/x.pcap: No such file or directory");
    snprintf(kv, sizeof kv, "AGENT_PCAP_FILE=%s", f->garbage);
    snprintf(msg, sizeof msg, "AGENT_PCAP_FILE=%s: cannot open: unknown file format", f->garbage);
    run(&r, f, false, ENV(kv), NULL);
    expect_err(&r, msg);

    snprintf(kv, sizeof kv, "AGENT_PCAP_FILE=%s", f->dir);
    snprintf(msg, sizeof msg, "AGENT_PCAP_FILE=%s: cannot open: error reading dump file: "
             "Is a directory", f->dir);
    run(&r, f, false, ENV(kv), NULL);
    expect_err(&r, msg);

    snprintf(kv, sizeof kv, "AGENT_PCAP_FILE=%s", f->pcapng);
    run(&r, f, false, ENV(kv), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->pcap_file, f->pcapng);
    assert_null(r.cfg->interface);
    done(&r);
}

static void test_bpf_filter(void **state)
{
    struct fx *f = *state;
    one_env_err(f, "AGENT_BPF_FILTER=tcp port",
                "AGENT_BPF_FILTER=tcp port: invalid filter: "
                "can't parse filter expression: syntax error");
    one_env_err(f, "AGENT_BPF_FILTER=port 99999",
                "AGENT_BPF_FILTER=port 99999: invalid filter: illegal port number 99999 > 65535");
    struct res r;
    run(&r, f, true, ENV("AGENT_BPF_FILTER=tcp port 443 or (udp and not port 53)"), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->bpf_filter, "tcp port 443 or (udp and not port 53)");
    done(&r);
}

/* ---------------------------------------------------------------- output */

#define URL_RULE ": must be an http:// or https:// URL with a host"

/* AGENT_HTTP_BODY chooses the body's shape; AGENT_BATCH_SIZE alone never does. */
static void test_http_body_and_events_url(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, ENV("AGENT_BATCH_SIZE=50"), NULL);
    expect_ok(&r);
    assert_int_equal(r.cfg->http_body, CFG_BODY_OBJECT);
    done(&r);
    run(&r, f, true, ENV("AGENT_HTTP_BODY=array"), NULL);
    expect_ok(&r);
    assert_int_equal(r.cfg->http_body, CFG_BODY_ARRAY);
    done(&r);
    run(&r, f, true, NULL, ARGS("--http-body", "ndjson"));
    expect_ok(&r);
    assert_int_equal(r.cfg->http_body, CFG_BODY_NDJSON);
    done(&r);
    one_env_err(f, "AGENT_HTTP_BODY=list", "AGENT_HTTP_BODY=list: must be object, array or ndjson");
    one_env_err(f, "AGENT_EVENTS_ENDPOINT_URL=ftp://x/", "AGENT_EVENTS_ENDPOINT_URL=ftp://x/" URL_RULE);
    one_env_err(f, "AGENT_EVENTS_ENDPOINT_URL=http://127.0.0.1:9/events",
                "AGENT_EVENTS_ENDPOINT_URL=http://127.0.0.1:9/events: needs AGENT_ENDPOINT_URL too "
                "(without it every event goes to stdout)");
    run(&r, f, true, ENV("AGENT_ENDPOINT_URL=http://127.0.0.1:9/flows",
                         "AGENT_EVENTS_ENDPOINT_URL=http://127.0.0.1:9/events"), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->events_endpoint_url, "http://127.0.0.1:9/events");
    done(&r);
}

/* IPFIX / NetFlow v9 export (issue 16): collector URL, protocol, timers, ids. */
static void test_ipfix(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, NULL, NULL);
    expect_ok(&r);
    assert_null(r.cfg->ipfix_collector);
    assert_false(r.cfg->ipfix_netflow9);
    assert_false(r.cfg->ipfix_microseconds);
    assert_int_equal(r.cfg->ipfix_template_refresh_ms, 60000);
    assert_int_equal(r.cfg->ipfix_domain_id, 0);
    done(&r);
    run(&r, f, true, ENV("AGENT_IPFIX_COLLECTOR=udp://127.0.0.1:4739", "AGENT_IPFIX_PROTOCOL=netflow9",
                         "AGENT_IPFIX_TEMPLATE_REFRESH=5s", "AGENT_IPFIX_DOMAIN_ID=4294967295",
                         "AGENT_IPFIX_TIME_PRECISION=us"), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->ipfix_collector, "udp://127.0.0.1:4739");
    assert_string_equal(r.cfg->ipfix_host, "127.0.0.1");
    assert_int_equal(r.cfg->ipfix_port, 4739);
    assert_false(r.cfg->ipfix_tcp);
    assert_true(r.cfg->ipfix_netflow9);
    assert_true(r.cfg->ipfix_microseconds);
    assert_int_equal(r.cfg->ipfix_template_refresh_ms, 5000);
    assert_int_equal(r.cfg->ipfix_domain_id, 4294967295u);
    done(&r);
    run(&r, f, true, NULL, ARGS("--ipfix-collector", "tcp://[2001:db8::1]:9995"));
    expect_ok(&r);
    assert_string_equal(r.cfg->ipfix_host, "2001:db8::1");
    assert_int_equal(r.cfg->ipfix_port, 9995);
    assert_true(r.cfg->ipfix_tcp);
    done(&r);
#define IPFIX_RULE ": must be udp://HOST:PORT or tcp://HOST:PORT (IPv6 in brackets) with a port in [1, 65535]"
    one_env_err(f, "AGENT_IPFIX_COLLECTOR=127.0.0.1:4739", "AGENT_IPFIX_COLLECTOR=127.0.0.1:4739" IPFIX_RULE);
    one_env_err(f, "AGENT_IPFIX_COLLECTOR=sctp://h:4739", "AGENT_IPFIX_COLLECTOR=sctp://h:4739" IPFIX_RULE);
    one_env_err(f, "AGENT_IPFIX_COLLECTOR=udp://h:0", "AGENT_IPFIX_COLLECTOR=udp://h:0" IPFIX_RULE);
    one_env_err(f, "AGENT_IPFIX_COLLECTOR=udp://:4739", "AGENT_IPFIX_COLLECTOR=udp://:4739" IPFIX_RULE);
    one_env_err(f, "AGENT_IPFIX_COLLECTOR=udp://2001:db8::1:4739",
                "AGENT_IPFIX_COLLECTOR=udp://2001:db8::1:4739" IPFIX_RULE);
#undef IPFIX_RULE
    one_env_err(f, "AGENT_IPFIX_PROTOCOL=sflow", "AGENT_IPFIX_PROTOCOL=sflow: must be ipfix or netflow9");
    one_env_err(f, "AGENT_IPFIX_TIME_PRECISION=ns", "AGENT_IPFIX_TIME_PRECISION=ns: must be ms or us");
    one_env_err(f, "AGENT_IPFIX_TEMPLATE_REFRESH=0s",
                "AGENT_IPFIX_TEMPLATE_REFRESH=0s: must be seconds (60, 0.5) or a duration "
                "(500ms, 60s, 5m, 1h30m) in [1s, 1h]");
    run(&r, f, true, ENV("AGENT_IPFIX_COLLECTOR=tcp://h:4739", "AGENT_IPFIX_PROTOCOL=netflow9"), NULL);
    expect_err(&r, "AGENT_IPFIX_PROTOCOL=netflow9: NetFlow v9 goes over UDP only: use a udp:// AGENT_IPFIX_COLLECTOR");
}

static void test_endpoint_url(void **state)
{
    struct fx *f = *state;
    one_env_err(f, "AGENT_ENDPOINT_URL=not a url", "AGENT_ENDPOINT_URL=not a url" URL_RULE);
    one_env_err(f, "AGENT_ENDPOINT_URL=collector:8080", "AGENT_ENDPOINT_URL=collector:8080"
                URL_RULE);
    one_env_err(f, "AGENT_ENDPOINT_URL=ftp://example.com/up",
                "AGENT_ENDPOINT_URL=ftp://example.com/up" URL_RULE);
    one_env_err(f, "AGENT_ENDPOINT_URL=http://", "AGENT_ENDPOINT_URL=http://" URL_RULE);
    /* libcurl reads these with the first path segment as the host ("flows"):
     * the authority as written is empty, or there is none */
    one_env_err(f, "AGENT_ENDPOINT_URL=http:///flows", "AGENT_ENDPOINT_URL=http:///flows" URL_RULE);
    one_env_err(f, "AGENT_ENDPOINT_URL=https:///a/b", "AGENT_ENDPOINT_URL=https:///a/b" URL_RULE);
    one_env_err(f, "AGENT_ENDPOINT_URL=http:/flows", "AGENT_ENDPOINT_URL=http:/flows" URL_RULE);
    one_env_err(f, "AGENT_ENDPOINT_URL=http:flows", "AGENT_ENDPOINT_URL=http:flows" URL_RULE);
    one_env_err(f, "AGENT_ENDPOINT_URL=HTTP:///x", "AGENT_ENDPOINT_URL=HTTP:///x" URL_RULE);

    struct res r;
    run(&r, f, true, ENV("AGENT_ENDPOINT_URL=ftp://alice:pa55word@example.com/up?token=t0p#frag"),
        NULL);
    expect_err(&r, "AGENT_ENDPOINT_URL=ftp://example.com/up" URL_RULE);
    assert_null(strstr(r.err, "alice"));
    assert_null(strstr(r.err, "pa55word"));
    assert_null(strstr(r.err, "t0p"));

    /* malformed (bad port) with credentials and query: still not echoed */
    run(&r, f, true, ENV("AGENT_ENDPOINT_URL=https://bob:s3cret@host:99999/x?token=abc123"),
        NULL);
    expect_err(&r, "AGENT_ENDPOINT_URL=https://host:99999/x" URL_RULE);
    assert_null(strstr(r.err, "s3cret"));
    assert_null(strstr(r.err, "abc123"));

    /* a password holding '/' is cut too */
    run(&r, f, true, ENV("AGENT_ENDPOINT_URL=gopher://bob:se/cr@et@host/x"), NULL);
    expect_err(&r, "AGENT_ENDPOINT_URL=gopher://host/x" URL_RULE);

    /* the flag's name when the flag gave it */
    run(&r, f, true, NULL, ARGS("--endpoint-url", "ftp://u:p@h/?q=1"));
    expect_err(&r, "--endpoint-url=ftp://h/" URL_RULE);

    run(&r, f, true, ENV("AGENT_ENDPOINT_URL=https://user:pw@collector.example:8443/ingest?x=1"),
        NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->endpoint_url, "https://user:pw@collector.example:8443/ingest?x=1");
    done(&r);

    run(&r, f, true, ENV("AGENT_ENDPOINT_URL=HTTP://127.0.0.1:9000/v1/flows"), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->endpoint_url, "HTTP://127.0.0.1:9000/v1/flows");
    done(&r);

    /* the shortest host, and an IPv6 literal */
    run(&r, f, true, ENV("AGENT_ENDPOINT_URL=http://h"), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->endpoint_url, "http://h");
    done(&r);
    run(&r, f, true, ENV("AGENT_ENDPOINT_URL=http://[::1]:8080/flows"), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->endpoint_url, "http://[::1]:8080/flows");
    done(&r);
}

static void test_send_interval(void **state)
{
    static const struct { const char *v; uint32_t ms; } good[] = {
        { "1", 1000 },     { "0.5", 500 },     { "250ms", 250 },   { "2m", 120000 },
        { "1m30s", 90000 }, { "1h", 3600000 },  { "10ms", 10 },     { "1.5s", 1500 },
        { "3600", 3600000 }, { "0.01", 10 },    { "2s", 2000 },     { "10000us", 10 },
        { "10000000ns", 10 }, { "0.5h", 1800000 }, { "1h0m0s", 3600000 }, { ".5", 500 },
        { "15000\xc2\xb5s", 15 },
    };
    static const char *const bad[] = {
        "0", "2h", "3601", "9ms", "1500us", "0.001", "abc", "1m30", "-1s", "+1s", "1 s", " 1",
        "1x", ".", "s", "1e3", "1h1ms", "99999999999999999999h", "0.5.5", "",
    };
    struct fx *f = *state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char kv[64];
        snprintf(kv, sizeof kv, "AGENT_SEND_INTERVAL=%s", good[i].v);
        struct res r;
        run(&r, f, true, ENV(kv), NULL);
        expect_ok(&r);
        assert_int_equal(r.cfg->send_interval_ms, good[i].ms);
        done(&r);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char arg[64], msg[256];
        snprintf(arg, sizeof arg, "--send-interval=%s", bad[i]);
        struct res r;
        run(&r, f, true, NULL, ARGS(arg));
        if (bad[i][0] == '\0') { /* empty is the default, not an error */
            expect_ok(&r);
            assert_int_equal(r.cfg->send_interval_ms, 1000);
            done(&r);
            continue;
        }
        snprintf(msg, sizeof msg, "--send-interval=%s: must be seconds (60, 0.5) or a duration "
                 "(500ms, 60s, 5m, 1h30m) in [10ms, 1h]", bad[i]);
        expect_err(&r, msg);
    }
    one_env_err(f, "AGENT_SEND_INTERVAL=0",
                "AGENT_SEND_INTERVAL=0: must be seconds (60, 0.5) or a duration "
                "(500ms, 60s, 5m, 1h30m) in [10ms, 1h]");
    one_env_err(f, "AGENT_SEND_INTERVAL=2h",
                "AGENT_SEND_INTERVAL=2h: must be seconds (60, 0.5) or a duration "
                "(500ms, 60s, 5m, 1h30m) in [10ms, 1h]");
}

/*
 * Every time setting takes the same forms (issue 18 item 13): a bare number
 * keeps its documented unit (seconds), and 60s, 5m, 1h30m, 1d work for the
 * flow timeouts and the topology period as they do for the intervals.
 */
struct durcase {
    const char *var, *flag;
    size_t off;
    uint32_t min, max;      /* in the field's unit */
    const char *lo, *hi;    /* as the rule shows them */
    bool secs;              /* field in seconds (else ms) */
};

#define FD(field) offsetof(struct config, field)

static const struct durcase DURS[] = {
    { "AGENT_TCP_IDLE_TIMEOUT", "--tcp-idle-timeout", FD(tcp_idle_timeout_s), 1, 86400, "1s", "1d", true },
    { "AGENT_UDP_IDLE_TIMEOUT", "--udp-idle-timeout", FD(udp_idle_timeout_s), 1, 86400, "1s", "1d", true },
    { "AGENT_IDLE_TIMEOUT", "--idle-timeout", FD(idle_timeout_s), 1, 86400, "1s", "1d", true },
    { "AGENT_ACTIVE_TIMEOUT", "--active-timeout", FD(active_timeout_s), 1, 604800, "1s", "7d", true },
    { "AGENT_TOPOLOGY_INTERVAL", "--topology-interval", FD(topology_interval_s), 0, 86400, "0s", "1d", true },
    { "AGENT_SEND_INTERVAL", "--send-interval", FD(send_interval_ms), 10, 3600000, "10ms", "1h", false },
    { "AGENT_CONNECT_TIMEOUT", "--connect-timeout", FD(connect_timeout_ms), 10, 600000, "10ms", "10m", false },
    { "AGENT_REQUEST_TIMEOUT", "--request-timeout", FD(request_timeout_ms), 10, 3600000, "10ms", "1h", false },
    { "AGENT_SPOOL_AFTER", "--spool-after", FD(spool_after_ms), 0, 3600000, "0s", "1h", false },
    { "AGENT_SHUTDOWN_TIMEOUT", "--shutdown-timeout", FD(shutdown_timeout_ms), 0, 3600000, "0s", "1h", false },
    { "AGENT_STATS_INTERVAL", "--stats-interval", FD(stats_interval_ms), 0, 86400000, "0s", "1d", false },
};

static void dur_rule(const struct durcase *d, char *buf, size_t len)
{
    if (d->secs)
        snprintf(buf, len, "must be whole seconds, bare (60) or as a duration (60s, 5m, 1h30m), in [%s, %s]",
                 d->lo, d->hi);
    else
        snprintf(buf, len, "must be seconds (60, 0.5) or a duration (500ms, 60s, 5m, 1h30m) in [%s, %s]",
                 d->lo, d->hi);
}

static uint32_t dur_value(const struct config *c, const struct durcase *d)
{
    uint32_t v;
    memcpy(&v, (const unsigned char *)c + d->off, sizeof v);
    return v;
}

static void dur_ok(const struct fx *f, const struct durcase *d, const char *val, uint32_t want)
{
    char kv[128];
    snprintf(kv, sizeof kv, "%s=%s", d->var, val);
    struct res r;
    run(&r, f, true, ENV(kv), NULL);
    if (!r.cfg)
        print_error("%s: %s\n", kv, r.err);
    expect_ok(&r);
    assert_int_equal(dur_value(r.cfg, d), want);
    done(&r);
    /* the flag takes the same forms */
    snprintf(kv, sizeof kv, "%s=%s", d->flag, val);
    run(&r, f, true, NULL, ARGS(kv));
    expect_ok(&r);
    assert_int_equal(dur_value(r.cfg, d), want);
    done(&r);
}

static void dur_bad(const struct fx *f, const struct durcase *d, const char *val)
{
    char kv[128], rule[160], msg[320];
    snprintf(kv, sizeof kv, "%s=%s", d->var, val);
    dur_rule(d, rule, sizeof rule);
    snprintf(msg, sizeof msg, "%s=%s: %s", d->var, val, rule);
    one_env_err(f, kv, msg);
}

static void test_duration_forms(void **state)
{
    struct fx *f = *state;
    for (size_t i = 0; i < sizeof DURS / sizeof DURS[0]; i++) {
        const struct durcase *d = &DURS[i];
        uint32_t per_s = d->secs ? 1 : 1000;   /* field units per second */
        dur_ok(f, d, "60", 60 * per_s);
        dur_ok(f, d, "60s", 60 * per_s);
        dur_ok(f, d, "5m", 300 * per_s);
        dur_ok(f, d, "1m30s", 90 * per_s);
        dur_ok(f, d, "0.5m", 30 * per_s);
        dur_ok(f, d, d->hi, d->max);
        dur_ok(f, d, d->lo, d->min);
        if (d->max >= 5400 * per_s)
            dur_ok(f, d, "1h30m", 5400 * per_s);
        if (d->max >= 86400 * per_s) {
            dur_ok(f, d, "1d", 86400 * per_s);
            dur_ok(f, d, "24h", 86400 * per_s);
        }
        dur_bad(f, d, "abc");
        dur_bad(f, d, "-1");
        dur_bad(f, d, "+5s");
        dur_bad(f, d, "5 s");
        dur_bad(f, d, "5x");
        dur_bad(f, d, "1m30");      /* a bare number only as the whole value */
        dur_bad(f, d, "1e3");
        dur_bad(f, d, "8d");        /* above every maximum */
        dur_bad(f, d, "99999999999999999999h");
        if (d->min > 0) {
            char below[32];
            snprintf(below, sizeof below, "%ums", d->secs ? d->min * 1000 - 1 : d->min - 1);
            dur_bad(f, d, below);
        }
        if (d->secs) {
            dur_bad(f, d, "1.5");   /* not whole seconds: refused, not rounded */
            dur_bad(f, d, "1500ms");
        } else {
            dur_ok(f, d, "1.5", 1500);
            dur_ok(f, d, "1500ms", 1500);
        }
    }
    /* literal messages, so the table above is not the only witness */
    one_env_err(f, "AGENT_TCP_IDLE_TIMEOUT=0", "AGENT_TCP_IDLE_TIMEOUT=0: must be whole seconds, bare "
                "(60) or as a duration (60s, 5m, 1h30m), in [1s, 1d]");
    one_env_err(f, "AGENT_ACTIVE_TIMEOUT=604801", "AGENT_ACTIVE_TIMEOUT=604801: must be whole "
                "seconds, bare (60) or as a duration (60s, 5m, 1h30m), in [1s, 7d]");
    struct res r;
    run(&r, f, true, NULL, ARGS("--udp-idle-timeout", "2.5s"));
    expect_err(&r, "--udp-idle-timeout=2.5s: must be whole seconds, bare (60) or as a duration "
               "(60s, 5m, 1h30m), in [1s, 1d]");
    run(&r, f, true, ENV("AGENT_TCP_IDLE_TIMEOUT=60s", "AGENT_ACTIVE_TIMEOUT=1h30m",
                         "AGENT_IDLE_TIMEOUT=5m", "AGENT_UDP_IDLE_TIMEOUT=45"), NULL);
    expect_ok(&r);
    assert_int_equal(r.cfg->tcp_idle_timeout_s, 60);
    assert_int_equal(r.cfg->active_timeout_s, 5400);
    assert_int_equal(r.cfg->idle_timeout_s, 300);
    assert_int_equal(r.cfg->udp_idle_timeout_s, 45);
    done(&r);
}

/* AGENT_LOCAL_NETWORKS: checked at start with the sender's parser, kept as given. */
static void test_local_networks(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, ENV("AGENT_LOCAL_NETWORKS=10.0.0.0/8, fd00::/8"), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->local_networks, "10.0.0.0/8, fd00::/8");
    done(&r);
    run(&r, f, true, NULL, NULL);
    expect_ok(&r);
    assert_null(r.cfg->local_networks);
    done(&r);
    one_env_err(f, "AGENT_LOCAL_NETWORKS=10.0.0.0/33",
                "AGENT_LOCAL_NETWORKS=10.0.0.0/33: \"10.0.0.0/33\": prefix length must be in [0, 32]: must be "
                "comma-separated CIDRs (10.0.0.0/8,fd00::/8)");
    run(&r, f, true, NULL, ARGS("--local-networks", "10.0.0.0/8,lan"));
    expect_err(&r, "--local-networks=10.0.0.0/8,lan: \"lan\": not an IPv4 or IPv6 address: must be "
               "comma-separated CIDRs (10.0.0.0/8,fd00::/8)");
}

/* Statistics, TCP health and process settings (issue 15 items 4-7). */
static void test_flow_stats_settings(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, ENV("AGENT_VLAN_IN_KEY=true"), NULL);
    expect_ok(&r);
    assert_false(r.cfg->flow_stats);
    assert_int_equal(r.cfg->early_packets, 8);
    assert_true(r.cfg->tcp_health);
    assert_true(r.cfg->process_info);
    done(&r);
    run(&r, f, true, ENV("AGENT_FLOW_STATS=false", "AGENT_EARLY_PACKETS=32", "AGENT_TCP_HEALTH=no",
                         "AGENT_PROCESS_INFO=off"), NULL);
    expect_ok(&r);
    assert_false(r.cfg->flow_stats);
    assert_int_equal(r.cfg->early_packets, 32);
    assert_false(r.cfg->tcp_health);
    assert_false(r.cfg->process_info);
    done(&r);
    run(&r, f, true, ENV("AGENT_EARLY_PACKETS=5"), ARGS("--early-packets=0", "--tcp-health=false"));
    expect_ok(&r);
    assert_int_equal(r.cfg->early_packets, 0);
    assert_false(r.cfg->tcp_health);
    done(&r);
    one_env_err(f, "AGENT_EARLY_PACKETS=33", "AGENT_EARLY_PACKETS=33: must be an integer in [0, 32]");
    one_env_err(f, "AGENT_FLOW_STATS=maybe", "AGENT_FLOW_STATS=maybe: must be true or false");
    one_env_err(f, "AGENT_PROCESS_INFO=2", "AGENT_PROCESS_INFO=2: must be true or false");
}

static void test_vlan_in_key(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, ENV("AGENT_VLAN_IN_KEY=false"), NULL);
    expect_ok(&r);
    assert_false(r.cfg->vlan_in_key);
    done(&r);
    run(&r, f, true, ENV("AGENT_VLAN_IN_KEY=false"), ARGS("--vlan-in-key=yes"));
    expect_ok(&r);
    assert_true(r.cfg->vlan_in_key);
    done(&r);
    one_env_err(f, "AGENT_VLAN_IN_KEY=outer", "AGENT_VLAN_IN_KEY=outer: must be true or false");
}

static void test_decap(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, ENV("AGENT_DECAP=off"), NULL);
    expect_ok(&r);
    assert_false(r.cfg->decap);
    done(&r);
    run(&r, f, true, ENV("AGENT_DECAP=off"), ARGS("--decap=on"));
    expect_ok(&r);
    assert_true(r.cfg->decap);
    done(&r);
    one_env_err(f, "AGENT_DECAP=inner", "AGENT_DECAP=inner: must be true or false");
}

static void test_dpi_settings(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, ENV("AGENT_DPI=off", "AGENT_DPI_FLOWS=16"), NULL);
    expect_ok(&r);
    assert_false(r.cfg->dpi);
    assert_int_equal(r.cfg->dpi_flows, 16);
    done(&r);
    run(&r, f, true, ENV("AGENT_DPI=off"), ARGS("--dpi=on", "--dpi-flows=1048576"));
    expect_ok(&r);
    assert_true(r.cfg->dpi);
    assert_int_equal(r.cfg->dpi_flows, 1048576);
    done(&r);
    one_env_err(f, "AGENT_DPI=ndpi", "AGENT_DPI=ndpi: must be true or false");
    one_env_err(f, "AGENT_DPI_FLOWS=15", "AGENT_DPI_FLOWS=15: must be an integer in [16, 1048576]");
}

static void test_promiscuous_and_log_level(void **state)
{
    static const struct { const char *v; bool b; } bools[] = {
        { "true", true }, { "TRUE", true }, { "1", true }, { "yes", true }, { "On", true },
        { "false", false }, { "False", false }, { "0", false }, { "no", false }, { "OFF", false },
    };
    static const struct { const char *v; enum log_level_value l; } levels[] = {
        { "error", CFG_LOG_ERROR }, { "WARN", CFG_LOG_WARN }, { "Info", CFG_LOG_INFO },
        { "debug", CFG_LOG_DEBUG },
    };
    struct fx *f = *state;
    struct res r;
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
        char kv[64];
        snprintf(kv, sizeof kv, "AGENT_PROMISCUOUS=%s", bools[i].v);
        run(&r, f, true, ENV(kv), NULL);
        expect_ok(&r);
        assert_int_equal(r.cfg->promiscuous, bools[i].b);
        done(&r);
    }
    one_env_err(f, "AGENT_PROMISCUOUS=maybe", "AGENT_PROMISCUOUS=maybe: must be true or false");
    one_env_err(f, "AGENT_PROMISCUOUS=2", "AGENT_PROMISCUOUS=2: must be true or false");
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        char kv[64];
        snprintf(kv, sizeof kv, "LOG_LEVEL=%s", levels[i].v);
        run(&r, f, true, ENV(kv), NULL);
        expect_ok(&r);
        assert_int_equal(r.cfg->log_level, levels[i].l);
        done(&r);
    }
    one_env_err(f, "LOG_LEVEL=warning",
                "LOG_LEVEL=warning: must be one of error, warn, info, debug");
    run(&r, f, true, NULL, ARGS("--log-level", "trace"));
    expect_err(&r, "--log-level=trace: must be one of error, warn, info, debug");
}

/* AGENT_SECCOMP: on unless turned off, a boolean like the others. */
static void test_seccomp(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, NULL, NULL);
    expect_ok(&r);
    assert_true(r.cfg->seccomp);
    done(&r);
    run(&r, f, true, ENV("AGENT_SECCOMP=false"), NULL);
    expect_ok(&r);
    assert_false(r.cfg->seccomp);
    done(&r);
    run(&r, f, true, ENV("AGENT_SECCOMP=false"), ARGS("--seccomp=on"));
    expect_ok(&r);
    assert_true(r.cfg->seccomp);
    done(&r);
    one_env_err(f, "AGENT_SECCOMP=strict", "AGENT_SECCOMP=strict: must be true or false");
}

/* ---------------------------------------------------------------- secrets */

static void test_auth_token(void **state)
{
    struct fx *f = *state;
    char kv[256], msg[512];
    struct res r;

    run(&r, f, true, ENV("AGENT_AUTH_TOKEN=plain-token"), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->auth_token, "plain-token");
    done(&r);

    snprintf(kv, sizeof kv, "AGENT_AUTH_TOKEN_FILE=%s", f->token);
    run(&r, f, true, ENV(kv), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->auth_token, "tok-123"); /* "\r\n" cut */
    done(&r);

    snprintf(kv, sizeof kv, "AGENT_AUTH_TOKEN_FILE=%s", f->token_max);
    run(&r, f, true, ENV(kv), NULL);
    expect_ok(&r);
    assert_int_equal(strlen(r.cfg->auth_token), 65536);
    done(&r);

    run(&r, f, true, ENV("AGENT_AUTH_TOKEN=x", kv), NULL);
    expect_err(&r, "AGENT_AUTH_TOKEN and AGENT_AUTH_TOKEN_FILE: set only one");
    assert_null(strstr(r.err, "x:"));

    /* flags: same rule under the flags' names; a flag hides both variables */
    run(&r, f, true, NULL, ARGS("--auth-token=x", "--auth-token-file", f->token));
    expect_err(&r, "--auth-token and --auth-token-file: set only one");
    run(&r, f, true, ENV("AGENT_AUTH_TOKEN_FILE=/nonexistent/token"), ARGS("--auth-token=flag"));
    expect_ok(&r);
    assert_string_equal(r.cfg->auth_token, "flag");
    done(&r);

    one_env_err(f, "AGENT_AUTH_TOKEN_FILE=/nonexistent/token",
                "AGENT_AUTH_TOKEN_FILE=/nonexistent/token: cannot read: "
                "No such file or directory");

    snprintf(kv, sizeof kv, "AGENT_AUTH_TOKEN_FILE=%s", f->token_empty);
    snprintf(msg, sizeof msg, "AGENT_AUTH_TOKEN_FILE=%s: must not be empty", f->token_empty);
    one_env_err(f, kv, msg);

    snprintf(kv, sizeof kv, "AGENT_AUTH_TOKEN_FILE=%s", f->token_big);
    snprintf(msg, sizeof msg, "AGENT_AUTH_TOKEN_FILE=%s: must be at most 65536 bytes",
             f->token_big);
    one_env_err(f, kv, msg);

    snprintf(kv, sizeof kv, "AGENT_AUTH_TOKEN_FILE=%s", f->token_ctrl);
    snprintf(msg, sizeof msg, "AGENT_AUTH_TOKEN_FILE=%s: must not contain control characters",
             f->token_ctrl);
    run(&r, f, true, ENV(kv), NULL);
    expect_err(&r, msg);
    assert_null(strstr(r.err, "abc"));

    snprintf(kv, sizeof kv, "AGENT_AUTH_TOKEN_FILE=%s", f->dir);
    snprintf(msg, sizeof msg, "AGENT_AUTH_TOKEN_FILE=%s: cannot read: Is a directory", f->dir);
    one_env_err(f, kv, msg);

    /* the same rule as the HMAC key: one line end cut, a second one is the token's (refused) */
    snprintf(kv, sizeof kv, "AGENT_AUTH_TOKEN_FILE=%s", f->token_2lf);
    snprintf(msg, sizeof msg, "AGENT_AUTH_TOKEN_FILE=%s: must not contain control characters",
             f->token_2lf);
    one_env_err(f, kv, msg);
}

/* A secret given as a flag is visible in /proc/PID/cmdline: a warning names the _FILE forms. */
static void test_secret_on_command_line_warns(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, NULL, ARGS("--auth-token=tok", "--hmac-key", "k3y", "--user=root"));
    expect_ok(&r);
    assert_non_null(r.cfg->warnings);
    assert_string_equal(r.cfg->warnings,
                        "--auth-token: a secret on the command line is readable by every local user "
                        "(ps, /proc/PID/cmdline); use --auth-token-file or AGENT_AUTH_TOKEN_FILE instead\n"
                        "--hmac-key: a secret on the command line is readable by every local user "
                        "(ps, /proc/PID/cmdline); use --hmac-key-file or AGENT_HMAC_KEY_FILE instead");
    assert_null(strstr(r.cfg->warnings, "tok\n"));
    assert_null(strstr(r.cfg->warnings, "k3y"));
    done(&r);

    /* the environment (readable only by the same user) and files: no warning */
    char kv[256];
    snprintf(kv, sizeof kv, "AGENT_HMAC_KEY_FILE=%s", f->key_bin);
    run(&r, f, true, ENV("AGENT_AUTH_TOKEN=tok", "AGENT_USER=root", kv), NULL);
    expect_ok(&r);
    assert_null(r.cfg->warnings);
    done(&r);
}

/* A token value never appears in any message, whatever else goes wrong. */
static void test_token_never_in_messages(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, ENV("AGENT_AUTH_TOKEN=hunter2\r\nX-Evil: 1"), NULL);
    expect_err(&r, "AGENT_AUTH_TOKEN=<redacted>: must not contain control characters");
    assert_null(strstr(r.err, "hunter2"));

    run(&r, f, true, NULL, ARGS("--auth-token", "hunter2\x01"));
    expect_err(&r, "--auth-token=<redacted>: must not contain control characters");

    run(&r, f, true, ENV("AGENT_AUTH_TOKEN=hunter2", "AGENT_HMAC_KEY=k3y-material",
                         "AGENT_SNAP_LEN=1", "AGENT_ENDPOINT_URL=ftp://hunter2@h/?k3y-material"),
        ARGS("--bogus=hunter2"));
    assert_null(r.cfg);
    assert_int_equal(r.nerr, 3);
    assert_string_equal(r.err, "--bogus: unknown flag (see --help)\n"
                               "AGENT_SNAP_LEN=1: must be an integer in [64, 262144]\n"
                               "AGENT_ENDPOINT_URL=ftp://h/" URL_RULE);
    assert_null(strstr(r.err, "hunter2"));
    assert_null(strstr(r.err, "k3y"));
}

static void test_hmac_key(void **state)
{
    struct fx *f = *state;
    char kv[256];
    struct res r;

    run(&r, f, true, ENV("AGENT_HMAC_KEY=abc"), NULL);
    expect_ok(&r);
    assert_int_equal(r.cfg->hmac_key_len, 3);
    assert_memory_equal(r.cfg->hmac_key, "abc", 3);
    done(&r);

    snprintf(kv, sizeof kv, "AGENT_HMAC_KEY_FILE=%s", f->key_bin);
    run(&r, f, true, ENV(kv), NULL);
    expect_ok(&r);
    assert_int_equal(r.cfg->hmac_key_len, 4); /* binary kept, trailing "\n" cut */
    assert_memory_equal(r.cfg->hmac_key, "k\0ey", 4);
    done(&r);

    /* exactly one line end is cut: "\r\n" here, the "\r" before it is key material */
    snprintf(kv, sizeof kv, "AGENT_HMAC_KEY_FILE=%s", f->key_crcrlf);
    run(&r, f, true, ENV(kv), NULL);
    expect_ok(&r);
    assert_int_equal(r.cfg->hmac_key_len, 4);
    assert_memory_equal(r.cfg->hmac_key, "key\r", 4);
    done(&r);

    snprintf(kv, sizeof kv, "AGENT_HMAC_KEY_FILE=%s", f->key_2lf);
    run(&r, f, true, ENV(kv), NULL);
    expect_ok(&r);
    assert_int_equal(r.cfg->hmac_key_len, 4);
    assert_memory_equal(r.cfg->hmac_key, "key\n", 4);
    done(&r);

    snprintf(kv, sizeof kv, "AGENT_HMAC_KEY_FILE=%s", f->key_bin);
    run(&r, f, true, ENV("AGENT_HMAC_KEY=abc", kv), NULL);
    expect_err(&r, "AGENT_HMAC_KEY and AGENT_HMAC_KEY_FILE: set only one");

    run(&r, f, true, NULL, ARGS("--hmac-key-file=/nonexistent/key"));
    expect_err(&r, "--hmac-key-file=/nonexistent/key: cannot read: No such file or directory");

    snprintf(kv, sizeof kv, "AGENT_HMAC_KEY_FILE=%s", f->token_empty);
    run(&r, f, true, ENV(kv), NULL);
    assert_null(r.cfg);
    assert_int_equal(r.nerr, 1);
    assert_non_null(strstr(r.err, ": must not be empty"));
}

/* ---------------------------------------------------------------- spool */

static void test_spool_dir(void **state)
{
    struct fx *f = *state;
    one_env_err(f, "AGENT_SPOOL_DIR=/nonexistent/spool",
                "AGENT_SPOOL_DIR=/nonexistent/spool: must be an existing writable directory");

    char kv[256], msg[512];
    snprintf(kv, sizeof kv, "AGENT_SPOOL_DIR=%s", f->pcap); /* a file, not a directory */
    snprintf(msg, sizeof msg, "AGENT_SPOOL_DIR=%s: must be an existing writable directory",
             f->pcap);
    one_env_err(f, kv, msg);

    /* the sensor's own directory (AGENT_USER=root: the user the tests run as keeps its uid) */
    snprintf(kv, sizeof kv, "AGENT_SPOOL_DIR=%s", f->dir);
    struct res r;
    run(&r, f, true, ENV(kv, "AGENT_SPOOL_MAX_MB=10", "AGENT_USER=root"), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->spool_dir, f->dir);
    assert_int_equal(r.cfg->spool_max_mb, 10);
    done(&r);

    /* writable by group or others: anyone could plant a batch the sensor would POST */
    char sub[128];
    snprintf(sub, sizeof sub, "%s/spool-open", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(chmod(sub, 0777), 0);
    snprintf(kv, sizeof kv, "AGENT_SPOOL_DIR=%s", sub);
    snprintf(msg, sizeof msg, "AGENT_SPOOL_DIR=%s: must be owned by the sensor's user (uid %u, "
             "AGENT_USER=%s) and not writable by group or others; it is owned by uid %u with mode 0777",
             sub, (unsigned)geteuid(), geteuid() == 0 ? "root" : "unchanged", (unsigned)geteuid());
    run(&r, f, true, ENV(kv, "AGENT_USER=root"), NULL);
    expect_err(&r, msg);
    assert_int_equal(chmod(sub, 0720), 0);
    snprintf(msg, sizeof msg, "AGENT_SPOOL_DIR=%s: must be owned by the sensor's user (uid %u, "
             "AGENT_USER=%s) and not writable by group or others; it is owned by uid %u with mode 0720",
             sub, (unsigned)geteuid(), geteuid() == 0 ? "root" : "unchanged", (unsigned)geteuid());
    run(&r, f, true, ENV(kv, "AGENT_USER=root"), NULL);
    expect_err(&r, msg);
    assert_int_equal(chmod(sub, 0755), 0);

    if (geteuid() == 0) {
        /* started as root for AGENT_USER=nobody: a root-owned directory is refused (the
         * sensor runs as nobody), one owned by nobody is accepted */
        snprintf(msg, sizeof msg, "AGENT_SPOOL_DIR=%s: must be owned by the sensor's user (uid 65534, "
                 "AGENT_USER=nobody) and not writable by group or others; it is owned by uid 0 with "
                 "mode 0755", sub);
        run(&r, f, true, ENV(kv, "AGENT_USER=nobody"), NULL);
        expect_err(&r, msg);
        assert_int_equal(chown(sub, 65534, 65534), 0);
        run(&r, f, true, ENV(kv, "AGENT_USER=nobody"), NULL);
        expect_ok(&r);
        assert_string_equal(r.cfg->spool_dir, sub);
        assert_string_equal(r.cfg->user, "nobody");
        done(&r);
        /* ... and nobody's directory is not root's */
        snprintf(msg, sizeof msg, "AGENT_SPOOL_DIR=%s: must be owned by the sensor's user (uid 0, "
                 "AGENT_USER=root) and not writable by group or others; it is owned by uid 65534 with "
                 "mode 0755", sub);
        run(&r, f, true, ENV(kv, "AGENT_USER=root"), NULL);
        expect_err(&r, msg);
    }
    assert_int_equal(rmdir(sub), 0);
}

/* AGENT_USER defaults to the dedicated account, or nobody (with a warning) when it is missing. */
static void test_default_user(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, NULL, NULL);
    expect_ok(&r);
    struct passwd *pw = getpwnam("tracer-sensor");
    if (pw) {
        assert_string_equal(r.cfg->user, "tracer-sensor");
        assert_null(r.cfg->warnings);
    } else {
        assert_string_equal(r.cfg->user, "nobody");
        if (geteuid() == 0)
            assert_string_equal(r.cfg->warnings,
                                "AGENT_USER: the default user tracer-sensor does not exist; running as "
                                "the shared user nobody, which other services also use (create the "
                                "account: useradd --system --no-create-home --shell /usr/sbin/nologin "
                                "tracer-sensor; or set AGENT_USER)");
        else
            assert_null(r.cfg->warnings);   /* not root: no switch, nothing to warn about */
    }
    done(&r);
    run(&r, f, true, ENV("AGENT_USER=nobody"), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->user, "nobody");
    assert_null(r.cfg->warnings);
    done(&r);
}

/* ---------------------------------------------------------------- help, destroy */

static void test_print_help(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    assert_non_null(m);
    config_print_help(m);
    assert_int_equal(fclose(m), 0);

    assert_true(strncmp(text, "Usage: tracer-sensor [options] [BPF expression]\n", 48) == 0);
    static const char *const must[] = {
        "--interface", "AGENT_INTERFACE", "--pcap-file", "--bpf-filter", "--snap-len",
        "--promiscuous", "--pcap-buffer-mb", "--endpoint-url", "--batch-size",
        "--send-interval", "--auth-token ", "--auth-token-file", "--hmac-key ",
        "--hmac-key-file", "--spool-dir", "--spool-max-mb", "--tcp-idle-timeout",
        "--udp-idle-timeout", "--idle-timeout", "--active-timeout", "--max-flows",
        "--community-id-seed", "--packet-ring-slots", "--event-ring-slots", "--log-level",
        "LOG_LEVEL", "AGENT_EVENT_RING_SLOTS", "-h, --help", "-V, --version",
        "default: 256", "default: 65536", "default: 1s", "[64, 262144]",
    };
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++) {
        if (!strstr(text, must[i]))
            print_error("help lacks \"%s\"\n", must[i]);
        assert_non_null(strstr(text, must[i]));
    }
    /* grouped by what they do: each setting under its section, each shown once */
    static const struct { const char *section, *flag; } placed[] = {
        { "\nCapture:\n", "--bpf-filter" }, { "\nFlows:\n", "--tcp-idle-timeout" },
        { "\nFlows:\n", "--active-timeout" }, { "\nFlows:\n", "--max-flows" },
        { "\nFlows:\n", "--local-networks" },
        { "\nOutput:\n", "--endpoint-url" }, { "\nOutput:\n", "--tls-ca-file" },
        { "\nDelivery:\n", "--spool-dir" }, { "\nDelivery:\n", "--shutdown-timeout" },
        { "\nPipeline:\n", "--packet-ring-slots" }, { "\nInspection:\n", "--dpi" }, { "\nHooks:\n", "--topology-interval" },
        { "\nMonitoring:\n", "--stats-interval" }, { "\nMonitoring:\n", "--metrics-addr" },
        { "\nLogging and privileges:\n", "--log-file" },
        { "\nIPFIX and NetFlow v9 export:\n", "--ipfix-collector" },
    };
    for (size_t i = 0; i < sizeof placed / sizeof placed[0]; i++) {
        const char *sec = strstr(text, placed[i].section);
        assert_non_null(sec);
        const char *end = strstr(sec + strlen(placed[i].section), "\n\n");
        char needle[64];
        snprintf(needle, sizeof needle, "\n  %s ", placed[i].flag);
        const char *at = strstr(sec, needle);
        if (!at || (end && at > end))
            fail_msg("%s is not under %s", placed[i].flag, placed[i].section + 1);
    }
    size_t shown = 0;
    for (const char *p = text; (p = strstr(p, "\n  --")) != NULL; p++)
        shown += strncmp(p, "\n  --once ", 10) != 0 &&   /* the one-shot modes are not settings */
                 strncmp(p, "\n  --dump-request ", 18) != 0;
    assert_int_equal(shown, config_setting_count());
    if (strstr(text, "\nOther settings:\n"))
        fail_msg("a setting is in no --help section: add it to SECTIONS in config/config.c\n%s",
                 strstr(text, "\nOther settings:\n"));
    /* every line fits 100 columns, no tabs */
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (l > 100)
            print_error("too long (%zu): %.*s\n", l, (int)l, p);
        assert_true(l <= 100);
        assert_null(memchr(p, '\t', l));
        p += l + (nl ? 1 : 0);
    }
    free(text);
}

/* ---------------------------------------------------------------- monitoring, log format */

/* --once sensor, --dump-request FILE (issue 17.4) */
static void test_once_sensor_and_dump_request(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, NULL, ARGS("--once", "sensor"));
    expect_ok(&r);
    assert_int_equal(r.cfg->once, CFG_ONCE_SENSOR);
    assert_null(r.cfg->dump_request);
    done(&r);
    run(&r, f, true, ENV("AGENT_ENDPOINT_URL=http://127.0.0.1:9/x"), ARGS("--dump-request", "/tmp/req"));
    expect_ok(&r);
    assert_string_equal(r.cfg->dump_request, "/tmp/req");
    assert_int_equal(r.cfg->once, CFG_ONCE_NONE);
    done(&r);
    run(&r, f, true, ENV("AGENT_ENDPOINT_URL=http://127.0.0.1:9/x"), ARGS("--dump-request=-"));
    expect_ok(&r);
    assert_string_equal(r.cfg->dump_request, "-");
    done(&r);
    run(&r, f, true, NULL, ARGS("--dump-request", "/tmp/req"));
    expect_err(&r, "--dump-request /tmp/req: needs AGENT_ENDPOINT_URL (the request is the one POSTed there)");
    run(&r, f, true, ENV("AGENT_ENDPOINT_URL=http://127.0.0.1:9/x"), ARGS("--dump-request"));
    expect_err(&r, "--dump-request: missing the file name (--dump-request FILE, - for standard output)");
    run(&r, f, true, ENV("AGENT_ENDPOINT_URL=http://127.0.0.1:9/x"), ARGS("--dump-request", "r", "--once", "sensor"));
    expect_err(&r, "--dump-request and --once: choose one");
    run(&r, f, true, NULL, ARGS("--once", "sensors"));
    expect_err(&r, "--once sensors: must be topology, sensor or snmp NAME");
}

static void test_log_format_and_metrics_addr(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, NULL, NULL);
    expect_ok(&r);
    assert_int_equal(r.cfg->log_format, CFG_LOG_LOGFMT);
    assert_null(r.cfg->metrics_addr);
    done(&r);
    run(&r, f, true, ENV("LOG_FORMAT=JSON", "AGENT_METRICS_ADDR=127.0.0.1:9108"), NULL);
    expect_ok(&r);
    assert_int_equal(r.cfg->log_format, CFG_LOG_JSON);
    assert_string_equal(r.cfg->metrics_addr, "127.0.0.1:9108");
    done(&r);
    run(&r, f, true, ENV("LOG_FORMAT=json"), ARGS("--log-format", "logfmt", "--metrics-addr=:9108"));
    expect_ok(&r);
    assert_int_equal(r.cfg->log_format, CFG_LOG_LOGFMT);
    assert_string_equal(r.cfg->metrics_addr, ":9108");
    done(&r);
    static const char *const good[] = {"[::1]:1", "localhost:65535", "[::]:9108", "sensor.example:9108"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char kv[64];
        snprintf(kv, sizeof kv, "AGENT_METRICS_ADDR=%s", good[i]);
        run(&r, f, true, ENV(kv), NULL);
        expect_ok(&r);
        assert_string_equal(r.cfg->metrics_addr, good[i]);
        done(&r);
    }
    one_env_err(f, "LOG_FORMAT=xml", "LOG_FORMAT=xml: must be logfmt or json");
    static const char *const bad[] = {"9108", "host", "host:", "host:0", "host:65536", "::1:9108",
                                      "[::1]9108", "[]:9108", "a b:1", "h/x:1", "h:9108x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char kv[64], msg[160];
        snprintf(kv, sizeof kv, "AGENT_METRICS_ADDR=%s", bad[i]);
        snprintf(msg, sizeof msg, "AGENT_METRICS_ADDR=%s: must be HOST:PORT, [IPV6]:PORT or :PORT "
                 "with a port in [1, 65535]", bad[i]);
        one_env_err(f, kv, msg);
    }
}

/* AGENT_PING_CONFIG (a readable file) and AGENT_PING_SOCKET (issue 17.2). */
static void test_ping_settings(void **state)
{
    struct fx *f = *state;
    struct res r;
    run(&r, f, true, NULL, NULL);
    expect_ok(&r);
    assert_null(r.cfg->ping_config);
    assert_string_equal(r.cfg->ping_socket, "auto");
    done(&r);
    char kv[256];
    snprintf(kv, sizeof kv, "AGENT_PING_CONFIG=%s", f->token);   /* any readable file: the hook parses it */
    run(&r, f, true, ENV(kv, "AGENT_PING_SOCKET=Datagram"), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->ping_config, f->token);
    assert_string_equal(r.cfg->ping_socket, "datagram");
    done(&r);
    run(&r, f, true, NULL, ARGS("--ping-socket", "raw"));
    expect_ok(&r);
    assert_string_equal(r.cfg->ping_socket, "raw");
    done(&r);
    one_env_err(f, "AGENT_PING_SOCKET=icmp", "AGENT_PING_SOCKET=icmp: must be one of auto, raw, datagram");
    one_env_err(f, "AGENT_PING_CONFIG=/nonexistent/ping.json",
                "AGENT_PING_CONFIG=/nonexistent/ping.json: must be a readable file");
}

static const char *kv_value(const struct config_kv *kv, size_t n, const char *var)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].var, var) == 0)
            return kv[i].value;
    fail_msg("config_describe lacks %s", var);
    return NULL;
}

/* The startup line's data: every setting, secrets masked, the URL without credentials. */
static void test_describe(void **state)
{
    struct fx *f = *state;
    struct res r;
    char tokfile[200];
    snprintf(tokfile, sizeof tokfile, "AGENT_AUTH_TOKEN_FILE=%s", f->token);
    run(&r, f, true, ENV(tokfile, "AGENT_HMAC_KEY=hmac-secret", "AGENT_TRAP_COMMUNITIES=c0mm",
                         "AGENT_ENDPOINT_URL=https://user:pw@ingest.example/flows?key=s3cret",
                         "AGENT_SEND_INTERVAL=250ms", "AGENT_SNAP_LEN=1518"), NULL);
    expect_ok(&r);
    struct config_kv kv[128];
    size_t n = config_describe(r.cfg, kv, 128);
    assert_int_equal(n, config_setting_count());
    assert_string_equal(kv_value(kv, n, "AGENT_AUTH_TOKEN"), "");
    assert_string_equal(kv_value(kv, n, "AGENT_AUTH_TOKEN_FILE"), f->token);
    assert_string_equal(kv_value(kv, n, "AGENT_HMAC_KEY"), "<redacted>");
    assert_string_equal(kv_value(kv, n, "AGENT_TRAP_COMMUNITIES"), "<redacted>");
    assert_string_equal(kv_value(kv, n, "AGENT_ENDPOINT_URL"), "https://ingest.example/flows");
    assert_string_equal(kv_value(kv, n, "AGENT_SEND_INTERVAL"), "250ms");
    assert_string_equal(kv_value(kv, n, "AGENT_RETRY_BASE"), "500ms");
    assert_string_equal(kv_value(kv, n, "AGENT_SNAP_LEN"), "1518");
    assert_string_equal(kv_value(kv, n, "AGENT_PROMISCUOUS"), "true");
    assert_string_equal(kv_value(kv, n, "AGENT_METRICS_ADDR"), "");
    assert_string_equal(kv_value(kv, n, "LOG_LEVEL"), "info");
    assert_string_equal(kv_value(kv, n, "LOG_FORMAT"), "logfmt");
    /* durations as --help shows defaults; numbers and booleans typed for a JSON log */
    assert_string_equal(kv_value(kv, n, "AGENT_TCP_IDLE_TIMEOUT"), "60s");
    assert_string_equal(kv_value(kv, n, "AGENT_ACTIVE_TIMEOUT"), "300s");
    assert_string_equal(kv_value(kv, n, "AGENT_TOPOLOGY_INTERVAL"), "30s");
    for (size_t i = 0; i < n; i++) {
        if (strcmp(kv[i].var, "AGENT_SNAP_LEN") == 0) {
            assert_int_equal(kv[i].kind, CFG_KV_NUM);
            assert_int_equal(kv[i].num, 1518);
        } else if (strcmp(kv[i].var, "AGENT_PROMISCUOUS") == 0) {
            assert_int_equal(kv[i].kind, CFG_KV_BOOL);
            assert_int_equal(kv[i].num, 1);
        } else if (strcmp(kv[i].var, "AGENT_TLS_INSECURE") == 0) {
            assert_int_equal(kv[i].kind, CFG_KV_BOOL);
            assert_int_equal(kv[i].num, 0);
        } else if (strcmp(kv[i].var, "AGENT_SEND_INTERVAL") == 0 || strcmp(kv[i].var, "LOG_LEVEL") == 0) {
            assert_int_equal(kv[i].kind, CFG_KV_STR);
        }
    }
    for (size_t i = 0; i < n; i++) {
        assert_null(strstr(kv[i].value, "tok-123"));
        assert_null(strstr(kv[i].value, "hmac-secret"));
        assert_null(strstr(kv[i].value, "c0mm"));
        assert_null(strstr(kv[i].value, "s3cret"));
        assert_null(strstr(kv[i].value, "pw"));
    }
    assert_int_equal(config_describe(r.cfg, kv, 3), 3);
    done(&r);
}

/* The man page comes from the same table as --help: every variable and flag is in it. */
static void test_print_man(void **state)
{
    (void)state;
    char *help = NULL, *man = NULL;
    size_t hlen = 0, mlen = 0;
    FILE *m = open_memstream(&help, &hlen);
    config_print_help(m);
    assert_int_equal(fclose(m), 0);
    m = open_memstream(&man, &mlen);
    config_print_man(m, "1.2.3");
    assert_int_equal(fclose(m), 0);
    assert_non_null(strstr(man, "\n.TH TRACER\\-SENSOR 8 \"\" \"1.2.3\""));
    static const char *const sections[] = {".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH OPTIONS",
                                           ".SH SETTINGS", ".SH EXIT STATUS", ".SH FILES", ".SH SEE ALSO",
                                           ".SH SIGNALS", ".SH FLOW EVENTS", ".SH SNMP CONFIGURATION FILE",
                                           ".SS Flows\n", "\\fBSIGHUP\\fR\nReopen \\fBAGENT_LOG_FILE\\fR",
                                           ".TP\nA second \\fBSIGINT\\fR or \\fBSIGTERM\\fR\nDuring that shutdown: exit at once",
                                           ".TP\n\\fBcommunity_id\\fR (string)\n",
                                           ".TP\n\\fBend_reason\\fR (string)\nfin, rst, idle, active, evicted or shutdown.\n",
                                           "\"trap_users\": [{\"username\": \"trapper\"",
                                           ".TP\n\\fB\\-i\\fR \\fIinterface\\fR\n",
                                           ".TP\n\\fB\\-\\-once topology\\fR\nPrint one \\fItopology\\fR snapshot",
                                           ".TP\n\\fB\\-\\-once snmp\\fR \\fIname\\fR\nPoll the target",
                                           ".TP\n\\fB\\-\\-once sensor\\fR\nSet the sensor up as configured",
                                           ".TP\n\\fB\\-\\-dump\\-request\\fR \\fIfile\\fR\nWrite the exact HTTP request",
                                           "then re-read\n\\fBAGENT_SNMP_CONFIG\\fR and apply added, removed and changed",
                                           "\\fBSIGUSR1\\fR\nLog one line with every counter",
                                           ".SH PING CONFIGURATION FILE\n\\fBAGENT_PING_CONFIG\\fR names"};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (!strstr(man, sections[i]))
            fail_msg("man page lacks %s", sections[i]);
    /* every "  --flag ARG  VARIABLE" of --help, in roff form */
    size_t count = 0;
    for (const char *p = help; (p = strstr(p, "\n  --")) != NULL; p++) {
        if (strncmp(p, "\n  --once ", 10) == 0 || strncmp(p, "\n  --dump-request ", 18) == 0)
            continue;   /* the one-shot modes, under OPTIONS (checked below) */
        char flag[64], var[64], want[320];
        assert_int_equal(sscanf(p + 3, "%63s %*s %63s", flag, var), 2);
        char rflag[128];
        size_t k = 0;
        for (const char *c = flag; *c && k + 2 < sizeof rflag; c++) {
            if (*c == '-')
                rflag[k++] = '\\';
            rflag[k++] = *c;
        }
        rflag[k] = '\0';
        snprintf(want, sizeof want, "\\fB%s\\fR, \\fB%s\\fR", var, rflag);
        if (!strstr(man, want))
            fail_msg("man page lacks %s", want);
        count++;
    }
    assert_int_equal(count, config_setting_count());
    /* no line starts with a quote or a dot that is not a request */
    for (const char *p = man; *p; p = strchr(p, '\n') + 1) {
        assert_true(*p != '\'');
        if (!strchr(p, '\n'))
            break;
    }
    free(help);
    free(man);
}

static void test_destroy_null_and_nerr_null(void **state)
{
    struct fx *f = *state;
    config_destroy(NULL);
    char *envp[] = { f->pcap_env, NULL };
    struct config *c = config_load(0, NULL, envp, NULL, 0, NULL);
    assert_non_null(c);
    config_destroy(c);
}

/* The control API (issue 17.1): address + key file together, certificate + key together, bounds. */
static void test_api_settings(void **state)
{
    struct fx *f = *state;
    struct res r;
    char key[300], cert[300], tkey[300], msg[600];
    snprintf(key, sizeof key, "AGENT_API_KEY_FILE=%s", f->token);
    snprintf(cert, sizeof cert, "AGENT_API_TLS_CERT=%s", f->token);   /* any readable file passes here */
    snprintf(tkey, sizeof tkey, "AGENT_API_TLS_KEY=%s", f->token);
    run(&r, f, true, ENV("AGENT_API_ADDR=127.0.0.1:8443", key, cert, tkey, "AGENT_API_JOB_RETENTION=10m",
                         "AGENT_API_MAX_JOBS=5", "AGENT_API_MAX_QUEUED=3"), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->api_addr, "127.0.0.1:8443");
    assert_int_equal(r.cfg->api_key_len, 7);
    assert_memory_equal(r.cfg->api_key, "tok-123", 7);   /* "\r\n" cut */
    assert_string_equal(r.cfg->api_key_file, f->token);
    assert_string_equal(r.cfg->api_tls_cert, f->token);
    assert_int_equal(r.cfg->api_job_retention_s, 600);
    assert_int_equal(r.cfg->api_max_jobs, 5);
    assert_int_equal(r.cfg->api_max_queued, 3);
    done(&r);
    run(&r, f, true, NULL, NULL);   /* defaults: off */
    expect_ok(&r);
    assert_null(r.cfg->api_addr);
    assert_null(r.cfg->api_key);
    assert_int_equal(r.cfg->api_job_retention_s, 3600);
    assert_int_equal(r.cfg->api_max_jobs, 1000);
    assert_int_equal(r.cfg->api_max_queued, 64);
    done(&r);
    one_env_err(f, "AGENT_API_ADDR=127.0.0.1:8443",
                "AGENT_API_ADDR=127.0.0.1:8443: needs AGENT_API_KEY_FILE (every request is authenticated)");
    run(&r, f, true, ENV("AGENT_API_ADDR=localhost", key), NULL);
    expect_err(&r, "AGENT_API_ADDR=localhost: must be HOST:PORT, [IPV6]:PORT or :PORT with a port in [1, 65535]");
    snprintf(msg, sizeof msg, "AGENT_API_KEY_FILE=%s: needs AGENT_API_ADDR", f->token);
    one_env_err(f, key, msg);
    run(&r, f, true, ENV("AGENT_API_ADDR=:8443", key, cert), NULL);
    snprintf(msg, sizeof msg, "AGENT_API_TLS_CERT=%s: needs AGENT_API_TLS_KEY too", f->token);
    expect_err(&r, msg);
    char empty[300];
    snprintf(empty, sizeof empty, "AGENT_API_KEY_FILE=%s", f->token_empty);
    run(&r, f, true, ENV("AGENT_API_ADDR=:8443", empty), NULL);
    snprintf(msg, sizeof msg, "AGENT_API_KEY_FILE=%s: must not be empty", f->token_empty);
    expect_err(&r, msg);
    snprintf(empty, sizeof empty, "AGENT_API_KEY_FILE=%s", f->token_ctrl);
    run(&r, f, true, ENV("AGENT_API_ADDR=:8443", empty), NULL);
    snprintf(msg, sizeof msg, "AGENT_API_KEY_FILE=%s: must not contain control characters", f->token_ctrl);
    expect_err(&r, msg);
    run(&r, f, true, ENV("AGENT_API_ADDR=:8443", key, "AGENT_API_MAX_QUEUED=0"), NULL);
    expect_err(&r, "AGENT_API_MAX_QUEUED=0: must be an integer in [1, 10000]");
    run(&r, f, true, ENV("AGENT_API_ADDR=:8443", key, "AGENT_API_JOB_RETENTION=8d"), NULL);
    expect_err(&r, "AGENT_API_JOB_RETENTION=8d: must be whole seconds, bare (60) or as a duration (60s, 5m, 1h30m), "
                   "in [1s, 7d]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_with_pcap),
        cmocka_unit_test(test_http_body_and_events_url),
        cmocka_unit_test(test_empty_variables_mean_default),
        cmocka_unit_test(test_env_first_occurrence_and_noise),
        cmocka_unit_test(test_numeric_variables),
        cmocka_unit_test(test_numeric_messages_literal),
        cmocka_unit_test(test_numeric_flags),
        cmocka_unit_test(test_flag_overrides_variable),
        cmocka_unit_test(test_flag_equals_form),
        cmocka_unit_test(test_every_flag_is_known),
        cmocka_unit_test(test_unknown_flag),
        cmocka_unit_test(test_flag_missing_value),
        cmocka_unit_test(test_short_forms_and_expression),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_multiple_errors_collected),
        cmocka_unit_test(test_errbuf_overflow_ends_with_dots),
        cmocka_unit_test(test_kafka_settings),
        cmocka_unit_test(test_echoed_values_one_line),
        cmocka_unit_test(test_interface),
        cmocka_unit_test(test_interface_list),
        cmocka_unit_test(test_default_interface),
        cmocka_unit_test(test_pcap_file),
        cmocka_unit_test(test_identity_settings),
        cmocka_unit_test(test_bpf_filter),
        cmocka_unit_test(test_ipfix),
        cmocka_unit_test(test_endpoint_url),
        cmocka_unit_test(test_send_interval),
        cmocka_unit_test(test_duration_forms),
        cmocka_unit_test(test_local_networks),
        cmocka_unit_test(test_vlan_in_key),
        cmocka_unit_test(test_decap),
        cmocka_unit_test(test_flow_stats_settings),
        cmocka_unit_test(test_dpi_settings),
        cmocka_unit_test(test_promiscuous_and_log_level),
        cmocka_unit_test(test_seccomp),
        cmocka_unit_test(test_auth_token),
        cmocka_unit_test(test_token_never_in_messages),
        cmocka_unit_test(test_hmac_key),
        cmocka_unit_test(test_spool_dir),
        cmocka_unit_test(test_default_user),
        cmocka_unit_test(test_secret_on_command_line_warns),
        cmocka_unit_test(test_print_help),
        cmocka_unit_test(test_once_sensor_and_dump_request),
        cmocka_unit_test(test_log_format_and_metrics_addr),
        cmocka_unit_test(test_ping_settings),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_api_settings),
        cmocka_unit_test(test_print_man),
        cmocka_unit_test(test_destroy_null_and_nerr_null),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
