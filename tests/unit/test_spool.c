/*
 * test_spool.c — the on-disk batch spool: order, exact bytes and counters,
 * restart, the byte cap, corrupt/truncated/stale/foreign files, two threads
 * (one putting, one peeking and removing), and kill -9 at random moments of a
 * child process that keeps spooling (nothing half-written may ever appear
 * under a valid name). Every test runs in its own mkdtemp directory, removed
 * afterwards. Also run under ThreadSanitizer (the two-thread test):
 *   gcc -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I. -g -O1 \
 *       -fsanitize=thread tests/unit/test_spool.c sender/spool.c \
 *       -lcmocka -lcrypto -pthread -o /tmp/test_spool_tsan && /tmp/test_spool_tsan
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include "sender/spool.h"

/* ---- fixtures and helpers ----------------------------------------------- */

struct tdir {
    char path[256];
};

static int setup_dir(void **state)
{
    struct tdir *t = calloc(1, sizeof *t);
    if (t == NULL)
        return -1;
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    snprintf(t->path, sizeof t->path, "%s/test_spool.XXXXXX", base);
    if (mkdtemp(t->path) == NULL) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

/* Removes a directory tree of plain files (a failed crash iteration leaves a
 * populated subdirectory behind). */
static void rm_dir(const char *path)
{
    DIR *d = opendir(path);
    if (d != NULL) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", path, de->d_name);
            if (unlink(p) != 0)
                rm_dir(p);
        }
        closedir(d);
    }
    rmdir(path);
}

static int teardown_dir(void **state)
{
    struct tdir *t = *state;
    rm_dir(t->path);
    free(t);
    return 0;
}

static void path_of(char *out, size_t n, const char *dir, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static void batch_name(char *out, size_t n, uint64_t id)
{
    snprintf(out, n, "%020" PRIu64 ".batch", id);
}

static bool file_exists(const char *dir, const char *name)
{
    char p[512];
    path_of(p, sizeof p, dir, name);
    struct stat sb;
    return lstat(p, &sb) == 0;
}

static void write_file(const char *dir, const char *name, const char *data, size_t n)
{
    char p[512];
    path_of(p, sizeof p, dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Reads a whole file into a malloc'd buffer; returns its size or -1. */
static long read_file(const char *dir, const char *name, char **out)
{
    char p[512];
    path_of(p, sizeof p, dir, name);
    FILE *f = fopen(p, "rb");
    if (f == NULL)
        return -1;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 256;
            char *nb = realloc(buf, cap);
            assert_non_null(nb);
            buf = nb;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *out = buf;
    return (long)len;
}

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' || strncmp(de->d_name, ".tmp-", 5) == 0)
            n++;
    closedir(d);
    return n;
}

/* Length of the header spool_put writes for a body, so tests know exact file sizes. */
static size_t header_len(const char *body, size_t len, uint32_t nevents)
{
    (void)body;
    char h[80];
    return (size_t)snprintf(h, sizeof h, "TRSPOOL2 %" PRIu32 " %zu ", nevents, len) + 64 + 1;
}

/* The spool key of dir (made by the first spool_open). */
static void read_key(const char *dir, unsigned char key[32])
{
    char p[512];
    snprintf(p, sizeof p, "%s/.spool-key", dir);
    int fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, key, 32), 32);
    close(fd);
}

/*
 * A whole batch file as the documented format says, its MAC computed here
 * (independently of spool.c) under `key`. Returns its length; *out is malloc'd.
 */
static size_t make_batch(const unsigned char key[32], uint64_t seq, uint32_t nevents,
                         const char *body, size_t len, char **out)
{
    char pre[64];
    int pl = snprintf(pre, sizeof pre, "%020" PRIu64 " %" PRIu32 " %zu\n", seq, nevents, len);
    unsigned char *msg = malloc((size_t)pl + len + 1);
    assert_non_null(msg);
    memcpy(msg, pre, (size_t)pl);
    memcpy(msg + pl, body, len);
    unsigned char mac[32];
    unsigned int ml = 0;
    assert_non_null(HMAC(EVP_sha256(), key, 32, msg, (size_t)pl + len, mac, &ml));
    assert_int_equal(ml, 32);
    free(msg);
    char *f = malloc(128 + len);
    assert_non_null(f);
    int n = snprintf(f, 128, "TRSPOOL2 %" PRIu32 " %zu ", nevents, len);
    for (int i = 0; i < 32; i++)
        n += snprintf(f + n, 128 - (size_t)n, "%02x", mac[i]);
    f[n++] = '\n';
    memcpy(f + n, body, len);
    *out = f;
    return (size_t)n + len;
}

static spool *open_ok(const char *dir, uint64_t max_bytes)
{
    char err[256] = "";
    spool *sp = spool_open(dir, max_bytes, err, sizeof err);
    if (sp == NULL)
        fail_msg("spool_open(%s): %s", dir, err);
    return sp;
}

static void put_ok(spool *sp, const char *body, uint32_t nevents, uint64_t *dropped)
{
    char err[256] = "";
    int rc = spool_put(sp, body, strlen(body), nevents, dropped, err, sizeof err);
    if (rc != 0)
        fail_msg("spool_put: %s", err);
}

struct peeked {
    char *buf;
    size_t cap, len;
    uint32_t nevents;
    uint64_t id;
    char err[512];
};

static int peek(spool *sp, struct peeked *p)
{
    return spool_peek_oldest(sp, &p->buf, &p->cap, &p->len, &p->nevents, &p->id,
                             p->err, sizeof p->err);
}

static void expect_peek(spool *sp, struct peeked *p, const char *body,
                        uint32_t nevents, uint64_t id)
{
    assert_int_equal(peek(sp, p), 1);
    assert_string_equal(p->err, "");
    assert_int_equal(p->len, strlen(body));
    assert_memory_equal(p->buf, body, p->len);
    assert_int_equal(p->nevents, nevents);
    assert_int_equal(p->id, id);
}

