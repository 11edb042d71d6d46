/*
 * fuzz_spool.c — libFuzzer harness for the spool file reader (sender/spool.c:
 * the scan of spool_open and spool_peek_oldest, which read files anyone with
 * access to the directory could have written or damaged).
 *
 * Input: a selector byte, then up to four file contents separated by "\n~~\n",
 * written as batches 1..4 into a fresh directory. Selector bit i (0..3): file
 * i+1 is a batch the harness signs itself (the chunk is its body, with the
 * right MAC under the directory's key), otherwise the chunk is written as is
 * (a planted or damaged file). Bit 4: the raw files get mode 0644 instead of
 * 0600 (not the sensor's). Bit 5: a cap of 512 bytes instead of 1 MiB. Bit 6:
 * one spool_put after the open. Then every batch is peeked and removed.
 * Checked: a raw file is never returned (nothing unsigned is ever sent), a
 * signed one comes back byte for byte, in sequence order, and the stats add
 * up. Static names are prefixed fsp_; the directory (under /dev/shm when it
 * exists: the spool fsyncs every change) lives for the process.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sender/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FSP_FILES 4
static char fsp_dir[64];
static const unsigned char fsp_key[32] = "fuzz-spool-key-0123456789abcdef";

/* Removes every file of the directory but the key. */
static void fsp_clean(void)
{
    DIR *d = opendir(fsp_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, ".spool-key") == 0)
            continue;
        unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

static void fsp_remove_dir(void)
{
    fsp_clean();
    char p[128];
    snprintf(p, sizeof p, "%s/.spool-key", fsp_dir);
    unlink(p);
    rmdir(fsp_dir);
}

static bool fsp_init(void)
{
    if (fsp_dir[0])
        return true;
    /* tmpfs when there is one: the spool fsyncs every change */
    struct stat shm;
    const char *base = stat("/dev/shm", &shm) == 0 && S_ISDIR(shm.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(fsp_dir, sizeof fsp_dir, "%s/fuzz_spool.XXXXXX", base);
    if (!mkdtemp(fsp_dir))
        return false;
    char p[128];
    snprintf(p, sizeof p, "%s/.spool-key", fsp_dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || write(fd, fsp_key, sizeof fsp_key) != (ssize_t)sizeof fsp_key)
        abort();
    close(fd);
    atexit(fsp_remove_dir);
    return true;
}

static void fsp_write(uint64_t seq, const void *p, size_t n, mode_t mode)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%020" PRIu64 ".batch", fsp_dir, seq);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    if (n > 0 && write(fd, p, n) != (ssize_t)n)
        abort();
    if (fchmod(fd, mode) != 0)
        abort();
    close(fd);
}

/* The file spool_put would write for `body` as batch `seq` (the format of spool.h). */
static char *fsp_sign(uint64_t seq, uint32_t nevents, const uint8_t *body, size_t len, size_t *out_len)
{
    char pre[64];
    int pl = snprintf(pre, sizeof pre, "%020" PRIu64 " %" PRIu32 " %zu\n", seq, nevents, len);
    unsigned char *msg = malloc((size_t)pl + len + 1);
    char *f = malloc(128 + len);
    if (!msg || !f)
        abort();
    memcpy(msg, pre, (size_t)pl);
    if (len)
        memcpy(msg + pl, body, len);
    unsigned char mac[32];
    unsigned int ml = 0;
    if (!HMAC(EVP_sha256(), fsp_key, sizeof fsp_key, msg, (size_t)pl + len, mac, &ml) || ml != 32)
        abort();
    free(msg);
    int n = snprintf(f, 128, "TRSPOOL2 %" PRIu32 " %zu ", nevents, len);
    for (int i = 0; i < 32; i++)
        n += snprintf(f + n, 128 - (size_t)n, "%02x", mac[i]);
    f[n++] = '\n';
    if (len)
        memcpy(f + n, body, len);
    *out_len = (size_t)n + len;
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || !fsp_init())
        return 0;
    uint8_t sel = data[0];
    const uint8_t *p = data + 1, *end = data + size;
    const uint8_t *chunk[FSP_FILES];
    size_t clen[FSP_FILES];
    int nfiles = 0;
    static const uint8_t sep[4] = {'\n', '~', '~', '\n'};
    while (nfiles < FSP_FILES) {
        const uint8_t *q = p;
        while (q + 4 <= end && memcmp(q, sep, 4) != 0)
            q++;
        if (q + 4 > end)
            q = end;
        chunk[nfiles] = p;
        clen[nfiles] = (size_t)(q - p);
        nfiles++;
        if (q == end)
            break;
        p = q + 4;
    }
    uint64_t cap = (sel & 0x20) ? 512 : (1u << 20);
    bool is_signed[FSP_FILES + 2] = {false};
    for (int i = 0; i < nfiles; i++) {
        uint64_t seq = (uint64_t)i + 1;
        if (sel & (1u << i)) {
            size_t fl;
            char *f = fsp_sign(seq, (uint32_t)(clen[i] % 7), chunk[i], clen[i], &fl);
            fsp_write(seq, f, fl, 0600);
            free(f);
            is_signed[seq] = fl <= cap;          /* a bigger one is moved aside */
        } else {
            fsp_write(seq, chunk[i], clen[i], (sel & 0x10) ? 0644 : 0600);
        }
    }

    char err[1024];
    spool *sp = spool_open(fsp_dir, cap, err, sizeof err);
    if (!sp)
        abort();                                 /* the files can never stop the open */
    struct spool_stats st;
    spool_get_stats(sp, &st);
    if (st.corrupt_files < st.foreign_files + st.oversize_files + st.unauthenticated_files)
        abort();
    /* The put's id follows the highest batch the scan kept, which may be a
     * number a moved-aside file had: it is recognised by its content. */
    bool put_pending = false;
    if (sel & 0x40) {
        uint64_t dropped = 0;
        put_pending = spool_put(sp, "[{\"put\":1}]", 11, 1, &dropped, err, sizeof err) == 0;
    }
    char *buf = NULL;
    size_t bcap = 0, len = 0;
    uint32_t nev = 0;
    uint64_t id = 0, last = 0;
    for (int guard = 0; guard < 2 * FSP_FILES + 4; guard++) {
        int rc = spool_peek_oldest(sp, &buf, &bcap, &len, &nev, &id, err, sizeof err);
        if (rc < 0)
            abort();
        if (rc == 0)
            break;
        if (id <= last)
            abort();                             /* oldest first */
        last = id;
        if (put_pending && nev == 1 && len == 11 && memcmp(buf, "[{\"put\":1}]", 11) == 0) {
            put_pending = false;                 /* the put (a signed 11-byte chunk has 4 events) */
        } else if (id <= (uint64_t)nfiles) {
            if (!is_signed[id])
                abort();                         /* an unsigned file was returned */
            const uint8_t *want = chunk[id - 1];
            if (len != clen[id - 1] || nev != (uint32_t)(clen[id - 1] % 7) ||
                (len && memcmp(buf, want, len) != 0))
                abort();
        } else {
            abort();                             /* neither a file nor the put */
        }
        if (spool_remove(sp, id) != 0)
            abort();
    }
    spool_get_stats(sp, &st);
    if (st.files != 0 || st.events != 0 || st.bytes != 0)
        abort();
    free(buf);
    spool_close(sp);
    fsp_clean();
    return 0;
}
