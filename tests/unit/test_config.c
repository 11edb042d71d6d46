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
    snprintf(f->pcap_env, sizeof f->pcap_env, "AGENT_PCAP_FILE=%s", f->pcap);

    char *big = malloc(65537);
    if (!big)
        return -1;
    memset(big, 'a', 65537);
    int rc = write_pcapng(f->pcapng) | write_file(f->garbage, "this is no pcap\n", 16) |
             write_file(f->token, "tok-123\r\n", 9) | write_file(f->token_empty, "\r\n", 2) |
             write_file(f->token_ctrl, "abc\ndef\n", 8) | write_file(f->token_big, big, 65537) |
             write_file(f->token_max, big, 65536) | write_file(f->key_bin, "k\0ey\n", 5);
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
                            f->token_ctrl, f->token_big, f->token_max, f->key_bin };
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
    assert_int_equal(c->send_interval_ms, 1000);
    assert_null(c->auth_token);
    assert_null(c->hmac_key);
    assert_int_equal(c->hmac_key_len, 0);
    assert_null(c->spool_dir);
    assert_int_equal(c->spool_max_mb, 256);
    assert_int_equal(c->tcp_idle_timeout_s, 60);
    assert_int_equal(c->udp_idle_timeout_s, 30);
    assert_int_equal(c->idle_timeout_s, 30);
    assert_int_equal(c->active_timeout_s, 300);
    assert_int_equal(c->max_flows, 1000000);
    assert_true(c->vlan_in_key);
    assert_int_equal(c->community_id_seed, 0);
    assert_int_equal(c->packet_ring_slots, 65536);
    assert_int_equal(c->event_ring_slots, 16384);
    assert_int_equal(c->log_level, CFG_LOG_INFO);
    assert_false(c->show_help);
    assert_false(c->show_version);

    char host[HOST_NAME_MAX + 1];
    if (gethostname(host, sizeof host) != 0 || host[0] == '\0')
        strcpy(host, "unknown");
    host[sizeof host - 1] = '\0';
    assert_string_equal(c->hostname, host);
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
    { "AGENT_SPOOL_MAX_MB", "--spool-max-mb", F32(spool_max_mb), "1", "1048576", "0", "1048577",
      1, 1048576, "must be an integer in [1, 1048576]" },
    { "AGENT_TCP_IDLE_TIMEOUT", "--tcp-idle-timeout", F32(tcp_idle_timeout_s), "1", "86400", "0",
      "86401", 1, 86400, "must be an integer in [1, 86400]" },
    { "AGENT_UDP_IDLE_TIMEOUT", "--udp-idle-timeout", F32(udp_idle_timeout_s), "1", "86400", "0",
      "86401", 1, 86400, "must be an integer in [1, 86400]" },
    { "AGENT_IDLE_TIMEOUT", "--idle-timeout", F32(idle_timeout_s), "1", "86400", "0", "86401", 1,
      86400, "must be an integer in [1, 86400]" },
    { "AGENT_ACTIVE_TIMEOUT", "--active-timeout", F32(active_timeout_s), "1", "604800", "0",
      "604801", 1, 604800, "must be an integer in [1, 604800]" },
    { "AGENT_MAX_FLOWS", "--max-flows", F32(max_flows), "1", "100000000", "0", "100000001", 1,
      100000000, "must be an integer in [1, 100000000]" },
    { "AGENT_COMMUNITY_ID_SEED", "--community-id-seed", F16(community_id_seed), "0", "65535",
      NULL, "65536", 0, 65535, "must be an integer in [0, 65535]" },
    { "AGENT_PACKET_RING_SLOTS", "--packet-ring-slots", F32(packet_ring_slots), "1024",
      "4194304", "512", "8388608", 1024, 4194304, "must be a power of two in [1024, 4194304]" },
    { "AGENT_EVENT_RING_SLOTS", "--event-ring-slots", F32(event_ring_slots), "1024", "4194304",
      "512", "8388608", 1024, 4194304, "must be a power of two in [1024, 4194304]" },
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
        "LOG_LEVEL", "AGENT_METRICS_ADDR", "LOG_FORMAT",
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
    expect_err(&r, "-snap-len: unknown flag (see --help)");
    run(&r, f, true, NULL, ARGS("stray"));
    expect_err(&r, "stray: unexpected argument (settings are --flag VALUE)");
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