static struct spool_stats stats(spool *sp)
{
    struct spool_stats s;
    spool_get_stats(sp, &s);
    return s;
}

/* ---- basic order, bytes, counters --------------------------------------- */

static const char *const B1 = "[{\"a\":1}]";
static const char *const B2 = "[{\"a\":2},{\"a\":3}]";
static const char *const B3 = "{\"a\":4,\"s\":\"\\u00e9\"}";

static void test_put_peek_remove(void **state)
{
    struct tdir *t = *state;
    spool *sp = open_ok(t->path, 1 << 20);
    uint64_t dropped = 0;
    put_ok(sp, B1, 1, &dropped);
    put_ok(sp, B2, 2, &dropped);
    put_ok(sp, B3, 7, NULL);
    assert_int_equal(dropped, 0);

    size_t s1 = strlen(B1) + header_len(B1, strlen(B1), 1);
    size_t s2 = strlen(B2) + header_len(B2, strlen(B2), 2);
    size_t s3 = strlen(B3) + header_len(B3, strlen(B3), 7);
    struct spool_stats s = stats(sp);
    assert_int_equal(s.files, 3);
    assert_int_equal(s.bytes, s1 + s2 + s3);
    assert_int_equal(s.events, 10);
    assert_int_equal(s.batches_written, 3);
    assert_int_equal(s.events_written, 10);
    assert_int_equal(s.write_errors, 0);

    /* The on-disk format is exactly the documented one. */
    char name[64], *raw = NULL;
    batch_name(name, sizeof name, 1);
    long n = read_file(t->path, name, &raw);
    assert_int_equal(n, s1);
    unsigned char key[32];
    read_key(t->path, key);
    char *want = NULL;
    assert_int_equal(make_batch(key, 1, 1, B1, strlen(B1), &want), s1);
    assert_memory_equal(raw, want, s1);
    assert_memory_equal(raw, "TRSPOOL2 1 9 ", 13);
    free(want);
    free(raw);
    char p[512];
    path_of(p, sizeof p, t->path, name);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    struct peeked pk = { 0 };
    expect_peek(sp, &pk, B1, 1, 1);
    expect_peek(sp, &pk, B1, 1, 1);          /* peek does not consume */
    assert_int_equal(spool_remove(sp, 1), 0);
    assert_false(file_exists(t->path, name));
    expect_peek(sp, &pk, B2, 2, 2);
    assert_int_equal(spool_remove(sp, 2), 0);
    expect_peek(sp, &pk, B3, 7, 3);
    assert_int_equal(spool_remove(sp, 3), 0);
    assert_int_equal(peek(sp, &pk), 0);
    assert_int_equal(spool_remove(sp, 3), 0);   /* already gone: no-op */

    s = stats(sp);
    assert_int_equal(s.files, 0);
    assert_int_equal(s.bytes, 0);
    assert_int_equal(s.events, 0);
    assert_int_equal(s.batches_removed, 3);
    assert_int_equal(s.events_removed, 10);
    assert_int_equal(s.dropped_batches, 0);
    assert_int_equal(s.corrupt_files, 0);
    assert_int_equal(count_files(t->path), 0);
    free(pk.buf);
    spool_close(sp);
}

static void test_remove_out_of_order(void **state)
{
    struct tdir *t = *state;
    spool *sp = open_ok(t->path, 1 << 20);
    put_ok(sp, B1, 1, NULL);
    put_ok(sp, B2, 2, NULL);
    put_ok(sp, B3, 3, NULL);
    assert_int_equal(spool_remove(sp, 2), 0);
    struct peeked pk = { 0 };
    expect_peek(sp, &pk, B1, 1, 1);
    assert_int_equal(spool_remove(sp, 1), 0);
    expect_peek(sp, &pk, B3, 3, 3);
    struct spool_stats s = stats(sp);
    assert_int_equal(s.files, 1);
    assert_int_equal(s.events, 3);
    assert_int_equal(s.batches_removed, 2);
    assert_int_equal(s.events_removed, 3);
    free(pk.buf);
    spool_close(sp);
}

static void test_empty_spool(void **state)
{
    struct tdir *t = *state;
    spool *sp = open_ok(t->path, 1000);
    struct peeked pk = { 0 };
    strcpy(pk.err, "stale");
    assert_int_equal(peek(sp, &pk), 0);
    assert_string_equal(pk.err, "");
    assert_null(pk.buf);
    struct spool_stats s = stats(sp), zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(&s, &zero, sizeof s);
    spool_close(sp);
    spool_close(NULL);
}

static void test_open_errors(void **state)
{
    struct tdir *t = *state;
    char err[256], p[512];
    path_of(p, sizeof p, t->path, "missing");
    assert_null(spool_open(p, 1000, err, sizeof err));
    assert_non_null(strstr(err, "missing"));
    assert_null(spool_open(t->path, 0, err, sizeof err));
    assert_non_null(strstr(err, "max_bytes 0"));
    assert_null(spool_open("", 1000, err, sizeof err));
}

static void test_empty_body(void **state)
{
    struct tdir *t = *state;
    spool *sp = open_ok(t->path, 1000);
    char err[128];
    assert_int_equal(spool_put(sp, "", 0, 0, NULL, err, sizeof err), 0);
    struct peeked pk = { 0 };
    expect_peek(sp, &pk, "", 0, 1);
    free(pk.buf);
    spool_close(sp);
}

/* ---- restart ------------------------------------------------------------ */

