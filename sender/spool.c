/*
 * spool.c — a bounded, crash-safe on-disk queue of undelivered batches.
 *
 * Why this exists: when the endpoint is down for longer than memory can hold,
 * batches must survive until it answers again, also across a restart or a
 * kill -9, without ever filling the disk. Each batch is one file, so a batch is
 * added by a rename and delivered/dropped by an unlink: both atomic, so there is
 * no log to replay or compact and no partial state to repair at startup.
 *
 * Durability (the only order that is safe against a crash at any instant):
 * write "<dir>/.tmp-<seq>" (O_EXCL, 0600), fsync it, rename it to
 * "<dir>/<20-digit seq>.batch", fsync the directory. A valid name therefore
 * always points at a complete, fsynced file; a crash leaves at most a ".tmp-"
 * file, which spool_open removes. The header carries the body length and an
 * HMAC-SHA256, so a file damaged later (truncated, flipped byte) is detected,
 * renamed aside to "<name>.corrupt", counted and reported, never retried.
 *
 * Trust: a spooled batch is POSTed with the sensor's bearer token and HMAC
 * signature, so the spool must not accept batches from anyone else. The spool
 * belongs to its directory's owner (the user the sensor runs as; config.c
 * checks that at start) and the directory must not be writable by group or
 * others. Every batch file must be a regular file with one link, owned by that
 * user, without group/other permission bits; its header must declare a size
 * that matches the file and fits in the cap; and its MAC, over the sequence
 * number, the event count, the length and the body, must verify under the
 * spool key. The key (32 random bytes, "<dir>/.spool-key", mode 0600, owner
 * only) is made at the first open and read at every open, so batches survive a
 * restart; a file planted without it is never sent. A file failing any check
 * but the MAC is moved aside before its body is read or memory is allocated
 * for it, and the files behind it go on.
 *
 * Cap: the sum of the batch files' sizes (headers included) never exceeds
 * max_bytes. spool_put writes and fsyncs the temp file first and only then
 * deletes the oldest batches needed to make room and renames the new one into
 * place. The order differs slightly from "delete, then write" on purpose: if
 * the write fails (disk full, I/O error) nothing has been deleted, so the spool
 * is unchanged and the caller still owns the batch, as spool.h promises. A
 * temp file is not a batch and is not counted against the cap.
 *
 * In memory the spool is an array of entries sorted by sequence (new batches
 * always get the highest sequence, so put appends); the live part is
 * [start, start + count), so removing the oldest is O(1) and the array is
 * compacted only when at least half of it is dead. Its length is bounded by the
 * number of files the cap allows.
 *
 * Concurrency: one mutex guards everything, held across the file I/O of each
 * call (put on the sender thread, peek/remove on the delivery thread). A put
 * may drop the very batch the delivery thread is posting; its later
 * spool_remove then finds nothing and returns 0 (the events were counted as
 * dropped). The module logs nothing: messages go to the caller's err buffer.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define SPOOL_MAGIC       "TRSPOOL2 "
#define SPOOL_MAGIC_LEN   (sizeof SPOOL_MAGIC - 1)
#define SPOOL_LEGACY      "TRSPOOL1 "  /* CRC-32 only, before the MAC: not trusted */
#define SPOOL_MAC_LEN     32          /* HMAC-SHA256 */
#define SPOOL_KEY_LEN     32
#define SPOOL_KEY_NAME    ".spool-key"
#define SPOOL_KEY_TMP     ".tmp-spool-key"
#define SPOOL_HDR_MAX     128         /* longest valid header is 99 bytes */
#define SPOOL_SEQ_DIGITS  20
#define SPOOL_SUFFIX      ".batch"
#define SPOOL_SUFFIX_LEN  (sizeof SPOOL_SUFFIX - 1)
#define SPOOL_NAME_LEN    (SPOOL_SEQ_DIGITS + SPOOL_SUFFIX_LEN)
#define SPOOL_NAME_BUF    48          /* name, ".corrupt", ".tmp-<seq>" + NUL */
#define SPOOL_TMP_PREFIX  ".tmp-"
#define SPOOL_CORRUPT     ".corrupt"
/* Bodies above this are refused by the parser: keeps every size computation
 * far from overflow in size_t, off_t and uint64_t. */
#define SPOOL_BODY_MAX    ((uint64_t)1 << 40)

struct spool_entry {
    uint64_t seq;
    uint64_t size;      /* whole file: header + body */
    uint64_t body_len;
    uint32_t nevents;
};

struct spool {
    pthread_mutex_t mu;          /* guards everything below except dir/dirfd */
    char *dir;                   /* for messages */
    int dirfd;                   /* O_RDONLY|O_DIRECTORY: *at() calls, fsync */
    uint64_t max_bytes;
    uid_t owner;                 /* the directory's owner: every file must be its */
    unsigned char key[SPOOL_KEY_LEN];
    EVP_MAC *mac;                /* HMAC, fetched once */
    uint64_t next_seq;
    struct spool_entry *ents;    /* live entries: [start, start + count) */
    size_t start, count, ents_cap;
    struct spool_stats st;
};

