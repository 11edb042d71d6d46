/*
 * test_log.c — the two log line formats byte for byte: logfmt quoting and
 * escaping, JSON escaping (control bytes, invalid UTF-8), numbers, and a
 * record longer than the buffer cut at a boundary and marked truncated.
 * The log file (issue 13.5): never opened through a symbolic link, only a
 * regular single-link file of the expected owner, a root-owned one handed
 * over, the same checks on reopen; each in its own mkdtemp directory.
 * Typed fields (booleans, signed and floating numbers) are bare in both
 * formats, and log_cjson writes a cJSON object's members as typed fields.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/log_json.h"

#include <cjson/cJSON.h>
#include <unistd.h>

#define EPOCH "1970-01-01T00:00:00.000Z"

static const char *line(enum log_format f, enum log_level lvl, const char *msg, const struct log_field *fl, size_t n)
{
    static char buf[LOG_LINE_MAX];
    size_t len = log_format_line(buf, sizeof buf, f, 0, lvl, msg, fl, n);
    assert_int_equal(len, strlen(buf));
    return buf;
}

static void test_logfmt_plain(void **state)
{
    (void)state;
    assert_string_equal(line(LOG_FORMAT_LOGFMT, LOG_INFO, "started", NULL, 0),
                        "ts=" EPOCH " level=info msg=started\n");
    assert_string_equal(line(LOG_FORMAT_LOGFMT, LOG_WARN, "sender: POST to x failed (HTTP 503)", NULL, 0),
                        "ts=" EPOCH " level=warn msg=\"sender: POST to x failed (HTTP 503)\"\n");
    const struct log_field f[] = {LOG_U64("frames", 636), LOG_STR("iface", "eth0"), LOG_STR("empty", ""),
                                  LOG_STR("null", NULL), LOG_STR("eq", "a=b")};
    assert_string_equal(line(LOG_FORMAT_LOGFMT, LOG_ERROR, "summary", f, 5),
                        "ts=" EPOCH " level=error msg=summary frames=636 iface=eth0 empty=\"\" null=\"\" eq=\"a=b\"\n");
}

static void test_logfmt_escapes(void **state)
{
    (void)state;
    assert_string_equal(line(LOG_FORMAT_LOGFMT, LOG_DEBUG, "a \"q\" \\ b\nc\td\x01", NULL, 0),
                        "ts=" EPOCH " level=debug msg=\"a \\\"q\\\" \\\\ b\\nc\\td\\u0001\"\n");
    /* valid UTF-8 passes, an invalid byte becomes U+FFFD */
    assert_string_equal(line(LOG_FORMAT_LOGFMT, LOG_INFO, "caf\xc3\xa9", NULL, 0),
                        "ts=" EPOCH " level=info msg=caf\xc3\xa9\n");
    assert_string_equal(line(LOG_FORMAT_LOGFMT, LOG_INFO, "x\xff", NULL, 0),
                        "ts=" EPOCH " level=info msg=x\xef\xbf\xbd\n");
}

static void test_json(void **state)
{
    (void)state;
    const struct log_field f[] = {LOG_U64("n", 18446744073709551615ull), LOG_STR("s", "a\"b\\c\n\x7f\xc3(")};
    assert_string_equal(line(LOG_FORMAT_JSON, LOG_WARN, "hello world", f, 2),
                        "{\"ts\":\"" EPOCH "\",\"level\":\"warn\",\"msg\":\"hello world\","
                        "\"n\":18446744073709551615,\"s\":\"a\\\"b\\\\c\\n\\u007f\\ufffd(\"}\n");
}

/* A record longer than the buffer still parses: cut, closed, marked. */
static void test_truncated(void **state)
{
    (void)state;
    char *big = malloc(3 * LOG_LINE_MAX);
    assert_non_null(big);
    memset(big, 'x', 3 * LOG_LINE_MAX - 1);
    big[3 * LOG_LINE_MAX - 1] = '\0';
    const char *l = line(LOG_FORMAT_LOGFMT, LOG_INFO, big, NULL, 0);
    size_t n = strlen(l);
    assert_true(n < LOG_LINE_MAX);
    assert_string_equal(l + n - strlen("xx truncated=true\n"), "xx truncated=true\n");   /* no quotes needed */

    l = line(LOG_FORMAT_JSON, LOG_INFO, big, NULL, 0);
    n = strlen(l);
    assert_true(n < LOG_LINE_MAX);
    assert_string_equal(l + n - strlen("x\",\"truncated\":true}\n"), "x\",\"truncated\":true}\n");

    /* many fields: whole fields are kept, the one that does not fit is dropped */
    struct log_field f[2000];
    for (size_t i = 0; i < 2000; i++)
        f[i] = LOG_U64("counter_with_a_long_name", i);
    l = line(LOG_FORMAT_JSON, LOG_INFO, "m", f, 2000);
    n = strlen(l);
    assert_string_equal(l + n - strlen(",\"truncated\":true}\n"), ",\"truncated\":true}\n");
    assert_true(l[n - strlen(",\"truncated\":true}\n") - 1] >= '0' &&
                l[n - strlen(",\"truncated\":true}\n") - 1] <= '9');

    /* an escape sequence is never split */
    memset(big, '"', 3 * LOG_LINE_MAX - 1);
    l = line(LOG_FORMAT_LOGFMT, LOG_INFO, big, NULL, 0);
    n = strlen(l);
    assert_string_equal(l + n - strlen("\\\"\" truncated=true\n"), "\\\"\" truncated=true\n");
    free(big);
}