static void test_reopen_continues(void **state)
{
    struct tdir *t = *state;
    spool *sp = open_ok(t->path, 1 << 20);
    put_ok(sp, B1, 1, NULL);
    put_ok(sp, B2, 2, NULL);
    put_ok(sp, B3, 3, NULL);
    assert_int_equal(spool_remove(sp, 1), 0);
    spool_close(sp);

    sp = open_ok(t->path, 1 << 20);
    struct spool_stats s = stats(sp);
    assert_int_equal(s.files, 2);
    assert_int_equal(s.events, 5);
    assert_int_equal(s.bytes, strlen(B2) + header_len(B2, strlen(B2), 2) +
                              strlen(B3) + header_len(B3, strlen(B3), 3));
    assert_int_equal(s.batches_written, 0);          /* counters are per open */
    assert_int_equal(s.corrupt_files, 0);
    assert_int_equal(s.stale_temp_files, 0);

    put_ok(sp, "new", 9, NULL);
    struct peeked pk = { 0 };
    expect_peek(sp, &pk, B2, 2, 2);
    assert_int_equal(spool_remove(sp, 2), 0);
    expect_peek(sp, &pk, B3, 3, 3);
    assert_int_equal(spool_remove(sp, 3), 0);
    assert_int_equal(peek(sp, &pk), 1);
    assert_memory_equal(pk.buf, "new", 3);
    assert_int_equal(pk.nevents, 9);
    assert_true(pk.id > 3);
    uint64_t newid = pk.id;
    spool_close(sp);

    /* Reopened once more: the survivor keeps its id, new ones follow it. */
    sp = open_ok(t->path, 1 << 20);
    put_ok(sp, "newer", 1, NULL);
    expect_peek(sp, &pk, "new", 9, newid);
    assert_int_equal(spool_remove(sp, newid), 0);
    expect_peek(sp, &pk, "newer", 1, newid + 1);
    free(pk.buf);
    spool_close(sp);
}

/* ---- the cap ------------------------------------------------------------ */

/* A 100-byte body with a digit pattern: files of identical, known size. */
static void body100(char out[101], char c)
{
    memset(out, c, 100);
    out[100] = '\0';
}

static void test_cap_drops_oldest(void **state)
{
    struct tdir *t = *state;
    char a[101], b[101], c[101];
    body100(a, 'a');
    body100(b, 'b');
    body100(c, 'c');
    size_t fsz = 100 + header_len(a, 100, 5);
    assert_int_equal(fsz, 100 + header_len(b, 100, 6));
    assert_int_equal(fsz, 100 + header_len(c, 100, 7));

    spool *sp = open_ok(t->path, 2 * fsz);          /* exactly two batches */
    uint64_t dropped = 0;
    put_ok(sp, a, 5, &dropped);
    put_ok(sp, b, 6, &dropped);
    assert_int_equal(dropped, 0);
    struct spool_stats s = stats(sp);
    assert_int_equal(s.bytes, 2 * fsz);
    assert_int_equal(s.dropped_batches, 0);

    dropped = 100;                                   /* added to, not set */
    put_ok(sp, c, 7, &dropped);
    assert_int_equal(dropped, 105);
    char name[64];
    batch_name(name, sizeof name, 1);
    assert_false(file_exists(t->path, name));

    s = stats(sp);
    assert_int_equal(s.files, 2);
    assert_int_equal(s.bytes, 2 * fsz);
    assert_int_equal(s.events, 13);
    assert_int_equal(s.batches_written, 3);
    assert_int_equal(s.events_written, 18);
    assert_int_equal(s.dropped_batches, 1);
    assert_int_equal(s.dropped_events, 5);
    assert_int_equal(s.batches_removed, 0);
    assert_int_equal(s.write_errors, 0);

    struct peeked pk = { 0 };
    expect_peek(sp, &pk, b, 6, 2);
    assert_int_equal(spool_remove(sp, 2), 0);
    expect_peek(sp, &pk, c, 7, 3);
    assert_int_equal(spool_remove(sp, 3), 0);
    assert_int_equal(peek(sp, &pk), 0);
    free(pk.buf);
    spool_close(sp);
}

static void test_cap_drops_several(void **state)
{
    struct tdir *t = *state;
    char a[101];
    body100(a, 'x');
    size_t fsz = 100 + header_len(a, 100, 1);
    spool *sp = open_ok(t->path, 3 * fsz + 10);
    for (int i = 0; i < 3; i++)
        put_ok(sp, a, 1, NULL);
    /* A body of 2 file sizes needs two of the three batches gone. */
    char big[2 * 180 + 64];
    size_t blen = 2 * fsz - 100;                 /* with its header: 2 * fsz - 20 */
    assert_true(blen < sizeof big);
    memset(big, 'y', blen);
    big[blen] = '\0';
    uint64_t dropped = 0;
    put_ok(sp, big, 4, &dropped);
    assert_int_equal(dropped, 2);
    struct spool_stats s = stats(sp);
    assert_int_equal(s.files, 2);
    assert_int_equal(s.dropped_batches, 2);
    assert_int_equal(s.dropped_events, 2);
    assert_true(s.bytes <= 3 * fsz + 10);
    assert_int_equal(s.bytes, fsz + blen + header_len(big, blen, 4));
    struct peeked pk = { 0 };
    expect_peek(sp, &pk, a, 1, 3);
    free(pk.buf);
    spool_close(sp);
}

static void test_oversize_refused(void **state)
{
    struct tdir *t = *state;
    char a[101];
    body100(a, 'a');
    size_t fsz = 100 + header_len(a, 100, 1);
    spool *sp = open_ok(t->path, 2 * fsz);
    put_ok(sp, a, 1, NULL);
    put_ok(sp, a, 2, NULL);

    size_t blen = 2 * fsz;                 /* body alone is the whole cap */
    char *big = malloc(blen);
    assert_non_null(big);
    memset(big, 'z', blen);
    char err[256] = "";
    uint64_t dropped = 0;
    assert_int_equal(spool_put(sp, big, blen, 3, &dropped, err, sizeof err), -1);
    assert_non_null(strstr(err, "exceeds the spool cap"));
    assert_int_equal(dropped, 0);
    /* One byte over the cap with its header is refused just the same. */
    size_t over = 2 * fsz - 80 + 1;                /* 3-digit length: 80-byte header */
    assert_int_equal(over + header_len(big, over, 3), 2 * fsz + 1);
    assert_int_equal(spool_put(sp, big, over, 3, &dropped, err, sizeof err), -1);
    free(big);

    struct spool_stats s = stats(sp);
    assert_int_equal(s.files, 2);
    assert_int_equal(s.events, 3);
    assert_int_equal(s.bytes, 2 * fsz);
    assert_int_equal(s.batches_written, 2);
    assert_int_equal(s.dropped_batches, 0);
    assert_int_equal(s.dropped_events, 0);
    assert_int_equal(s.write_errors, 2);
    assert_int_equal(count_files(t->path), 2);
    struct peeked pk = { 0 };
    expect_peek(sp, &pk, a, 1, 1);
    free(pk.buf);
    spool_close(sp);
}