struct spool_hdr {
    uint32_t nevents;
    uint64_t body_len;
    unsigned char mac[SPOOL_MAC_LEN];
    size_t hdr_len;              /* including the '\n' */
};

/* Why a file is moved aside; each has its own counter besides corrupt_files. */
enum spool_bad {
    SPOOL_BAD_CORRUPT,           /* bad header, short, size mismatch */
    SPOOL_BAD_FOREIGN,           /* another owner, group/other bits, links */
    SPOOL_BAD_OVERSIZE,          /* declares more than the cap */
    SPOOL_BAD_UNAUTH,            /* no MAC (old format) or a MAC the key refutes */
};

/* ---- small helpers ------------------------------------------------------ */

__attribute__((format(printf, 3, 4)))
static void spool_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Appends to err ("; " between items), truncating silently when full. */
__attribute__((format(printf, 3, 4)))
static void spool_adderr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    size_t used = strnlen(err, errlen);
    if (used >= errlen - 1)
        return;
    if (used > 0) {
        int n = snprintf(err + used, errlen - used, "; ");
        if (n < 0 || (size_t)n >= errlen - used)
            return;
        used += (size_t)n;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + used, errlen - used, fmt, ap);
    va_end(ap);
}

static void spool_batch_name(char out[SPOOL_NAME_BUF], uint64_t seq)
{
    snprintf(out, SPOOL_NAME_BUF, "%020" PRIu64 SPOOL_SUFFIX, seq);
}

/*
 * HMAC-SHA256 under the spool key of "<20-digit seq> <events> <length>\n"
 * followed by the body: binding the name's sequence means a batch cannot be
 * replayed under another name either. 0, or -1 (OpenSSL failure).
 */
static int spool_mac(const spool *sp, uint64_t seq, uint32_t nevents, const char *body,
                     size_t len, unsigned char out[SPOOL_MAC_LEN])
{
    char pre[64];
    int pl = snprintf(pre, sizeof pre, "%020" PRIu64 " %" PRIu32 " %zu\n", seq, nevents, len);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(sp->mac);
    size_t got = 0;
    int ok = ctx != NULL && pl > 0 && (size_t)pl < sizeof pre &&
             EVP_MAC_init(ctx, sp->key, sizeof sp->key, params) == 1 &&
             EVP_MAC_update(ctx, (const unsigned char *)pre, (size_t)pl) == 1 &&
             (len == 0 || EVP_MAC_update(ctx, (const unsigned char *)body, len) == 1) &&
             EVP_MAC_final(ctx, out, &got, SPOOL_MAC_LEN) == 1 && got == SPOOL_MAC_LEN;
    EVP_MAC_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* Writes all n bytes, retrying short writes and EINTR. 0 or -1 (errno). */
static int spool_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        size_t chunk = n > (size_t)SSIZE_MAX ? (size_t)SSIZE_MAX : n;
        ssize_t w = write(fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += (size_t)w;
        n -= (size_t)w;
    }
    return 0;
}

/*
 * Write a then b (b may be NULL) to the new file fd, hand it to the spool's
 * owner when root writes it (before the privilege drop), fsync and close it.
 * Returns NULL, or the step that failed with its errno in *saved.
 */
static const char *spool_finish_file(const spool *sp, int fd, const void *a, size_t alen, const void *b,
                                     size_t blen, int *saved)
{
    const char *what = NULL;
    if (spool_write_all(fd, a, alen) != 0 || (b && spool_write_all(fd, b, blen) != 0))
        what = "write";
    else if (geteuid() != sp->owner && fchown(fd, sp->owner, (gid_t)-1) != 0)
        what = "chown";
    else if (fsync(fd) != 0)
        what = "fsync";
    *saved = errno;
    if (close(fd) != 0 && what == NULL) {
        what = "close";
        *saved = errno;
    }
    return what;
}

