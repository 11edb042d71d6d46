/*
 * hostport.h — the listen-address form both of the sensor's servers take.
 *
 * AGENT_METRICS_ADDR and AGENT_API_ADDR are written "HOST:PORT",
 * "[IPV6]:PORT" or ":PORT" (every address); one parser keeps the two rules
 * identical.
 */
#ifndef TRACER_HOSTPORT_H
#define TRACER_HOSTPORT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Split `addr` into host (NUL-terminated, "" for ":PORT"; an IPv6 address
 * without its brackets) and port (0..65535, decimal digits only). false when
 * the form is wrong, the host does not fit `hostlen` bytes or the port is out
 * of range. Any thread.
 */
bool hostport_split(const char *addr, char *host, size_t hostlen, unsigned long *port);

#endif
