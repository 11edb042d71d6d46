/*
 * cfgerr.h — the problems of a JSON configuration file, collected into one
 * message.
 *
 * The hooks' target files (AGENT_SNMP_CONFIG, AGENT_PING_CONFIG) are read
 * the same way: the parser does not stop at the first problem but records
 * each as one line "VAR=path: where: field: rule", so that one run shows them
 * all; lines that do not fit the caller's buffer are counted and summarised
 * as "(and N more problems)". An API request that carries one target uses
 * the short form instead: "field: rule" items joined by "; ", the first field
 * kept for the answer. One implementation keeps every message identical;
 * the typed getters below hold the value rules the two files share.
 */
#ifndef TRACER_CFGERR_H
#define TRACER_CFGERR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/*
 * One parse's error state, a value on the caller's stack (no allocation).
 * Set up with cfgerr_init or cfgerr_init_request. The parser may write
 * `where` (the key path of the object being read, "" at the top level) and
 * read `nerr` (problems so far) and, in request form, `field` (the first
 * problem's field); the rest is the module's.
 */
struct cfgerr {
    const char *var;          /* "AGENT_SNMP_CONFIG": each line opens "VAR=path: " */
    const char *path;
    char *err;
    size_t errlen;
    size_t used;              /* bytes of err in use */
    unsigned nerr;            /* problems found so far */
    unsigned nshown;          /* of which in err */
    char where[160];          /* "targets[1] (\"edge\")", "defaults", "" */
    bool request;             /* the short "field: rule; ..." form */
    char field[64];           /* request form: the first problem's field */
};

/*
 * File form: lines "VAR=path: where: field: rule" into err (errlen bytes;
 * err may be NULL when errlen is 0: problems are then only counted). `var`
 * and `path` are borrowed and must outlive `e`. Empties err. Any thread.
 */
void cfgerr_init(struct cfgerr *e, const char *var, const char *path, char *err, size_t errlen);

/* Request form: "field: rule" items joined by "; ", no file or where prefix. Empties err. Any thread. */
void cfgerr_init_request(struct cfgerr *e, char *err, size_t errlen);

/*
 * Record one problem: `field` (NULL: none) breaks the rule written by fmt.
 * File form: a line that does not fit whole (48 bytes stay free for the
 * cfgerr_finish tail) is counted but left out. Request form: the text is cut
 * at the end of err. Returns -1, so that a parser can `return cfgerr_add(...)`.
 */
__attribute__((format(printf, 3, 4)))
int cfgerr_add(struct cfgerr *e, const char *field, const char *fmt, ...);

/* File form: append "\nVAR=path: (and N more problems)" when lines were left out. Call once, at the end. */
void cfgerr_finish(struct cfgerr *e);

/*
 * Record each key of the JSON object `obj` that is not in `allowed` (a NULL-
 * terminated list) as "unknown field", and each key that appears again as
 * "duplicate key (each key may appear once)" (cJSON keeps both; lookups see
 * only the first). Returns 0, or -1 when it recorded a problem.
 */
int cfgerr_check_keys(struct cfgerr *e, const cJSON *obj, const char *const *allowed);

/*
 * Optional string `field` of obj: 0 absent (*out NULL), 1 found (*out a
 * malloc'd copy the caller frees), -1 recorded as a problem (not a string,
 * not min..max bytes, or a control character; `show`: that message quotes
 * the value, false for secrets), -2 out of memory.
 */
int cfgerr_get_string(struct cfgerr *e, const cJSON *obj, const char *field, size_t min, size_t max, bool show,
                      char **out) __attribute__((warn_unused_result));

/*
 * Optional number `field` of obj (NULL: absent) in [lo, hi] (0 <= lo), an
 * integer when `integer`: *out = value x scale rounded, or `dflt` when absent
 * or invalid. `say_type`: the message for a value of another JSON type names
 * that type ("not a string (\"161\")"). 0 absent, 1 found, -1 recorded.
 */
int cfgerr_get_number(struct cfgerr *e, const cJSON *obj, const char *field, double lo, double hi, bool integer,
                      double scale, uint32_t dflt, bool say_type, uint32_t *out);

/*
 * Parse the whole file `text`: its JSON object (the caller deletes it), or
 * NULL after recording "not valid JSON (near line N)" or, for JSON that is
 * not an object, `rule` (e.g. "must be a JSON object with \"targets\"").
 * Not thread-safe: cJSON keeps its error position in a global.
 */
cJSON *cfgerr_parse_object(struct cfgerr *e, const char *text, const char *rule) __attribute__((warn_unused_result));

#endif