/* ---- the log file ---- */

struct ldir {
    char path[128];
};

static int setup_ldir(void **state)
{
    struct ldir *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    snprintf(d->path, sizeof d->path, "/tmp/test_log.XXXXXX");
    if (!mkdtemp(d->path))
        return -1;
    *state = d;
    return 0;
}

static int teardown_ldir(void **state)
{
    struct ldir *d = *state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->path);
    int rc = system(cmd);
    free(d);
    return rc == 0 ? 0 : -1;
}

static void pathj(char *out, size_t n, const struct ldir *d, const char *name)
{
    snprintf(out, n, "%s/%s", d->path, name);
}

static void put_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void expect_text(const char *path, const char *text)
{
    char buf[256] = "";
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_string_equal(buf, text);
}

/* A link planted where the log goes: refused, its target neither written nor created. */
static void test_log_file_symlink_refused(void **state)
{
    struct ldir *d = *state;
    char target[256], link_[256], err[256] = "";
    pathj(target, sizeof target, d, "precious");
    pathj(link_, sizeof link_, d, "sensor.log");
    put_text(target, "precious\n");
    assert_int_equal(symlink(target, link_), 0);
    assert_int_equal(log_open_file(link_, geteuid(), getegid(), err, sizeof err), -1);
    assert_int_equal(errno, ELOOP);
    assert_string_equal(err, "is a symbolic link: refused (the log file is opened before the privilege "
                             "drop; give the real path)");
    expect_text(target, "precious\n");
    /* dangling: O_CREAT would have made the target */
    assert_int_equal(unlink(link_), 0);
    pathj(target, sizeof target, d, "made-through-link");
    assert_int_equal(symlink(target, link_), 0);
    assert_int_equal(log_open_file(link_, geteuid(), getegid(), err, sizeof err), -1);
    struct stat st;
    assert_int_equal(lstat(target, &st), -1);
}

/* Not a regular file of its own: a FIFO (would block the open), a second hard link. */
static void test_log_file_not_regular_or_linked(void **state)
{
    struct ldir *d = *state;
    char p[256], other[256], err[256] = "";
    pathj(p, sizeof p, d, "fifo.log");
    assert_int_equal(mkfifo(p, 0600), 0);
    assert_int_equal(log_open_file(p, geteuid(), getegid(), err, sizeof err), -1);
    assert_string_equal(err, "cannot open: No such device or address");   /* no reader: ENXIO, no block */
    int rd = open(p, O_RDONLY | O_NONBLOCK);              /* with a reader it opens: still refused */
    assert_true(rd >= 0);
    assert_int_equal(log_open_file(p, geteuid(), getegid(), err, sizeof err), -1);
    assert_string_equal(err, "is not a regular file: refused");
    close(rd);

    pathj(other, sizeof other, d, "other");
    put_text(other, "other\n");
    pathj(p, sizeof p, d, "linked.log");
    assert_int_equal(link(other, p), 0);
    assert_int_equal(log_open_file(p, geteuid(), getegid(), err, sizeof err), -1);
    assert_string_equal(err, "has 2 hard links: refused (must be a file of its own)");
    expect_text(other, "other\n");
}