/* Reads up to n bytes at offset off, stopping only at EOF. Bytes read, or -1. */
static ssize_t spool_read_full(int fd, char *p, size_t n, off_t off)
{
    size_t got = 0;
    while (got < n) {
        size_t chunk = n - got > (size_t)SSIZE_MAX ? (size_t)SSIZE_MAX : n - got;
        ssize_t r = pread(fd, p + got, chunk, off + (off_t)got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Exactly 20 digits + ".batch", value within uint64_t. */
static bool spool_parse_name(const char *name, uint64_t *seq)
{
    if (strlen(name) != SPOOL_NAME_LEN ||
        memcmp(name + SPOOL_SEQ_DIGITS, SPOOL_SUFFIX, SPOOL_SUFFIX_LEN) != 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < SPOOL_SEQ_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        unsigned d = (unsigned)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;                  /* 20 digits above UINT64_MAX */
        v = v * 10 + d;
    }
    *seq = v;
    return true;
}

/* Canonical decimal (no sign, no leading zeros) of at most `max`, ending at
 * `stop`. Advances *pos past the digits and the stop character. */
static bool spool_parse_dec(const char *b, size_t n, size_t *pos, char stop,
                            uint64_t max, uint64_t *out)
{
    size_t i = *pos, first = i;
    uint64_t v = 0;
    while (i < n && b[i] >= '0' && b[i] <= '9') {
        unsigned d = (unsigned)(b[i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
        i++;
    }
    if (i == first || (i - first > 1 && b[first] == '0'))
        return false;
    if (i >= n || b[i] != stop)
        return false;
    *pos = i + 1;
    *out = v;
    return true;
}

/*
 * Parses "TRSPOOL2 <events> <body bytes> <HMAC 64 lowercase hex>\n" from the
 * first n bytes of a file. Strict: exactly what spool_put writes.
 */
static bool spool_parse_header(const char *b, size_t n, struct spool_hdr *h)
{
    if (n < SPOOL_MAGIC_LEN || memcmp(b, SPOOL_MAGIC, SPOOL_MAGIC_LEN) != 0)
        return false;
    size_t pos = SPOOL_MAGIC_LEN;
    uint64_t ev, body;
    if (!spool_parse_dec(b, n, &pos, ' ', UINT32_MAX, &ev) ||
        !spool_parse_dec(b, n, &pos, ' ', SPOOL_BODY_MAX, &body))
        return false;
    if (n - pos < 2 * SPOOL_MAC_LEN + 1)
        return false;
    for (size_t i = 0; i < 2 * SPOOL_MAC_LEN; i++) {
        char c = b[pos + i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return false;
        if (i % 2 == 0)
            h->mac[i / 2] = (unsigned char)(d << 4);
        else
            h->mac[i / 2] |= (unsigned char)d;
    }
    if (b[pos + 2 * SPOOL_MAC_LEN] != '\n')
        return false;
    h->nevents = (uint32_t)ev;
    h->body_len = body;
    h->hdr_len = pos + 2 * SPOOL_MAC_LEN + 1;
    return true;
}

/*
 * Checks an open file (who owns it, its mode and links), reads and parses its
 * header (at most SPOOL_HDR_MAX bytes: nothing is allocated, the body is not
 * read) and checks the declared size against the cap and the file. Returns 1
 * valid, 0 invalid (reason in *why, kind in *bad), -1 I/O error (errno).
 */
static int spool_read_header(const spool *sp, int fd, struct spool_hdr *h,
                             uint64_t *fsize, const char **why, enum spool_bad *bad)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return -1;
    *bad = SPOOL_BAD_FOREIGN;
    if (!S_ISREG(sb.st_mode)) {
        *why = "not a regular file";
        return 0;
    }
    if (sb.st_uid != sp->owner) {
        *why = "owned by another user";
        return 0;
    }
    if ((sb.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        *why = "group or other permission bits set";
        return 0;
    }
    if (sb.st_nlink != 1) {
        *why = "more than one hard link";
        return 0;
    }
    char b[SPOOL_HDR_MAX];
    ssize_t n = spool_read_full(fd, b, sizeof b, 0);
    if (n < 0)
        return -1;
    if (!spool_parse_header(b, (size_t)n, h)) {
        bool legacy = (size_t)n >= sizeof SPOOL_LEGACY - 1 &&
                      memcmp(b, SPOOL_LEGACY, sizeof SPOOL_LEGACY - 1) == 0;
        *bad = legacy ? SPOOL_BAD_UNAUTH : SPOOL_BAD_CORRUPT;
        *why = legacy ? "no MAC (TRSPOOL1, written before spool authentication)" : "bad header";
        return 0;
    }
    if (h->hdr_len + h->body_len > sp->max_bytes) {
        *bad = SPOOL_BAD_OVERSIZE;
        *why = "declares more bytes than the spool cap";
        return 0;
    }
    if (sb.st_size < 0 || (uint64_t)sb.st_size != h->hdr_len + h->body_len) {
        *bad = SPOOL_BAD_CORRUPT;
        *why = "size does not match header";
        return 0;
    }
    *fsize = (uint64_t)sb.st_size;
    return 1;
}

/* Counts a file moved aside (or that could not be): the total and its kind. */
static void spool_count_bad(spool *sp, enum spool_bad bad)
{
    sp->st.corrupt_files++;
    switch (bad) {
    case SPOOL_BAD_FOREIGN: sp->st.foreign_files++; break;
    case SPOOL_BAD_OVERSIZE: sp->st.oversize_files++; break;
    case SPOOL_BAD_UNAUTH: sp->st.unauthenticated_files++; break;
    case SPOOL_BAD_CORRUPT: break;
    }
}

/* ---- the in-memory list ------------------------------------------------- */

/* Makes room for one more entry at the end. 0 or -1 (ENOMEM). */
static int spool_list_reserve(spool *sp)
{
    if (sp->start + sp->count < sp->ents_cap)
        return 0;
    if (sp->start > 0 && sp->start >= sp->ents_cap / 2) {
        memmove(sp->ents, sp->ents + sp->start, sp->count * sizeof *sp->ents);
        sp->start = 0;
        return 0;
    }
    size_t ncap = sp->ents_cap ? sp->ents_cap * 2 : 16;
    if (ncap > SIZE_MAX / sizeof *sp->ents)
        return -1;
    struct spool_entry *n = realloc(sp->ents, ncap * sizeof *n);
    if (n == NULL)
        return -1;
    sp->ents = n;
    sp->ents_cap = ncap;
    return 0;
}

/* Appends (caller reserved room and guarantees seq is the highest). */
static void spool_list_push(spool *sp, const struct spool_entry *e)
{
    sp->ents[sp->start + sp->count] = *e;
    sp->count++;
    sp->st.files++;
    sp->st.bytes += e->size;
    sp->st.events += e->nevents;
}

/* Index (absolute) of seq, or SIZE_MAX. Binary search: entries are sorted. */
static size_t spool_list_find(const spool *sp, uint64_t seq)
{
    size_t lo = sp->start, hi = sp->start + sp->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sp->ents[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < sp->start + sp->count && sp->ents[lo].seq == seq)
        return lo;
    return SIZE_MAX;
}

/* Removes the entry at absolute index i and subtracts it from the totals. */
static void spool_list_erase(spool *sp, size_t i)
{
    const struct spool_entry *e = &sp->ents[i];
    sp->st.files--;
    sp->st.bytes -= e->size;
    sp->st.events -= e->nevents;
    if (i == sp->start) {
        sp->start++;
    } else {
        size_t end = sp->start + sp->count;
        memmove(sp->ents + i, sp->ents + i + 1, (end - i - 1) * sizeof *sp->ents);
    }
    sp->count--;
    if (sp->count == 0)
        sp->start = 0;
}

static int spool_entry_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct spool_entry *)a)->seq;
    uint64_t y = ((const struct spool_entry *)b)->seq;
    return (x > y) - (x < y);
}

/* Renames a batch aside to "<name>.corrupt". 0 or -1 (errno). */
static int spool_move_aside(spool *sp, const char *name)
{
    char aside[SPOOL_NAME_BUF + 16];
    snprintf(aside, sizeof aside, "%s" SPOOL_CORRUPT, name);
    return renameat(sp->dirfd, name, sp->dirfd, aside);
}

/* ---- the key ------------------------------------------------------------ */

/*
 * Reads the key from an open key file after checking it: a regular file with
 * one link, the spool owner's, no group/other bits, exactly SPOOL_KEY_LEN
 * bytes. 0, or -1 with a message in err.
 */
static int spool_key_read(spool *sp, int fd, char *err, size_t errlen)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        spool_seterr(err, errlen, "spool %s/" SPOOL_KEY_NAME ": stat: %s", sp->dir, strerror(errno));
        return -1;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_nlink != 1 || sb.st_uid != sp->owner ||
        (sb.st_mode & (S_IRWXG | S_IRWXO)) != 0 || sb.st_size != SPOOL_KEY_LEN) {
        spool_seterr(err, errlen, "spool %s/" SPOOL_KEY_NAME ": must be a regular file of %d bytes "
                     "owned by uid %u with mode 0600 (it has uid %u, mode %04o, %lld bytes, %lu links); "
                     "remove it to make a new key (the batches spooled under the old one are then "
                     "moved aside, not sent)", sp->dir, SPOOL_KEY_LEN, (unsigned)sp->owner,
                     (unsigned)sb.st_uid, (unsigned)(sb.st_mode & 07777), (long long)sb.st_size,
                     (unsigned long)sb.st_nlink);
        return -1;
    }
    ssize_t got = spool_read_full(fd, (char *)sp->key, sizeof sp->key, 0);
    if (got != (ssize_t)sizeof sp->key) {
        spool_seterr(err, errlen, "spool %s/" SPOOL_KEY_NAME ": read: %s", sp->dir,
                     got < 0 ? strerror(errno) : "short");
        return -1;
    }
    return 0;
}

/*
 * Makes a new random key: written to a temp file (0600, the owner's, fsynced),
 * then linked to SPOOL_KEY_NAME, which fails if another process made one
 * first (then that one is used). 0, or -1 with a message in err.
 */
static int spool_key_create(spool *sp, char *err, size_t errlen)
{
    if (RAND_bytes(sp->key, (int)sizeof sp->key) != 1) {
        spool_seterr(err, errlen, "spool %s: cannot make a random key", sp->dir);
        return -1;
    }
    (void)unlinkat(sp->dirfd, SPOOL_KEY_TMP, 0);       /* left by a crash */
    int fd = openat(sp->dirfd, SPOOL_KEY_TMP,
                    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        spool_seterr(err, errlen, "spool %s/" SPOOL_KEY_TMP ": create: %s", sp->dir, strerror(errno));
        return -1;
    }
    int saved = 0;
    const char *what = spool_finish_file(sp, fd, sp->key, sizeof sp->key, NULL, 0, &saved);
    int rc = 0;
    if (what != NULL) {
        spool_seterr(err, errlen, "spool %s/" SPOOL_KEY_TMP ": %s: %s", sp->dir, what, strerror(saved));
        rc = -1;
    } else if (linkat(sp->dirfd, SPOOL_KEY_TMP, sp->dirfd, SPOOL_KEY_NAME, 0) != 0) {
        if (errno == EEXIST) {
            rc = 1;                     /* lost a race: read the winner's */
        } else {
            spool_seterr(err, errlen, "spool %s/" SPOOL_KEY_NAME ": link: %s", sp->dir, strerror(errno));
            rc = -1;
        }
    }
    (void)unlinkat(sp->dirfd, SPOOL_KEY_TMP, 0);
    if (rc == 0 && fsync(sp->dirfd) != 0) {
        spool_seterr(err, errlen, "spool %s: fsync: %s", sp->dir, strerror(errno));
        rc = -1;
    }
    return rc;
}

/* Loads the key, making it at the first open. 0, or -1 with a message in err. */
static int spool_key_load(spool *sp, char *err, size_t errlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = openat(sp->dirfd, SPOOL_KEY_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd >= 0) {
            int rc = spool_key_read(sp, fd, err, errlen);
            close(fd);
            return rc;
        }
        if (errno != ENOENT) {
            spool_seterr(err, errlen, "spool %s/" SPOOL_KEY_NAME ": %s", sp->dir,
                         errno == ELOOP ? "is a symbolic link: refused" : strerror(errno));
            return -1;
        }
        int rc = spool_key_create(sp, err, errlen);
        if (rc <= 0)
            return rc;
    }
    spool_seterr(err, errlen, "spool %s/" SPOOL_KEY_NAME ": cannot be read or made", sp->dir);
    return -1;
}