/* ---- corrupt, stale and foreign files ----------------------------------- */

static void test_garbage_at_open(void **state)
{
    struct tdir *t = *state;
    spool *sp = open_ok(t->path, 1 << 20);
    put_ok(sp, B1, 1, NULL);
    put_ok(sp, B2, 2, NULL);
    spool_close(sp);

    char name[64];
    batch_name(name, sizeof name, 5);
    write_file(t->path, name, "garbage, not a spool file\n", 26);
    /* Near misses of the header, each must be rejected. */
    static const char *const bad[] = {
        "TRSPOOL1 1 2 0000000\nab",               /* 7 hex digits */
        "TRSPOOL1 1 2 0000000G\nab",              /* not hex */
        "TRSPOOL1 1 2 ABCDEF01\nab",              /* upper case */
        "TRSPOOL1 01 2 00000000\nab",             /* leading zero */
        "TRSPOOL1 -1 2 00000000\nab",             /* sign */
        "TRSPOOL1 4294967296 2 00000000\nab",     /* > UINT32_MAX events */
        "TRSPOOL1 1  2 00000000\nab",             /* two spaces */
        "TRSPOOL2 1 2 00000000\nab",              /* magic */
        "TRSPOOL1 1 2 00000000 \nab",             /* trailing space */
        "TRSPOOL1 1 2 00000000",                  /* no newline */
        "",                                       /* empty */
    };
    size_t nbad = sizeof bad / sizeof bad[0];
    for (size_t i = 0; i < nbad; i++) {
        char nm[64];
        batch_name(nm, sizeof nm, 10 + i);
        write_file(t->path, nm, bad[i], strlen(bad[i]));
    }

    sp = open_ok(t->path, 1 << 20);
    struct spool_stats s = stats(sp);
    assert_int_equal(s.corrupt_files, 1 + nbad);
    assert_int_equal(s.files, 2);
    assert_int_equal(s.events, 3);
    assert_false(file_exists(t->path, name));
    char aside[80];
    snprintf(aside, sizeof aside, "%s.corrupt", name);
    assert_true(file_exists(t->path, aside));
    char *raw = NULL;
    assert_int_equal(read_file(t->path, aside, &raw), 26);   /* kept as is */
    assert_memory_equal(raw, "garbage", 7);
    free(raw);

    struct peeked pk = { 0 };
    expect_peek(sp, &pk, B1, 1, 1);
    assert_int_equal(spool_remove(sp, 1), 0);
    expect_peek(sp, &pk, B2, 2, 2);
    assert_int_equal(spool_remove(sp, 2), 0);
    assert_int_equal(peek(sp, &pk), 0);
    /* The sequence continues after the highest valid batch, not the corrupt. */
    put_ok(sp, B3, 3, NULL);
    expect_peek(sp, &pk, B3, 3, 3);
    free(pk.buf);
    spool_close(sp);

    /* Files moved aside are never looked at again. */
    sp = open_ok(t->path, 1 << 20);
    assert_int_equal(stats(sp).corrupt_files, 0);
    assert_int_equal(stats(sp).files, 1);
    spool_close(sp);
}

static void test_flipped_byte_after_open(void **state)
{
    struct tdir *t = *state;
    spool *sp = open_ok(t->path, 1 << 20);
    put_ok(sp, B1, 1, NULL);
    put_ok(sp, B2, 2, NULL);
    put_ok(sp, B3, 3, NULL);

    char name[64], p[512];
    batch_name(name, sizeof name, 1);
    path_of(p, sizeof p, t->path, name);
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    off_t last = (off_t)(header_len(B1, strlen(B1), 1) + strlen(B1) - 2);
    char ch;
    assert_int_equal(pread(fd, &ch, 1, last), 1);
    ch ^= 0x01;
    assert_int_equal(pwrite(fd, &ch, 1, last), 1);
    close(fd);

    struct peeked pk = { 0 };
    assert_int_equal(peek(sp, &pk), 1);
    assert_int_equal(pk.id, 2);
    assert_memory_equal(pk.buf, B2, strlen(B2));
    assert_non_null(strstr(pk.err, name));
    assert_non_null(strstr(pk.err, "MAC mismatch"));
    char aside[80];
    snprintf(aside, sizeof aside, "%s.corrupt", name);
    assert_true(file_exists(t->path, aside));
    assert_false(file_exists(t->path, name));

    struct spool_stats s = stats(sp);
    assert_int_equal(s.corrupt_files, 1);
    assert_int_equal(s.files, 2);
    assert_int_equal(s.events, 5);
    assert_int_equal(s.bytes, strlen(B2) + header_len(B2, strlen(B2), 2) +
                              strlen(B3) + header_len(B3, strlen(B3), 3));
    /* The next peek is clean. */
    expect_peek(sp, &pk, B2, 2, 2);
    free(pk.buf);
    spool_close(sp);
}

static void truncate_batch(const char *dir, uint64_t id, off_t by)
{
    char name[64], p[512];
    batch_name(name, sizeof name, id);
    path_of(p, sizeof p, dir, name);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(truncate(p, sb.st_size - by), 0);
}

