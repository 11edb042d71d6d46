/*
 * fuzz_snmp_config.c — libFuzzer harness for the SNMP configuration parser
 * (hooks/snmp/snmp_config.c, snmp_config_parse: the function snmp_config_load
 * runs on the file's text). The input is the file's content; it is given
 * NUL-terminated, as snmp_config_load reads it. Static names are prefixed fs_.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hooks/snmp/snmp_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct snmp_config *cfg = NULL;
    char err[512];
    int rc = snmp_config_parse(text, "fuzz.json", &cfg, err, sizeof err);
    if (rc == 0) {
        if (!cfg)
            abort();
        for (size_t i = 0; i < cfg->ntargets; i++)
            if (!snmp_config_version_name(cfg->targets[i].version))
                abort();
    } else if (cfg || !memchr(err, '\0', sizeof err)) {
        abort();
    }
    snmp_config_destroy(cfg);
    free(text);
    return 0;
}