/* ---- open / close ------------------------------------------------------- */

/* One directory entry during the scan. 0, or -1 on an I/O error (err set). */
static int spool_scan_one(spool *sp, const char *name, bool *dirty,
                          char *err, size_t errlen)
{
    if (strncmp(name, SPOOL_TMP_PREFIX, strlen(SPOOL_TMP_PREFIX)) == 0) {
        /* A put interrupted before its rename: never a batch. */
        if (unlinkat(sp->dirfd, name, 0) == 0) {
            sp->st.stale_temp_files++;
            *dirty = true;
        }
        return 0;                  /* a directory or a vanished file: leave it */
    }
    uint64_t seq;
    if (!spool_parse_name(name, &seq))
        return 0;                  /* not ours: never touched */

    struct stat sb;
    if (fstatat(sp->dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return 0;
        spool_seterr(err, errlen, "spool %s/%s: stat: %s", sp->dir, name,
                     strerror(errno));
        return -1;
    }
    if (!S_ISREG(sb.st_mode))
        return 0;                  /* a symlink or directory with our name */

    int fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        spool_seterr(err, errlen, "spool %s/%s: open: %s", sp->dir, name,
                     strerror(errno));
        return -1;
    }
    struct spool_hdr h;
    uint64_t fsize = 0;
    const char *why = NULL;
    enum spool_bad bad = SPOOL_BAD_CORRUPT;
    int rc = spool_read_header(sp, fd, &h, &fsize, &why, &bad);
    int saved = errno;
    close(fd);
    if (rc < 0) {
        spool_seterr(err, errlen, "spool %s/%s: read: %s", sp->dir, name,
                     strerror(saved));
        return -1;
    }
    if (rc == 0) {
        /* Counted even if the rename fails: it is not loaded either way. */
        spool_count_bad(sp, bad);
        if (spool_move_aside(sp, name) == 0)
            *dirty = true;
        return 0;
    }
    if (spool_list_reserve(sp) != 0) {
        spool_seterr(err, errlen, "spool %s: out of memory", sp->dir);
        return -1;
    }
    /* Pushed unsorted here; spool_open sorts once the scan is done. */
    struct spool_entry e = { .seq = seq, .size = fsize,
                             .body_len = h.body_len, .nevents = h.nevents };
    spool_list_push(sp, &e);
    return 0;
}