static void test_truncated(void **state)
{
    struct tdir *t = *state;
    spool *sp = open_ok(t->path, 1 << 20);
    put_ok(sp, B1, 1, NULL);
    put_ok(sp, B2, 2, NULL);
    put_ok(sp, B3, 3, NULL);
    put_ok(sp, B1, 4, NULL);

    /* After open: the peek finds two truncated files in a row (the second
     * cut inside its header) and reports both. */
    truncate_batch(t->path, 1, 1);
    truncate_batch(t->path, 2, (off_t)strlen(B2) + 5);
    struct peeked pk = { 0 };
    assert_int_equal(peek(sp, &pk), 1);
    assert_int_equal(pk.id, 3);
    char n1[64], n2[64];
    batch_name(n1, sizeof n1, 1);
    batch_name(n2, sizeof n2, 2);
    assert_non_null(strstr(pk.err, n1));
    assert_non_null(strstr(pk.err, n2));
    assert_int_equal(stats(sp).corrupt_files, 2);
    assert_int_equal(stats(sp).files, 2);
    spool_close(sp);

    /* At open: a file cut short is moved aside before anything is read. */
    truncate_batch(t->path, 3, 3);
    sp = open_ok(t->path, 1 << 20);
    struct spool_stats s = stats(sp);
    assert_int_equal(s.corrupt_files, 1);
    assert_int_equal(s.files, 1);
    assert_int_equal(s.events, 4);
    char n3[64], aside[80];
    batch_name(n3, sizeof n3, 3);
    snprintf(aside, sizeof aside, "%s.corrupt", n3);
    assert_true(file_exists(t->path, aside));
    expect_peek(sp, &pk, B1, 4, 4);
    free(pk.buf);
    spool_close(sp);
}

static void test_file_vanished(void **state)
{
    struct tdir *t = *state;
    spool *sp = open_ok(t->path, 1 << 20);
    put_ok(sp, B1, 1, NULL);
    put_ok(sp, B2, 2, NULL);
    char name[64], p[512];
    batch_name(name, sizeof name, 1);
    path_of(p, sizeof p, t->path, name);
    assert_int_equal(unlink(p), 0);
    struct peeked pk = { 0 };
    assert_int_equal(peek(sp, &pk), 1);
    assert_int_equal(pk.id, 2);
    assert_non_null(strstr(pk.err, name));
    struct spool_stats s = stats(sp);
    assert_int_equal(s.files, 1);
    assert_int_equal(s.events, 2);
    free(pk.buf);
    spool_close(sp);
}

static void test_stale_and_foreign_files(void **state)
{
    struct tdir *t = *state;
    spool *sp = open_ok(t->path, 1 << 20);
    put_ok(sp, B1, 1, NULL);
    spool_close(sp);

    write_file(t->path, ".tmp-123", "TRSPOOL1 1 9", 12);
    write_file(t->path, ".tmp-7", "", 0);
    static const char *const foreign[] = {
        "notes.txt",
        "123.batch",                                   /* too few digits */
        "000000000000000000001.batch",                 /* 21 digits */
        "0000000000000000000x.batch",
        "00000000000000000009.batch.corrupt",
        "00000000000000000009.BATCH",
        "00000000000000000009.batchx",
        "99999999999999999999.batch",                  /* > UINT64_MAX */
        ".hidden",
    };
    size_t nf = sizeof foreign / sizeof foreign[0];
    for (size_t i = 0; i < nf; i++)
        write_file(t->path, foreign[i], "junk", 4);
    char p[512];
    path_of(p, sizeof p, t->path, "00000000000000000050.batch");
    assert_int_equal(mkdir(p, 0700), 0);               /* a directory: ignored */

    sp = open_ok(t->path, 1 << 20);
    struct spool_stats s = stats(sp);
    assert_int_equal(s.stale_temp_files, 2);
    assert_int_equal(s.corrupt_files, 0);
    assert_int_equal(s.files, 1);
    assert_false(file_exists(t->path, ".tmp-123"));
    assert_false(file_exists(t->path, ".tmp-7"));
    for (size_t i = 0; i < nf; i++) {
        char *raw = NULL;
        assert_int_equal(read_file(t->path, foreign[i], &raw), 4);
        assert_memory_equal(raw, "junk", 4);
        free(raw);
    }
    assert_true(file_exists(t->path, "00000000000000000050.batch"));
    struct peeked pk = { 0 };
    expect_peek(sp, &pk, B1, 1, 1);
    put_ok(sp, B2, 2, NULL);                           /* id 2, not 51 */
    assert_int_equal(spool_remove(sp, 1), 0);
    expect_peek(sp, &pk, B2, 2, 2);
    free(pk.buf);
    spool_close(sp);
}

/* ---- trust: planted, foreign, oversize files; the key; the directory ---- */

/* Writes a file with the given mode (not through umask), owned by the caller. */
static void write_mode(const char *dir, const char *name, const char *data, size_t n, mode_t mode)
{
    write_file(dir, name, data, n);
    char p[512];
    path_of(p, sizeof p, dir, name);
    assert_int_equal(chmod(p, mode), 0);
}

/*
 * Files another process of the same user could plant (the last line of
 * defence once the directory is the sensor's): an old-format file with a valid
 * CRC-32, which the spool before authentication sent with the sensor's token,
 * and a new-format file under another key. Neither is ever returned; both are
 * moved aside and counted; the real batch behind them is delivered.
 */
