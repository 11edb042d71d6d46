/*
 * spool.h — a bounded on-disk queue of undelivered batches.
 *
 * When the endpoint is down longer than memory allows, the sender writes each
 * batch (the exact JSON body it would POST) to one file in AGENT_SPOOL_DIR and
 * replays the files oldest first once the endpoint answers again, also after a
 * restart. Every file is written so that a crash or kill -9 at any moment leaves
 * every spooled batch readable: write a temp file, fsync it, rename it into
 * place, fsync the directory. The spool is bounded in bytes: to make room the
 * oldest batches are deleted and their events counted as dropped. A file that
 * does not parse (bad header, short), is not the sensor's (another owner,
 * group/other permission bits, more than one link), declares more bytes than
 * the cap, or whose MAC does not verify is renamed aside (".corrupt") without
 * its body being loaded, counted and reported, never retried; the batches
 * behind it go on. Only the sensor's user may write the directory.
 *
 * File format: "TRSPOOL2 <events> <body bytes> <HMAC-SHA256 64 hex>\n" then
 * the body; the MAC covers "<20-digit sequence> <events> <body bytes>\n" and
 * the body, under the 32-byte random key in "<dir>/.spool-key" (mode 0600, made
 * at the first open, kept across restarts). Older "TRSPOOL1" files (CRC only)
 * are not trusted and moved aside.
 * Names: "<20-digit sequence>.batch"; the sequence continues after a restart.
 *
 * Thread-safe: one internal mutex (the sender thread may spool an overflowing
 * batch while the delivery thread replays).
 */
#ifndef TRACER_SPOOL_H
#define TRACER_SPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct spool spool;

struct spool_stats {
    uint64_t files;              /* batches on disk now */
    uint64_t bytes;              /* their total size (headers included) */
    uint64_t events;             /* events in them */
    uint64_t batches_written;    /* spool_put successes since open */
    uint64_t events_written;
    uint64_t batches_removed;    /* spool_remove calls (delivered or rejected) */
    uint64_t events_removed;
    uint64_t dropped_batches;    /* deleted to stay under the cap */
    uint64_t dropped_events;
    uint64_t corrupt_files;      /* moved aside, for any reason (the three below included) */
    uint64_t stale_temp_files;   /* half-written temp files removed at open */
    uint64_t write_errors;       /* spool_put failures */
    uint64_t foreign_files;      /* moved aside: another owner, group/other bits, links */
    uint64_t oversize_files;     /* moved aside: declared more than the cap */
    uint64_t unauthenticated_files; /* moved aside: no MAC or a wrong one (planted or damaged) */
};

/*
 * Open the spool in `dir` (must exist, be writable, not be writable by group
 * or others, and, unless the caller is root, be owned by the caller: files
 * must belong to the directory's owner) with a cap of `max_bytes`. Reads the
 * key (made at the first open; refused unless a 32-byte regular file of the
 * owner's with no group/other bits). Scans existing batches (continuing their
 * sequence), removes stale temp files, moves aside files whose name, owner,
 * mode, header or declared size is invalid. NULL with a message in err on
 * failure. Called by root before the privilege drop, files it makes (the key)
 * are handed to the directory's owner.
 */
spool *spool_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen);

/* NULL-safe; leaves the files on disk. */
void spool_close(spool *sp);

/*
 * Durably add one batch (body of len bytes holding nevents events). If it does
 * not fit under the cap, the oldest batches are deleted first; the number of
 * events so deleted is added to *dropped_events (may be NULL). Returns 0, or -1
 * with a message in err (a batch larger than the whole cap, or an I/O error:
 * the spool is unchanged and the caller still owns the batch).
 */
int spool_put(spool *sp, const char *body, size_t len, uint32_t nevents,
              uint64_t *dropped_events, char *err, size_t errlen);

/*
 * Load the oldest batch into *buf (grown with realloc as needed; *cap is its
 * size), setting *len, *nevents and *id. Corrupt files met on the way are moved
 * aside and counted (their names are reported through err if errlen > 0, and
 * the next file is tried). Returns 1 when a batch was loaded, 0 when the spool
 * is empty, -1 on an I/O or memory error (message in err).
 */
int spool_peek_oldest(spool *sp, char **buf, size_t *cap, size_t *len,
                      uint32_t *nevents, uint64_t *id, char *err, size_t errlen);

/* Delete batch `id` (delivered, or rejected for good). Returns 0 or -1. */
int spool_remove(spool *sp, uint64_t id);

void spool_get_stats(spool *sp, struct spool_stats *out);

#endif