spool *spool_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen)
{
    spool_seterr(err, errlen, "%s", "");
    if (dir == NULL || dir[0] == '\0') {
        spool_seterr(err, errlen, "spool directory: must not be empty");
        return NULL;
    }
    if (max_bytes == 0) {
        spool_seterr(err, errlen, "spool %s: max_bytes 0: must be > 0", dir);
        return NULL;
    }
    spool *sp = calloc(1, sizeof *sp);
    if (sp == NULL) {
        spool_seterr(err, errlen, "spool %s: out of memory", dir);
        return NULL;
    }
    sp->dirfd = -1;
    sp->max_bytes = max_bytes;
    bool mu_ok = false;
    DIR *d = NULL;

    sp->dir = strdup(dir);
    if (sp->dir == NULL) {
        spool_seterr(err, errlen, "spool %s: out of memory", dir);
        goto err;
    }
    if (pthread_mutex_init(&sp->mu, NULL) != 0) {
        spool_seterr(err, errlen, "spool %s: cannot create mutex", dir);
        goto err;
    }
    mu_ok = true;
    sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->dirfd < 0) {
        spool_seterr(err, errlen, "spool %s: %s", dir, strerror(errno));
        goto err;
    }
    if (faccessat(sp->dirfd, ".", W_OK | X_OK, 0) != 0) {
        spool_seterr(err, errlen, "spool %s: not writable: %s", dir,
                     strerror(errno));
        goto err;
    }
    struct stat dst;
    if (fstat(sp->dirfd, &dst) != 0) {
        spool_seterr(err, errlen, "spool %s: stat: %s", dir, strerror(errno));
        goto err;
    }
    /* The directory's owner is the spool's owner: the sensor itself, or, when
     * root opens it before the privilege drop, the user it will run as. */
    if ((dst.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
        (geteuid() != 0 && dst.st_uid != geteuid())) {
        spool_seterr(err, errlen, "spool %s: must be owned by the sensor's user (uid %u) and not "
                     "writable by group or others; it is owned by uid %u with mode %04o", dir,
                     (unsigned)geteuid(), (unsigned)dst.st_uid, (unsigned)(dst.st_mode & 07777));
        goto err;
    }
    sp->owner = dst.st_uid;
    sp->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (sp->mac == NULL) {
        spool_seterr(err, errlen, "spool %s: OpenSSL has no HMAC", dir);
        goto err;
    }
    if (spool_key_load(sp, err, errlen) != 0)
        goto err;
    int scanfd = dup(sp->dirfd);
    if (scanfd < 0 || (d = fdopendir(scanfd)) == NULL) {
        spool_seterr(err, errlen, "spool %s: opendir: %s", dir, strerror(errno));
        if (scanfd >= 0)
            close(scanfd);
        goto err;
    }
    bool dirty = false;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            if (errno != 0) {
                spool_seterr(err, errlen, "spool %s: readdir: %s", dir,
                             strerror(errno));
                goto err;
            }
            break;
        }
        if (spool_scan_one(sp, de->d_name, &dirty, err, errlen) != 0)
            goto err;
    }
    closedir(d);
    d = NULL;

    if (sp->count > 1)
        qsort(sp->ents, sp->count, sizeof *sp->ents, spool_entry_cmp);
    sp->next_seq = sp->count > 0 ? sp->ents[sp->count - 1].seq + 1 : 1;
    /* Make the removals and renames durable before anything new is written. */
    if (dirty && fsync(sp->dirfd) != 0) {
        spool_seterr(err, errlen, "spool %s: fsync: %s", dir, strerror(errno));
        goto err;
    }
    return sp;