static void test_planted_batches_never_sent(void **state)
{
    struct tdir *t = *state;
    spool *sp = open_ok(t->path, 1 << 20);
    spool_close(sp);
    unsigned char key[32], other[32];
    read_key(t->path, key);
    memset(other, 0x5a, sizeof other);

    const char *evil = "[{\"type\":\"planted\"}]";
    char legacy[128];
    int ll = snprintf(legacy, sizeof legacy, "TRSPOOL1 1 %zu %08lx\n%s", strlen(evil),
                      crc32(0L, (const Bytef *)evil, (uInt)strlen(evil)), evil);
    char n1[64], n2[64], n3[64];
    batch_name(n1, sizeof n1, 1);
    batch_name(n2, sizeof n2, 2);
    batch_name(n3, sizeof n3, 3);
    write_mode(t->path, n1, legacy, (size_t)ll, 0600);
    char *f2 = NULL, *f3 = NULL;
    size_t l2 = make_batch(other, 2, 1, evil, strlen(evil), &f2);
    write_mode(t->path, n2, f2, l2, 0600);
    size_t l3 = make_batch(key, 3, 2, B2, strlen(B2), &f3);     /* the real one */
    write_mode(t->path, n3, f3, l3, 0600);

    sp = open_ok(t->path, 1 << 20);
    struct spool_stats s = stats(sp);
    assert_int_equal(s.files, 2);                /* the other key is only found by reading */
    assert_int_equal(s.corrupt_files, 1);
    assert_int_equal(s.unauthenticated_files, 1);
    struct peeked pk = { 0 };
    assert_int_equal(peek(sp, &pk), 1);
    assert_int_equal(pk.id, 3);
    assert_int_equal(pk.len, strlen(B2));
    assert_memory_equal(pk.buf, B2, pk.len);
    assert_non_null(strstr(pk.err, n2));
    assert_non_null(strstr(pk.err, "MAC mismatch"));
    s = stats(sp);
    assert_int_equal(s.corrupt_files, 2);
    assert_int_equal(s.unauthenticated_files, 2);
    assert_int_equal(s.foreign_files, 0);
    char aside[80];
    snprintf(aside, sizeof aside, "%s.corrupt", n1);
    assert_true(file_exists(t->path, aside));
    snprintf(aside, sizeof aside, "%s.corrupt", n2);
    assert_true(file_exists(t->path, aside));

    /* A batch replaced behind the open spool's back (same name, same lengths). */
    put_ok(sp, B1, 1, NULL);                             /* id 4 */
    char n4[64], *f4 = NULL;
    batch_name(n4, sizeof n4, 4);
    const char *evil9 = "[{\"x\":1}]";                  /* as long as B1 */
    assert_int_equal(strlen(evil9), strlen(B1));
    size_t l4 = make_batch(other, 4, 1, evil9, strlen(evil9), &f4);
    write_mode(t->path, n4, f4, l4, 0600);
    assert_int_equal(spool_remove(sp, 3), 0);
    assert_int_equal(peek(sp, &pk), 0);
    assert_non_null(strstr(pk.err, "MAC mismatch"));
    assert_int_equal(stats(sp).unauthenticated_files, 3);
    /* Renamed under another sequence, a real batch does not verify either. */
    put_ok(sp, B1, 1, NULL);                             /* id 5 */
    char n5[64], n9[64], p5[512], p9[512];
    batch_name(n5, sizeof n5, 5);
    batch_name(n9, sizeof n9, 9);
    path_of(p5, sizeof p5, t->path, n5);
    path_of(p9, sizeof p9, t->path, n9);
    spool_close(sp);
    assert_int_equal(rename(p5, p9), 0);
    sp = open_ok(t->path, 1 << 20);
    assert_int_equal(peek(sp, &pk), 0);
    assert_non_null(strstr(pk.err, n9));
    assert_int_equal(stats(sp).unauthenticated_files, 1);
    free(f2);
    free(f3);
    free(f4);
    free(pk.buf);
    spool_close(sp);
}

/*
 * Files that are not the sensor's: group/other permission bits, a second hard
 * link, another owner (as root only). Moved aside at open without being read,
 * counted as foreign; the valid batch behind them is delivered.
 */
static void test_foreign_files_moved_aside(void **state)
{
    struct tdir *t = *state;
    spool *sp = open_ok(t->path, 1 << 20);
    spool_close(sp);
    unsigned char key[32];
    read_key(t->path, key);
    char *f = NULL;
    char n[5][64];
    for (int i = 0; i < 5; i++)
        batch_name(n[i], sizeof n[i], (uint64_t)i + 1);
    size_t l = make_batch(key, 1, 1, B1, strlen(B1), &f);
    write_mode(t->path, n[0], f, l, 0644);               /* readable by others */
    free(f);
    l = make_batch(key, 2, 1, B1, strlen(B1), &f);
    write_mode(t->path, n[1], f, l, 0620);               /* writable by the group */
    free(f);
    l = make_batch(key, 3, 1, B1, strlen(B1), &f);
    write_mode(t->path, n[2], f, l, 0600);
    free(f);
    char p3[512], plink[512];
    path_of(p3, sizeof p3, t->path, n[2]);
    path_of(plink, sizeof plink, t->path, "elsewhere");
    assert_int_equal(link(p3, plink), 0);                 /* two names */
    l = make_batch(key, 4, 1, B1, strlen(B1), &f);
    write_mode(t->path, n[3], f, l, 0600);
    free(f);
    bool root = geteuid() == 0;
    if (root) {
        char p4[512];
        path_of(p4, sizeof p4, t->path, n[3]);
        assert_int_equal(chown(p4, 65534, 65534), 0);     /* nobody's */
    }
    l = make_batch(key, 5, 2, B2, strlen(B2), &f);
    write_mode(t->path, n[4], f, l, 0600);
    free(f);

    sp = open_ok(t->path, 1 << 20);
    struct spool_stats s = stats(sp);
    uint64_t foreign = root ? 4 : 3;
    assert_int_equal(s.foreign_files, foreign);
    assert_int_equal(s.corrupt_files, foreign);
    assert_int_equal(s.files, root ? 1 : 2);
    for (int i = 0; i < (root ? 4 : 3); i++) {
        char aside[80];
        snprintf(aside, sizeof aside, "%s.corrupt", n[i]);
        assert_true(file_exists(t->path, aside));
    }
    struct peeked pk = { 0 };
    if (!root) {
        expect_peek(sp, &pk, B1, 1, 4);
        assert_int_equal(spool_remove(sp, 4), 0);
    }
    expect_peek(sp, &pk, B2, 2, 5);
    free(pk.buf);
    spool_close(sp);
}

/*
 * A sparse file whose header declares a 64 GiB body (its size matches, so
 * only the cap can tell): before, every peek tried to allocate 64 GiB, failed
 * ("out of memory", an I/O error the caller retries) and blocked every batch
 * behind it forever. Now it is moved aside at open, never read.
 */
