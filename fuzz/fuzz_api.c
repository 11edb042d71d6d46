/*
 * fuzz_api.c — libFuzzer harness for the control API's request handling
 * (api/snmp_jobs.c snmp_jobs_submit: cJSON, then snmp_target_from_json with
 * the AGENT_SNMP_CONFIG rules, a ticket, the queue; then status and cancel of
 * what was queued) and its router (api/api_server.c api_route_of). The input
 * is an HTTP body as the server hands it over; its first line, split at the
 * first space, is also routed as "METHOD URL". No job runs (no worker is
 * started), so no agent is ever contacted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/api_server.h"
#include "api/snmp_jobs.h"
#include "common/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each queued job logs a line at info: keep the fuzzer's log to errors. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > API_MAX_BODY)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    char line[256];
    size_t n = strcspn(text, "\n");
    if (n < sizeof line) {
        memcpy(line, text, n);
        line[n] = '\0';
        char *sp = strchr(line, ' ');
        if (sp) {
            *sp = '\0';
            const char *ticket, *allow;
            enum api_route r = api_route_of(line, sp + 1, &ticket, &allow);
            if ((r == API_JOB_STATUS || r == API_JOB_CANCEL) && !ticket)
                abort();
        }
    }

    const struct snmp_jobs_limits lim = {60, 4, 4, 1};
    snmp_jobs *j = snmp_jobs_create(&lim);
    cJSON *req = cJSON_ParseWithLength(text, size);
    if (j && req) {
        cJSON *ans = NULL;
        int st = snmp_jobs_submit(j, req, &ans);
        if (st != 202 && st != 400 && st != 500)
            abort();
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(ans, "ticket");
        if (st == 202 && !cJSON_IsString(t))
            abort();
        if (st == 202) {
            char ticket[SNMP_JOBS_TICKET_LEN + 1];
            memcpy(ticket, t->valuestring, sizeof ticket);
            cJSON *a2 = NULL;
            if (snmp_jobs_status(j, ticket, &a2) != 200)
                abort();
            cJSON_Delete(a2);
            a2 = NULL;
            if (snmp_jobs_cancel(j, ticket, &a2) != 200)
                abort();
            cJSON_Delete(a2);
        }
        cJSON_Delete(ans);
    }
    cJSON_Delete(req);
    snmp_jobs_destroy(j);
    free(text);
    return 0;
}