err:
    if (d != NULL)
        closedir(d);
    if (sp->dirfd >= 0)
        close(sp->dirfd);
    if (mu_ok)
        pthread_mutex_destroy(&sp->mu);
    OPENSSL_cleanse(sp->key, sizeof sp->key);
    EVP_MAC_free(sp->mac);
    free(sp->ents);
    free(sp->dir);
    free(sp);
    return NULL;
}

void spool_close(spool *sp)
{
    if (sp == NULL)
        return;
    pthread_mutex_destroy(&sp->mu);
    close(sp->dirfd);
    OPENSSL_cleanse(sp->key, sizeof sp->key);
    EVP_MAC_free(sp->mac);
    free(sp->ents);
    free(sp->dir);
    free(sp);
}

/* ---- put ---------------------------------------------------------------- */

/*
 * Deletes the oldest batches until `need` more bytes fit under the cap.
 * Returns 0, or -1 when a file cannot be deleted (err set). *dropped gets the
 * events deleted, also on failure.
 */
static int spool_make_room(spool *sp, uint64_t need, uint64_t *dropped,
                           char *err, size_t errlen)
{
    while (sp->count > 0 && sp->st.bytes + need > sp->max_bytes) {
        const struct spool_entry *e = &sp->ents[sp->start];
        char name[SPOOL_NAME_BUF];
        spool_batch_name(name, e->seq);
        if (unlinkat(sp->dirfd, name, 0) != 0 && errno != ENOENT) {
            spool_seterr(err, errlen, "spool %s/%s: cannot delete to make room: %s",
                         sp->dir, name, strerror(errno));
            return -1;
        }
        sp->st.dropped_batches++;
        sp->st.dropped_events += e->nevents;
        *dropped += e->nevents;
        spool_list_erase(sp, sp->start);
    }
    return 0;
}

