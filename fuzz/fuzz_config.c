/*
 * fuzz_config.c — libFuzzer harness for the environment/flag parser
 * (config/config.c, config_load).
 *
 * The input is split at NUL bytes into at most FC_MAX_ITEMS strings. A string
 * that starts with '-', or has no '=', becomes the next argv element (after
 * argv[0] "tracer-sensor"); the others are "NAME=VALUE" environment entries.
 * config_load then runs as main runs it, including its checks of the
 * interface (pcap_findalldevs, if_nametoindex), of files (stat, open, read of
 * the secret files, pcap_open_offline) and of the BPF filter (pcap_compile);
 * it writes nothing. So that no input can make it block on a device, a FIFO
 * or /proc/kmsg, inputs naming anything below dev/, proc/, sys/ or run/ are
 * skipped, and stdin is /dev/null (pcap_open_offline("-") reads stdin).
 * Static names are prefixed fc_.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FC_MAX_ITEMS 64

static int fc_stdin_ready;

static void fc_null_stdin(void)
{
    if (fc_stdin_ready)
        return;
    fc_stdin_ready = 1;
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        dup2(fd, 0);
        if (fd != 0)
            close(fd);
    }
}

static int fc_has(const char *buf, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(buf + i, needle, k) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fc_null_stdin();
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (fc_has(buf, size, "dev/") || fc_has(buf, size, "proc/") || fc_has(buf, size, "sys/") ||
        fc_has(buf, size, "run/")) {
        free(buf);
        return 0;
    }
    char *argv[FC_MAX_ITEMS + 2], *envp[FC_MAX_ITEMS + 1];
    int argc = 0, envc = 0;
    argv[argc++] = (char *)"tracer-sensor";
    for (size_t i = 0; i <= size && argc + envc <= FC_MAX_ITEMS;) {
        char *s = buf + i;
        size_t n = strlen(s);
        if (s[0] == '-' || !strchr(s, '='))
            argv[argc++] = s;
        else
            envp[envc++] = s;
        i += n + 1;
    }
    argv[argc] = NULL;
    envp[envc] = NULL;

    char errbuf[4096];
    int nerr = -1;
    struct config *cfg = config_load(argc, argv, envp, errbuf, sizeof errbuf, &nerr);
    if (cfg && nerr != 0)
        abort();
    if (!cfg && (nerr < 1 || !memchr(errbuf, '\0', sizeof errbuf)))
        abort();
    config_destroy(cfg);
    free(buf);
    return 0;
}
