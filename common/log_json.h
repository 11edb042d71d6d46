/*
 * log_json.h — a cJSON object as the fields of one log line.
 *
 * Some modules keep their counters as a cJSON object (the hooks' stats, which
 * also go into the sensor event). Printing that object into the message would
 * put JSON inside a string; this writes its members as typed fields instead:
 * numbers as numbers, booleans as booleans, strings as strings, nested objects
 * and arrays under dotted keys ("http.2xx", "list.0"). Kept apart from log.c
 * so the logger itself does not depend on cJSON.
 */
#ifndef TRACER_LOG_JSON_H
#define TRACER_LOG_JSON_H

#include <cjson/cJSON.h>

#include "common/log.h"

/* Most fields one call writes; members past it are left out (the line says truncated_fields). */
#define LOG_JSON_MAX_FIELDS 96

/*
 * One line at `level` with `msg` and obj's members as fields, in order. `obj`
 * is only read (NULL or a non-object writes the message alone). Any thread.
 */
void log_cjson(enum log_level level, const char *msg, const cJSON *obj);

#endif