static int spool_put_locked(spool *sp, const char *body, size_t len,
                            uint32_t nevents, uint64_t *dropped,
                            char *err, size_t errlen)
{
    if (body == NULL && len > 0) {
        spool_seterr(err, errlen, "spool %s: NULL body", sp->dir);
        return -1;
    }
    if ((uint64_t)len > SPOOL_BODY_MAX) {
        spool_seterr(err, errlen, "spool %s: batch of %zu bytes: too large",
                     sp->dir, len);
        return -1;
    }
    if (sp->next_seq == UINT64_MAX) {
        spool_seterr(err, errlen, "spool %s: sequence exhausted", sp->dir);
        return -1;
    }
    unsigned char mac[SPOOL_MAC_LEN];
    if (spool_mac(sp, sp->next_seq, nevents, body, len, mac) != 0) {
        spool_seterr(err, errlen, "spool %s: HMAC failed", sp->dir);
        return -1;
    }
    char hdr[SPOOL_HDR_MAX];
    int hl = snprintf(hdr, sizeof hdr, SPOOL_MAGIC "%" PRIu32 " %zu ", nevents, len);
    if (hl < 0 || (size_t)hl + 2 * SPOOL_MAC_LEN + 1 >= sizeof hdr) {
        spool_seterr(err, errlen, "spool %s: header too long", sp->dir);
        return -1;
    }
    for (size_t i = 0; i < SPOOL_MAC_LEN; i++)
        hl += snprintf(hdr + hl, sizeof hdr - (size_t)hl, "%02x", mac[i]);
    hdr[hl++] = '\n';
    uint64_t need = (uint64_t)hl + (uint64_t)len;
    if (need > sp->max_bytes) {
        spool_seterr(err, errlen,
                     "spool %s: batch of %" PRIu64 " bytes (header included) "
                     "exceeds the spool cap of %" PRIu64 " bytes",
                     sp->dir, need, sp->max_bytes);
        return -1;
    }
    if (spool_list_reserve(sp) != 0) {
        spool_seterr(err, errlen, "spool %s: out of memory", sp->dir);
        return -1;
    }

    /* Every attempt consumes a sequence number, so a temp file left by a
     * failed attempt can never collide with the next one. */
    uint64_t seq = sp->next_seq++;
    char tmp[SPOOL_NAME_BUF], name[SPOOL_NAME_BUF];
    snprintf(tmp, sizeof tmp, SPOOL_TMP_PREFIX "%" PRIu64, seq);
    spool_batch_name(name, seq);

    int fd = openat(sp->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        spool_seterr(err, errlen, "spool %s/%s: create: %s", sp->dir, tmp,
                     strerror(errno));
        return -1;
    }
    int saved = 0;
    const char *what = spool_finish_file(sp, fd, hdr, (size_t)hl, body, len, &saved);
    if (what != NULL) {
        spool_seterr(err, errlen, "spool %s/%s: %s: %s", sp->dir, tmp, what,
                     strerror(saved));
        unlinkat(sp->dirfd, tmp, 0);
        return -1;
    }

    /* The new batch is safely on disk under its temp name: only now drop. */
    uint64_t ndropped_before = sp->st.dropped_batches;
    uint64_t ev = 0;
    int rc = spool_make_room(sp, need, &ev, err, errlen);
    if (dropped != NULL)
        *dropped += ev;
    if (rc == 0 && renameat(sp->dirfd, tmp, sp->dirfd, name) != 0) {
        spool_seterr(err, errlen, "spool %s/%s: rename: %s", sp->dir, name,
                     strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        unlinkat(sp->dirfd, tmp, 0);
        if (sp->st.dropped_batches != ndropped_before)
            (void)fsync(sp->dirfd);         /* best effort: the deletions */
        return -1;
    }
    if (fsync(sp->dirfd) != 0) {
        /* The rename may not be durable: take the batch back so the caller,
         * who keeps ownership on -1, does not end up with a duplicate. */
        spool_seterr(err, errlen, "spool %s: fsync: %s", sp->dir, strerror(errno));
        unlinkat(sp->dirfd, name, 0);
        return -1;
    }
    struct spool_entry e = { .seq = seq, .size = need, .body_len = len,
                             .nevents = nevents };
    spool_list_push(sp, &e);
    sp->st.batches_written++;
    sp->st.events_written += nevents;
    return 0;
}

int spool_put(spool *sp, const char *body, size_t len, uint32_t nevents,
              uint64_t *dropped_events, char *err, size_t errlen)
{
    spool_seterr(err, errlen, "%s", "");
    if (sp == NULL) {
        spool_seterr(err, errlen, "spool: NULL handle");
        return -1;
    }
    pthread_mutex_lock(&sp->mu);
    int rc = spool_put_locked(sp, body, len, nevents, dropped_events, err, errlen);
    if (rc != 0)
        sp->st.write_errors++;
    pthread_mutex_unlock(&sp->mu);
    return rc;
}

/* ---- peek / remove ------------------------------------------------------ */

/* Drops the oldest entry as corrupt: renamed aside, counted, reported. */
static void spool_drop_corrupt(spool *sp, const char *name, const char *why,
                               enum spool_bad bad, char *err, size_t errlen)
{
    spool_count_bad(sp, bad);
    if (spool_move_aside(sp, name) == 0) {
        (void)fsync(sp->dirfd);
        spool_adderr(err, errlen, "spool %s/%s: %s, moved aside to %s" SPOOL_CORRUPT,
                     sp->dir, name, why, name);
    } else {
        spool_adderr(err, errlen, "spool %s/%s: %s (could not move aside: %s)",
                     sp->dir, name, why, strerror(errno));
    }
    spool_list_erase(sp, sp->start);
}

/*
 * Tries to load the oldest entry. 1 loaded, 0 corrupt (already dropped, try the
 * next), -1 I/O or memory error (entry kept).
 */
static int spool_load_oldest(spool *sp, char **buf, size_t *cap, size_t *len,
                             uint32_t *nevents, uint64_t *id,
                             char *err, size_t errlen)
{
    const struct spool_entry e = sp->ents[sp->start];
    char name[SPOOL_NAME_BUF];
    spool_batch_name(name, e.seq);

    int fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT || errno == ELOOP) {
            /* Removed or replaced behind our back: the batch is lost. */
            spool_count_bad(sp, errno == ENOENT ? SPOOL_BAD_CORRUPT : SPOOL_BAD_FOREIGN);
            spool_adderr(err, errlen, "spool %s/%s: %s", sp->dir, name,
                         errno == ENOENT ? "vanished" : "replaced by a symlink");
            spool_list_erase(sp, sp->start);
            return 0;
        }
        spool_adderr(err, errlen, "spool %s/%s: open: %s", sp->dir, name,
                     strerror(errno));
        return -1;
    }
    struct spool_hdr h;
    uint64_t fsize = 0;
    const char *why = NULL;
    enum spool_bad bad = SPOOL_BAD_CORRUPT;
    int rc = spool_read_header(sp, fd, &h, &fsize, &why, &bad);
    if (rc < 0) {
        spool_adderr(err, errlen, "spool %s/%s: read: %s", sp->dir, name,
                     strerror(errno));
        close(fd);
        return -1;
    }
    if (rc == 1 && (h.nevents != e.nevents || h.body_len != e.body_len)) {
        why = "header changed since open";
        bad = SPOOL_BAD_CORRUPT;
        rc = 0;
    }
    if (rc == 0) {
        close(fd);
        spool_drop_corrupt(sp, name, why, bad, err, errlen);
        return 0;
    }
    size_t blen = (size_t)h.body_len;
    size_t want = blen > 0 ? blen : 1;
    if (*buf == NULL || *cap < want) {
        char *nb = realloc(*buf, want);
        if (nb == NULL) {
            spool_adderr(err, errlen, "spool %s/%s: out of memory (%zu bytes)",
                         sp->dir, name, want);
            close(fd);
            return -1;
        }
        *buf = nb;
        *cap = want;
    }
    ssize_t got = spool_read_full(fd, *buf, blen, (off_t)h.hdr_len);
    int saved = errno;
    close(fd);
    if (got < 0) {
        spool_adderr(err, errlen, "spool %s/%s: read: %s", sp->dir, name,
                     strerror(saved));
        return -1;
    }
    if ((size_t)got != blen) {
        spool_drop_corrupt(sp, name, "truncated", SPOOL_BAD_CORRUPT, err, errlen);
        return 0;
    }
    unsigned char mac[SPOOL_MAC_LEN];
    if (spool_mac(sp, e.seq, h.nevents, *buf, blen, mac) != 0) {
        spool_adderr(err, errlen, "spool %s/%s: HMAC failed", sp->dir, name);
        return -1;
    }
    if (CRYPTO_memcmp(mac, h.mac, sizeof mac) != 0) {
        /* Damaged, or not written by this sensor under this key: never sent. */
        spool_drop_corrupt(sp, name, "MAC mismatch (damaged, or not written by the sensor)",
                           SPOOL_BAD_UNAUTH, err, errlen);
        return 0;
    }
    *len = blen;
    *nevents = h.nevents;
    *id = e.seq;
    return 1;
}

