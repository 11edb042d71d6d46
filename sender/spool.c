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
 * file, which spool_open removes. The header carries the body length and a
 * zlib CRC-32, so a file damaged later (truncated, flipped byte) is detected,
 * renamed aside to "<name>.corrupt", counted and reported, never retried.
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

#include <zlib.h>

#define SPOOL_MAGIC       "TRSPOOL1 "
#define SPOOL_MAGIC_LEN   (sizeof SPOOL_MAGIC - 1)
#define SPOOL_HDR_MAX     64          /* longest valid header is 50 bytes */
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
    uint64_t next_seq;
    struct spool_entry *ents;    /* live entries: [start, start + count) */
    size_t start, count, ents_cap;
    struct spool_stats st;
};

struct spool_hdr {
    uint32_t nevents;
    uint64_t body_len;
    uint32_t crc;
    size_t hdr_len;              /* including the '\n' */
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

/* zlib's crc32 takes a uInt length: feed large bodies in chunks. */
static uint32_t spool_crc(const char *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, (const Bytef *)p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)(c & 0xffffffffUL);
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
 * Parses "TRSPOOL1 <events> <body bytes> <crc32 8 lowercase hex>\n" from the
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
    if (n - pos < 9)
        return false;
    uint32_t crc = 0;
    for (size_t i = 0; i < 8; i++) {
        char c = b[pos + i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return false;
        crc = crc << 4 | d;
    }
    if (b[pos + 8] != '\n')
        return false;
    h->nevents = (uint32_t)ev;
    h->body_len = body;
    h->crc = crc;
    h->hdr_len = pos + 9;
    return true;
}

/*
 * Reads and parses the header of an open file and checks the file size.
 * Returns 1 valid, 0 invalid (reason in *why), -1 I/O error (errno).
 */
static int spool_read_header(int fd, struct spool_hdr *h, uint64_t *fsize,
                             const char **why)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return -1;
    if (!S_ISREG(sb.st_mode)) {
        *why = "not a regular file";
        return 0;
    }
    char b[SPOOL_HDR_MAX];
    ssize_t n = spool_read_full(fd, b, sizeof b, 0);
    if (n < 0)
        return -1;
    if (!spool_parse_header(b, (size_t)n, h)) {
        *why = "bad header";
        return 0;
    }
    if (sb.st_size < 0 || (uint64_t)sb.st_size != h->hdr_len + h->body_len) {
        *why = "size does not match header";
        return 0;
    }
    *fsize = (uint64_t)sb.st_size;
    return 1;
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
    int rc = spool_read_header(fd, &h, &fsize, &why);
    int saved = errno;
    close(fd);
    if (rc < 0) {
        spool_seterr(err, errlen, "spool %s/%s: read: %s", sp->dir, name,
                     strerror(saved));
        return -1;
    }
    if (rc == 0) {
        /* Counted even if the rename fails: it is not loaded either way. */
        sp->st.corrupt_files++;
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
    char hdr[SPOOL_HDR_MAX];
    int hl = snprintf(hdr, sizeof hdr, SPOOL_MAGIC "%" PRIu32 " %zu %08" PRIx32 "\n",
                      nevents, len, spool_crc(body, len));
    if (hl < 0 || (size_t)hl >= sizeof hdr) {
        spool_seterr(err, errlen, "spool %s: header too long", sp->dir);
        return -1;
    }
    uint64_t need = (uint64_t)hl + (uint64_t)len;
    if (need > sp->max_bytes) {
        spool_seterr(err, errlen,
                     "spool %s: batch of %" PRIu64 " bytes (header included) "
                     "exceeds the spool cap of %" PRIu64 " bytes",
                     sp->dir, need, sp->max_bytes);
        return -1;
    }
    if (sp->next_seq == UINT64_MAX) {
        spool_seterr(err, errlen, "spool %s: sequence exhausted", sp->dir);
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
    const char *what = NULL;
    if (spool_write_all(fd, hdr, (size_t)hl) != 0 ||
        spool_write_all(fd, body, len) != 0)
        what = "write";
    else if (fsync(fd) != 0)
        what = "fsync";
    int saved = errno;
    if (close(fd) != 0 && what == NULL) {
        what = "close";
        saved = errno;
    }
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
                               char *err, size_t errlen)
{
    sp->st.corrupt_files++;
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
            sp->st.corrupt_files++;
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
    int rc = spool_read_header(fd, &h, &fsize, &why);
    if (rc < 0) {
        spool_adderr(err, errlen, "spool %s/%s: read: %s", sp->dir, name,
                     strerror(errno));
        close(fd);
        return -1;
    }
    if (rc == 1 && (h.nevents != e.nevents || h.body_len != e.body_len)) {
        why = "header changed since open";
        rc = 0;
    }
    if (rc == 0) {
        close(fd);
        spool_drop_corrupt(sp, name, why, err, errlen);
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
        spool_drop_corrupt(sp, name, "truncated", err, errlen);
        return 0;
    }
    if (spool_crc(*buf, blen) != h.crc) {
        spool_drop_corrupt(sp, name, "checksum mismatch", err, errlen);
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