static void test_endpoint_url(void **state)
{
    struct fx *f = *state;
    one_env_err(f, "AGENT_ENDPOINT_URL=not a url", "AGENT_ENDPOINT_URL=not a url" URL_RULE);
    one_env_err(f, "AGENT_ENDPOINT_URL=collector:8080", "AGENT_ENDPOINT_URL=collector:8080"
                URL_RULE);
    one_env_err(f, "AGENT_ENDPOINT_URL=ftp://example.com/up",
                "AGENT_ENDPOINT_URL=ftp://example.com/up" URL_RULE);
    one_env_err(f, "AGENT_ENDPOINT_URL=http://", "AGENT_ENDPOINT_URL=http://" URL_RULE);

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
        snprintf(msg, sizeof msg, "--send-interval=%s: must be seconds (e.g. 1 or 0.5) or a "
                 "duration (e.g. 500ms, 2s) in [10ms, 1h]", bad[i]);
        expect_err(&r, msg);
    }
    one_env_err(f, "AGENT_SEND_INTERVAL=0",
                "AGENT_SEND_INTERVAL=0: must be seconds (e.g. 1 or 0.5) or a duration "
                "(e.g. 500ms, 2s) in [10ms, 1h]");
    one_env_err(f, "AGENT_SEND_INTERVAL=2h",
                "AGENT_SEND_INTERVAL=2h: must be seconds (e.g. 1 or 0.5) or a duration "
                "(e.g. 500ms, 2s) in [10ms, 1h]");
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

    snprintf(kv, sizeof kv, "AGENT_SPOOL_DIR=%s", f->dir);
    struct res r;
    run(&r, f, true, ENV(kv, "AGENT_SPOOL_MAX_MB=10"), NULL);
    expect_ok(&r);
    assert_string_equal(r.cfg->spool_dir, f->dir);
    assert_int_equal(r.cfg->spool_max_mb, 10);
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

    assert_true(strncmp(text, "Usage: tracer-sensor [options]\n", 31) == 0);
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
    struct config_kv kv[80];
    size_t n = config_describe(r.cfg, kv, 80);
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
                                           ".SH SETTINGS", ".SH EXIT STATUS", ".SH FILES", ".SH SEE ALSO"};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        assert_non_null(strstr(man, sections[i]));
    /* every "  --flag ARG  VARIABLE" of --help, in roff form */
    size_t count = 0;
    for (const char *p = help; (p = strstr(p, "\n  --")) != NULL; p++) {
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_with_pcap),
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
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_multiple_errors_collected),
        cmocka_unit_test(test_errbuf_overflow_ends_with_dots),
        cmocka_unit_test(test_echoed_values_one_line),
        cmocka_unit_test(test_interface),
        cmocka_unit_test(test_default_interface),
        cmocka_unit_test(test_pcap_file),
        cmocka_unit_test(test_bpf_filter),
        cmocka_unit_test(test_endpoint_url),
        cmocka_unit_test(test_send_interval),
        cmocka_unit_test(test_vlan_in_key),
        cmocka_unit_test(test_promiscuous_and_log_level),
        cmocka_unit_test(test_auth_token),
        cmocka_unit_test(test_token_never_in_messages),
        cmocka_unit_test(test_hmac_key),
        cmocka_unit_test(test_spool_dir),
        cmocka_unit_test(test_print_help),
        cmocka_unit_test(test_log_format_and_metrics_addr),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_print_man),
        cmocka_unit_test(test_destroy_null_and_nerr_null),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
