/*
 * dump_request.h — `--dump-request FILE`: the exact HTTP request for a sample flow.
 *
 * A receiver's author needs a request to test their parser and signature
 * check against, without running a capture: this writes the request the
 * sender would POST to AGENT_ENDPOINT_URL for one sample flow (request line,
 * every header, the body bytes), built by the sender's own code: the flow's
 * JSON by flow_event_format, the body framed per AGENT_HTTP_BODY, then
 * compression, the bearer token and the HMAC signature by http_client (see
 * http_client_dump). The token is written as sent, because the operator asked
 * for the exact request: the file is created mode 0600.
 */
#ifndef TRACER_DUMP_REQUEST_H
#define TRACER_DUMP_REQUEST_H

#include <stddef.h>

struct config;

/*
 * Write the request into cfg->dump_request ("-": standard output). Returns 0,
 * EXIT_CONFIG (the identity or the file cannot be set up: message in err) or
 * EXIT_RUNTIME (message in err). Main thread, no other thread.
 */
int dump_request_run(const struct config *cfg, char *err, size_t errlen);

#endif
