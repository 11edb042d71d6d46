/*
 * snmp_log.h — our log.h in files that also include net-snmp's headers.
 *
 * net-snmp's headers pull in <syslog.h>, whose LOG_INFO and LOG_DEBUG macros
 * would replace common/log.h's enum constants of the same names. This header
 * includes net-snmp first, keeps syslog's debug priority under another name
 * (for net-snmp's own log handler), drops the two macros and then includes
 * log.h, so log_info()/log_debug() mean ours. Include it instead of log.h
 * in hooks/snmp_*.c.
 */
#ifndef TRACER_SNMP_LOG_H
#define TRACER_SNMP_LOG_H

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

enum { SNMP_SYSLOG_DEBUG = LOG_DEBUG };

#undef LOG_INFO
#undef LOG_DEBUG

#include "../../common/log.h"

#endif