static void test_oversize_file_moved_aside(void **state)
{
    struct tdir *t = *state;
    spool *sp = open_ok(t->path, 1 << 20);
    put_ok(sp, B1, 1, NULL);                             /* id 1 */
    put_ok(sp, B2, 2, NULL);                             /* id 2, behind it */
    spool_close(sp);

    char n0[64], p0[512], hdr[160];
    batch_name(n0, sizeof n0, 1);
    path_of(p0, sizeof p0, t->path, n0);
    uint64_t big = (uint64_t)64 << 30;
    int hl = snprintf(hdr, sizeof hdr, "TRSPOOL2 1 %" PRIu64 " %064d\n", big, 0);
    /* Batch 1 becomes the sparse giant (renamed over: same name, same owner). */
    char tmp[512];
    path_of(tmp, sizeof tmp, t->path, "giant");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, hdr, (size_t)hl), hl);
    assert_int_equal(ftruncate(fd, (off_t)hl + (off_t)big), 0);
    close(fd);
    assert_int_equal(rename(tmp, p0), 0);

    sp = open_ok(t->path, 1 << 20);
    struct spool_stats s = stats(sp);
    assert_int_equal(s.oversize_files, 1);
    assert_int_equal(s.corrupt_files, 1);
    assert_int_equal(s.files, 1);
    char aside[80];
    snprintf(aside, sizeof aside, "%s.corrupt", n0);
    assert_true(file_exists(t->path, aside));
    struct peeked pk = { 0 };
    expect_peek(sp, &pk, B2, 2, 2);
    assert_true(pk.cap < 4096);                          /* nothing big was allocated */
    free(pk.buf);
    spool_close(sp);
}