int spool_peek_oldest(spool *sp, char **buf, size_t *cap, size_t *len,
                      uint32_t *nevents, uint64_t *id, char *err, size_t errlen)
{
    spool_seterr(err, errlen, "%s", "");
    if (sp == NULL || buf == NULL || cap == NULL || len == NULL ||
        nevents == NULL || id == NULL) {
        spool_seterr(err, errlen, "spool: NULL argument");
        return -1;
    }
    pthread_mutex_lock(&sp->mu);
    int rc = 0;
    while (sp->count > 0) {
        rc = spool_load_oldest(sp, buf, cap, len, nevents, id, err, errlen);
        if (rc != 0)
            break;
    }
    pthread_mutex_unlock(&sp->mu);
    return rc;
}

int spool_remove(spool *sp, uint64_t id)
{
    if (sp == NULL)
        return -1;
    pthread_mutex_lock(&sp->mu);
    int rc = 0;
    size_t i = spool_list_find(sp, id);
    if (i != SIZE_MAX) {
        char name[SPOOL_NAME_BUF];
        spool_batch_name(name, id);
        if (unlinkat(sp->dirfd, name, 0) != 0 && errno != ENOENT) {
            rc = -1;                       /* still spooled: entry kept */
        } else {
            sp->st.batches_removed++;
            sp->st.events_removed += sp->ents[i].nevents;
            spool_list_erase(sp, i);
            if (fsync(sp->dirfd) != 0)
                rc = -1;                   /* gone, but maybe not durably */
        }
    }
    pthread_mutex_unlock(&sp->mu);
    return rc;
}

void spool_get_stats(spool *sp, struct spool_stats *out)
{
    if (out == NULL)
        return;
    if (sp == NULL) {
        memset(out, 0, sizeof *out);
        return;
    }
    pthread_mutex_lock(&sp->mu);
    *out = sp->st;
    pthread_mutex_unlock(&sp->mu);
}