/* Ownership: another user's file is refused; as root, a root-owned one is handed over. */
static void test_log_file_owner(void **state)
{
    struct ldir *d = *state;
    if (geteuid() != 0)
        skip();                                           /* needs chown */
    char p[256], err[256] = "";
    pathj(p, sizeof p, d, "nobodys.log");
    put_text(p, "");
    assert_int_equal(chown(p, 65534, 65534), 0);
    assert_int_equal(log_open_file(p, 0, 0, err, sizeof err), -1);
    assert_string_equal(err, "is owned by uid 65534: refused (must be owned by the sensor's user, uid 0)");

    /* created by root for the user the sensor becomes: that user's, 0600 */
    pathj(p, sizeof p, d, "sensor.log");
    assert_int_equal(log_open_file(p, 65534, 65534, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, 65534);
    assert_int_equal(st.st_gid, 65534);
    assert_int_equal(st.st_mode & 0777, 0600);
    log_msg(LOG_ERROR, "first");

    /* rotated (mv) and reopened: the new file is the user's as well, the old one kept its lines */
    char rotated[256];
    pathj(rotated, sizeof rotated, d, "sensor.log.1");
    assert_int_equal(rename(p, rotated), 0);
    assert_int_equal(log_reopen(err, sizeof err), 0);
    log_msg(LOG_ERROR, "second");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, 65534);
    /* a link planted in its place before the next SIGHUP: refused, the old file stays in use */
    assert_int_equal(rename(p, rotated), 0);
    assert_int_equal(symlink("/etc/hostname", p), 0);
    assert_int_equal(log_reopen(err, sizeof err), -1);
    assert_string_equal(err, "is a symbolic link: refused (the log file is opened before the privilege "
                             "drop; give the real path)");
    log_msg(LOG_ERROR, "third");
    char buf[512] = "";
    FILE *f = fopen(rotated, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "msg=second"));
    assert_non_null(strstr(buf, "msg=third"));
    assert_null(strstr(buf, "msg=first"));
}

/* Booleans and numbers are bare values in both formats, never strings. */
static void test_typed_fields(void **state)
{
    (void)state;
    const struct log_field f[] = {LOG_BOOL("cap_net_raw", true), LOG_BOOL("no", 0), LOG_I64("link_type", -1),
                                  LOG_F64("ratio", 0.5), LOG_U64("port", 9108), LOG_F64("bad", 0.0 / 0.0)};
    assert_string_equal(line(LOG_FORMAT_JSON, LOG_INFO, "m", f, 6),
                        "{\"ts\":\"" EPOCH "\",\"level\":\"info\",\"msg\":\"m\",\"cap_net_raw\":true,"
                        "\"no\":false,\"link_type\":-1,\"ratio\":0.5,\"port\":9108,\"bad\":\"NaN\"}\n");
    assert_string_equal(line(LOG_FORMAT_LOGFMT, LOG_INFO, "m", f, 6),
                        "ts=" EPOCH " level=info msg=m cap_net_raw=true no=false link_type=-1 ratio=0.5 "
                        "port=9108 bad=NaN\n");
}

/* log_cjson: members as typed fields, nested objects and arrays under dotted keys. */
static void test_log_cjson(void **state)
{
    (void)state;
    char path[] = "/tmp/test_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    log_set_format(LOG_FORMAT_JSON);
    log_set_level(LOG_INFO);
    char err[256] = "";
    assert_int_equal(log_open_file(path, geteuid(), getegid(), err, sizeof err), 0);
    cJSON *o = cJSON_Parse("{\"snmp_polls\":3,\"ok\":true,\"name\":\"core1\",\"neg\":-2,\"avg\":1.5,"
                           "\"http\":{\"2xx\":7},\"list\":[1,\"a\"],\"none\":null}");
    assert_non_null(o);
    cJSON_AddItemToObject(o, "big", cJSON_CreateRaw("18446744073709551615"));
    log_cjson(LOG_INFO, "snmp poller stopped", o);
    log_cjson(LOG_DEBUG, "not shown", o);
    cJSON_Delete(o);
    char sink[] = "/tmp/test_log_sink_XXXXXX";   /* later lines go elsewhere (a regular file: the log must be one) */
    int sfd = mkstemp(sink);
    assert_true(sfd >= 0);
    close(sfd);
    assert_int_equal(log_open_file(sink, geteuid(), getegid(), err, sizeof err), 0);
    unlink(sink);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char buf[1024] = "";
    assert_non_null(fgets(buf, sizeof buf, fp));
    char rest[8];
    assert_null(fgets(rest, sizeof rest, fp));   /* one line: debug is below the level */
    fclose(fp);
    unlink(path);
    const char *body = strstr(buf, ",\"msg\"");
    assert_non_null(body);
    assert_string_equal(body, ",\"msg\":\"snmp poller stopped\",\"snmp_polls\":3,\"ok\":true,\"name\":\"core1\","
                              "\"neg\":-2,\"avg\":1.5,\"http.2xx\":7,\"list.0\":1,\"list.1\":\"a\",\"none\":\"\","
                              "\"big\":18446744073709551615}\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logfmt_plain),
        cmocka_unit_test(test_logfmt_escapes),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test_setup_teardown(test_log_file_symlink_refused, setup_ldir, teardown_ldir),
        cmocka_unit_test_setup_teardown(test_log_file_not_regular_or_linked, setup_ldir, teardown_ldir),
        cmocka_unit_test_setup_teardown(test_log_file_owner, setup_ldir, teardown_ldir),
        cmocka_unit_test(test_typed_fields),
        cmocka_unit_test(test_log_cjson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