/* The key: made once (0600, 32 bytes), kept across opens, refused when not the owner's alone. */
static void test_key_file(void **state)
{
    struct tdir *t = *state;
    char kp[512];
    path_of(kp, sizeof kp, t->path, ".spool-key");
    spool *sp = open_ok(t->path, 1 << 20);
    struct stat sb;
    assert_int_equal(stat(kp, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_int_equal(sb.st_size, 32);
    assert_int_equal(sb.st_uid, geteuid());
    unsigned char k1[32], k2[32];
    read_key(t->path, k1);
    put_ok(sp, B1, 1, NULL);
    spool_close(sp);
    sp = open_ok(t->path, 1 << 20);                      /* same key: the batch verifies */
    read_key(t->path, k2);
    assert_memory_equal(k1, k2, 32);
    struct peeked pk = { 0 };
    expect_peek(sp, &pk, B1, 1, 1);
    spool_close(sp);

    char err[512];
    assert_int_equal(chmod(kp, 0640), 0);
    assert_null(spool_open(t->path, 1 << 20, err, sizeof err));
    assert_non_null(strstr(err, ".spool-key: must be a regular file of 32 bytes"));
    assert_non_null(strstr(err, "mode 0640"));
    assert_int_equal(chmod(kp, 0600), 0);
    assert_int_equal(truncate(kp, 31), 0);
    assert_null(spool_open(t->path, 1 << 20, err, sizeof err));
    assert_non_null(strstr(err, "31 bytes"));
    assert_int_equal(unlink(kp), 0);
    assert_int_equal(symlink("/etc/hostname", kp), 0);
    assert_null(spool_open(t->path, 1 << 20, err, sizeof err));
    assert_non_null(strstr(err, ".spool-key: is a symbolic link: refused"));
    assert_int_equal(unlink(kp), 0);

    /* Key lost: a new one is made; the old batches no longer verify and are moved aside. */
    sp = open_ok(t->path, 1 << 20);
    read_key(t->path, k2);
    assert_memory_not_equal(k1, k2, 32);
    assert_int_equal(peek(sp, &pk), 0);
    assert_non_null(strstr(pk.err, "MAC mismatch"));
    assert_int_equal(stats(sp).unauthenticated_files, 1);
    free(pk.buf);
    spool_close(sp);
}

/* A directory others may write is refused (anyone could plant batches there). */
static void test_open_refuses_shared_directory(void **state)
{
    struct tdir *t = *state;
    char err[512];
    assert_int_equal(chmod(t->path, 0777), 0);
    assert_null(spool_open(t->path, 1 << 20, err, sizeof err));
    assert_non_null(strstr(err, "not writable by group or others; it is owned by uid"));
    assert_non_null(strstr(err, "mode 0777"));
    assert_int_equal(chmod(t->path, 0770), 0);
    assert_null(spool_open(t->path, 1 << 20, err, sizeof err));
    assert_non_null(strstr(err, "mode 0770"));
    assert_int_equal(chmod(t->path, 0755), 0);
    spool *sp = open_ok(t->path, 1 << 20);
    spool_close(sp);
}

/* ---- two threads -------------------------------------------------------- */

#define CONC_N 1000

struct conc {
    spool *sp;
    atomic_bool producer_done;
    int put_failures;            /* written by the producer only */
    char put_err[256];
};

static void conc_body(char *out, size_t n, int i)
{
    snprintf(out, n, "[{\"seq\":%d,\"pad\":\"%.*s\"}]", i, i % 50,
             "..................................................");
}

static void *conc_producer(void *arg)
{
    struct conc *c = arg;
    for (int i = 0; i < CONC_N; i++) {
        char body[128];
        conc_body(body, sizeof body, i);
        if (spool_put(c->sp, body, strlen(body), (uint32_t)(i % 13 + 1), NULL,
                      c->put_err, sizeof c->put_err) != 0)
            c->put_failures++;
    }
    atomic_store_explicit(&c->producer_done, true, memory_order_release);
    return NULL;
}

static void test_concurrent_put_peek_remove(void **state)
{
    struct tdir *t = *state;
    struct conc c = { .sp = open_ok(t->path, 64u << 20) };
    atomic_init(&c.producer_done, false);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, conc_producer, &c), 0);

    struct peeked pk = { 0 };
    int seen = 0, bad = 0, errors = 0;
    uint64_t last_id = 0;
    while (seen < CONC_N) {
        bool done = atomic_load_explicit(&c.producer_done, memory_order_acquire);
        int rc = peek(c.sp, &pk);
        if (rc < 0 || pk.err[0] != '\0') {
            errors++;
            break;
        }
        if (rc == 0) {
            if (done)
                break;                    /* producer finished, nothing left */
            struct timespec ts = { 0, 100000 };
            nanosleep(&ts, NULL);
            continue;
        }
        char want[128];
        conc_body(want, sizeof want, seen);
        if (pk.len != strlen(want) || memcmp(pk.buf, want, pk.len) != 0 ||
            pk.nevents != (uint32_t)(seen % 13 + 1) || pk.id <= last_id)
            bad++;
        last_id = pk.id;
        if (spool_remove(c.sp, pk.id) != 0)
            errors++;
        seen++;
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    if (c.put_failures)
        fail_msg("%d puts failed: %s", c.put_failures, c.put_err);
    assert_int_equal(errors, 0);
    assert_int_equal(bad, 0);
    assert_int_equal(seen, CONC_N);
    assert_int_equal(peek(c.sp, &pk), 0);

    struct spool_stats s = stats(c.sp);
    uint64_t ev = 0;
    for (int i = 0; i < CONC_N; i++)
        ev += (uint64_t)(i % 13 + 1);
    assert_int_equal(s.batches_written, CONC_N);
    assert_int_equal(s.batches_removed, CONC_N);
    assert_int_equal(s.events_written, ev);
    assert_int_equal(s.events_removed, ev);
    assert_int_equal(s.files, 0);
    assert_int_equal(s.bytes, 0);
    assert_int_equal(s.dropped_batches, 0);
    assert_int_equal(count_files(t->path), 0);
    free(pk.buf);
    spool_close(c.sp);
}

/* ---- kill -9 at random moments ------------------------------------------ */

/* Body for sequence k: self-describing, so the parent can check it. */
static size_t crash_body(char *out, size_t cap, uint64_t k)
{
    size_t len = 200 + (size_t)(k * 7919 % 30000);
    assert_true(len < cap);
    int n = snprintf(out, cap, "k=%" PRIu64 ";", k);
    memset(out + n, (int)('a' + k % 26), len - (size_t)n);
    return len;
}

static uint32_t crash_events(uint64_t k)
{
    return (uint32_t)(k % 50 + 1);
}

#define CRASH_CAP (256u * 1024u)

static void crash_child(const char *dir)
{
    static char body[40000];
    char err[256];
    spool *sp = spool_open(dir, CRASH_CAP, err, sizeof err);
    if (sp == NULL)
        _exit(3);
    for (uint64_t k = 1;; k++) {
        size_t len = crash_body(body, sizeof body, k);
        if (spool_put(sp, body, len, crash_events(k), NULL, err, sizeof err) != 0)
            _exit(4);
    }
}

static void test_kill9_while_spooling(void **state)
{
    struct tdir *t = *state;
    static char want[40000];
    uint32_t rnd = (uint32_t)time(NULL) ^ (uint32_t)getpid();
    uint64_t stale_seen = 0, batches_seen = 0;
    for (int iter = 0; iter < 20; iter++) {
        char dir[300];
        snprintf(dir, sizeof dir, "%s/run%02d", t->path, iter);
        assert_int_equal(mkdir(dir, 0700), 0);

        rnd = rnd * 1103515245u + 12345u;
        /* 0 .. ~60 ms, spread over the iterations, jittered. */
        useconds_t delay = (useconds_t)(iter * 3000 + (rnd >> 8) % 3000);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            crash_child(dir);
        usleep(delay);
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
            fail_msg("child did not die from SIGKILL (status %d)", status);

        char err[256];
        spool *sp = spool_open(dir, CRASH_CAP, err, sizeof err);
        if (sp == NULL)
            fail_msg("iteration %d: spool_open: %s", iter, err);
        struct spool_stats s = stats(sp);
        assert_int_equal(s.corrupt_files, 0);
        assert_true(s.stale_temp_files <= 1);
        assert_true(s.bytes <= CRASH_CAP);
        uint64_t nfiles = s.files;

        struct peeked pk = { 0 };
        uint64_t n = 0, prev = 0;
        int rc;
        while ((rc = peek(sp, &pk)) == 1) {
            if (pk.err[0] != '\0')
                fail_msg("iteration %d: %s", iter, pk.err);
            size_t wl = crash_body(want, sizeof want, pk.id);
            assert_int_equal(pk.len, wl);
            assert_memory_equal(pk.buf, want, wl);
            assert_int_equal(pk.nevents, crash_events(pk.id));
            if (prev != 0)
                assert_int_equal(pk.id, prev + 1);    /* no holes */
            prev = pk.id;
            assert_int_equal(spool_remove(sp, pk.id), 0);
            n++;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(n, nfiles);
        stale_seen += s.stale_temp_files;
        batches_seen += n;
        s = stats(sp);
        assert_int_equal(s.corrupt_files, 0);
        free(pk.buf);
        spool_close(sp);
        assert_int_equal(count_files(dir), 0);
        rm_dir(dir);
    }
    print_message("kill -9 x20: %" PRIu64 " batches recovered, %" PRIu64
                  " half-written temp files removed\n", batches_seen, stale_seen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)
        T(test_put_peek_remove),
        T(test_remove_out_of_order),
        T(test_empty_spool),
        T(test_open_errors),
        T(test_empty_body),
        T(test_reopen_continues),
        T(test_cap_drops_oldest),
        T(test_cap_drops_several),
        T(test_oversize_refused),
        T(test_garbage_at_open),
        T(test_flipped_byte_after_open),
        T(test_truncated),
        T(test_file_vanished),
        T(test_stale_and_foreign_files),
        T(test_planted_batches_never_sent),
        T(test_foreign_files_moved_aside),
        T(test_oversize_file_moved_aside),
        T(test_key_file),
        T(test_open_refuses_shared_directory),
        T(test_concurrent_put_peek_remove),
        T(test_kill9_while_spooling),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
