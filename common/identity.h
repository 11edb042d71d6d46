/*
 * identity.h — the sensor's stable identity (`sensor_id` in every event).
 *
 * A hostname does not tell two sensors apart (cloned VMs, containers named
 * after their image) and changes when a host is renamed, so each sensor keeps
 * a random UUID that it makes at its first start and stores in its state
 * directory (AGENT_STATE_DIR, default /var/lib/tracer-sensor): the backend can
 * follow one sensor across restarts and upgrades. The user may also set the id
 * outright (AGENT_SENSOR_ID), for fleets that name their sensors.
 */
#ifndef TRACER_IDENTITY_H
#define TRACER_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#define IDENTITY_FILE "sensor_id"
#define IDENTITY_MAX  64        /* longest id, without the NUL */

/* How identity_load found the id (for the start-up line). */
enum identity_source {
    IDENTITY_READ,       /* read from <dir>/sensor_id */
    IDENTITY_CREATED,    /* first start: made and stored in <dir>/sensor_id */
    IDENTITY_EPHEMERAL,  /* the default directory is not usable: made, not stored */
};

/*
 * Whether `s` is a usable id: 1..IDENTITY_MAX characters from [A-Za-z0-9._:-].
 * (Made ids are lower-case RFC 4122 version 4 UUIDs, 36 characters.)
 */
bool identity_valid(const char *s);

/*
 * Make a random version 4 UUID (getrandom) into out (>= 37 bytes). Returns 0,
 * or -1 with a message when the kernel gives no random bytes.
 */
int identity_make(char *out, size_t outlen, char *err, size_t errlen);

/*
 * Read <dir>/sensor_id, or on the first start create `dir` (mode 0755, parents
 * not made) and write a new id there (mode 0644, written to a temporary file
 * and renamed, so a crash never leaves half an id). out must hold
 * IDENTITY_MAX + 1 bytes.
 *
 * When the directory cannot be created or written and `dir_explicit` is
 * false (the default directory, e.g. an unprivileged run), a fresh id is made
 * without storing it: IDENTITY_EPHEMERAL, and err says why (a warning to log).
 * Returns the source (>= 0), or -1 with the reason in err when the stored id
 * is unreadable or not a valid id, or an explicitly chosen directory is not
 * usable. Main thread, during start-up (before privileges are dropped).
 */
int identity_load(const char *dir, bool dir_explicit, char *out, size_t outlen,
                  char *err, size_t errlen);

#endif
