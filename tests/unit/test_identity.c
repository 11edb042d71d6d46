/*
 * test_identity.c — the sensor's stable id: made once and read back after,
 * shared by two starts on one directory, a damaged file refused with its
 * name, an unusable default directory giving a run-only id, an explicit one
 * refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/identity.h"

struct tmp {
    char dir[64];
    char state[128];
    char file[192];
};

static int setup(void **state)
{
    struct tmp *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    snprintf(t->dir, sizeof t->dir, "/tmp/tracer-identity-XXXXXX");
    if (!mkdtemp(t->dir)) {
        free(t);
        return -1;
    }
    snprintf(t->state, sizeof t->state, "%s/state", t->dir);
    snprintf(t->file, sizeof t->file, "%s/state/sensor_id", t->dir);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tmp *t = *state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    int rc = system(cmd);
    free(t);
    return rc == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static bool is_uuid_v4(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash != (s[i] == '-'))
            return false;
        if (!dash && !strchr("0123456789abcdef", s[i]))
            return false;
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

static void test_valid(void **state)
{
    (void)state;
    assert_true(identity_valid("a"));
    assert_true(identity_valid("sensor-01.dc2:rack_4"));
    char max[IDENTITY_MAX + 2];
    memset(max, 'x', sizeof max);
    max[IDENTITY_MAX] = '\0';
    assert_true(identity_valid(max));
    max[IDENTITY_MAX] = 'x';
    max[IDENTITY_MAX + 1] = '\0';
    assert_false(identity_valid(max));          /* 65 characters */
    assert_false(identity_valid(""));
    assert_false(identity_valid(NULL));
    assert_false(identity_valid("two words"));
    assert_false(identity_valid("quote\""));
    assert_false(identity_valid("new\nline"));
}

static void test_make_is_uuid_v4_and_random(void **state)
{
    (void)state;
    char a[37], b[37], err[128];
    assert_int_equal(identity_make(a, sizeof a, err, sizeof err), 0);
    assert_int_equal(identity_make(b, sizeof b, err, sizeof err), 0);
    assert_true(is_uuid_v4(a));
    assert_true(is_uuid_v4(b));
    assert_string_not_equal(a, b);
    assert_int_equal(identity_make(a, 36, err, sizeof err), -1);   /* no room for the NUL */
}

static void test_created_then_read(void **state)
{
    struct tmp *t = *state;
    char id[IDENTITY_MAX + 1], again[IDENTITY_MAX + 1], err[256] = "";
    assert_int_equal(identity_load(t->state, false, id, sizeof id, err, sizeof err), IDENTITY_CREATED);
    assert_true(is_uuid_v4(id));
    struct stat st;
    assert_int_equal(stat(t->state, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0755);
    assert_int_equal(stat(t->file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(st.st_size, 37);            /* the id and a newline */
    assert_int_equal(identity_load(t->state, true, again, sizeof again, err, sizeof err), IDENTITY_READ);
    assert_string_equal(again, id);
    /* no temporary file is left behind */
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s/.sensor_id.%ld", t->state, (long)getpid());
    assert_int_equal(access(tmp, F_OK), -1);
}

static void test_user_written_id_is_kept(void **state)
{
    struct tmp *t = *state;
    assert_int_equal(mkdir(t->state, 0700), 0);
    write_file(t->file, "edge-sensor-7\n");
    char id[IDENTITY_MAX + 1], err[256] = "";
    assert_int_equal(identity_load(t->state, false, id, sizeof id, err, sizeof err), IDENTITY_READ);
    assert_string_equal(id, "edge-sensor-7");
    write_file(t->file, "no-newline");
    assert_int_equal(identity_load(t->state, false, id, sizeof id, err, sizeof err), IDENTITY_READ);
    assert_string_equal(id, "no-newline");
}

static void test_damaged_file_is_refused(void **state)
{
    struct tmp *t = *state;
    static const char *const bad[] = {"", "\n", "two words\n", "a\nb\n",
                                      "0123456789012345678901234567890123456789012345678901234567890123456789\n"};
    assert_int_equal(mkdir(t->state, 0700), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(t->file, bad[i]);
        char id[IDENTITY_MAX + 1], err[512] = "";
        assert_int_equal(identity_load(t->state, false, id, sizeof id, err, sizeof err), -1);
        assert_non_null(strstr(err, t->file));
        assert_non_null(strstr(err, "not a sensor id"));
    }
    /* a directory where the file should be: unreadable, refused, never replaced */
    assert_int_equal(unlink(t->file), 0);
    assert_int_equal(mkdir(t->file, 0700), 0);
    char id[IDENTITY_MAX + 1], err[512] = "";
    assert_int_equal(identity_load(t->state, false, id, sizeof id, err, sizeof err), -1);
    assert_non_null(strstr(err, "sensor_id"));
}

static void test_unusable_directory(void **state)
{
    struct tmp *t = *state;
    char file[160];
    snprintf(file, sizeof file, "%s/plain", t->dir);
    write_file(file, "x");
    char below[200];
    snprintf(below, sizeof below, "%s/state", file);   /* a directory inside a regular file */
    char id[IDENTITY_MAX + 1], err[512] = "";
    /* the default directory: a run-only id and the reason */
    assert_int_equal(identity_load(below, false, id, sizeof id, err, sizeof err), IDENTITY_EPHEMERAL);
    assert_true(is_uuid_v4(id));
    assert_non_null(strstr(err, "cannot create the state directory"));
    /* a directory the user chose: an error */
    err[0] = '\0';
    assert_int_equal(identity_load(below, true, id, sizeof id, err, sizeof err), -1);
    assert_non_null(strstr(err, below));
    /* a directory that exists but is a file */
    assert_int_equal(identity_load(file, true, id, sizeof id, err, sizeof err), -1);
}

static void test_second_start_reads_the_winner(void **state)
{
    struct tmp *t = *state;
    /* another sensor stored its id between our read and our link: ours is dropped, theirs read */
    assert_int_equal(mkdir(t->state, 0755), 0);
    char a[IDENTITY_MAX + 1], b[IDENTITY_MAX + 1], err[256] = "";
    assert_int_equal(identity_load(t->state, false, a, sizeof a, err, sizeof err), IDENTITY_CREATED);
    assert_int_equal(identity_load(t->state, false, b, sizeof b, err, sizeof err), IDENTITY_READ);
    assert_string_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_make_is_uuid_v4_and_random),
        cmocka_unit_test_setup_teardown(test_created_then_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_written_id_is_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_file_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unusable_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_start_reads_the_winner, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
