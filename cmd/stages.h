/*
 * stages.h — the running pipeline as main wires it: one place that names
 * every stage and ring, so the modules main delegates to (reporting, the
 * summary, the signal watch, the metrics probe) read the stages the same way.
 *
 * A plain struct of borrowed pointers: main owns every stage, fills this
 * before any thread starts and tears the stages down after every reader is
 * gone. Readers use only the stages' "any thread" accessors.
 */
#ifndef TRACER_STAGES_H
#define TRACER_STAGES_H

#include "capture/capture.h"
#include "cmd/hook_set.h"
#include "common/ifnames.h"
#include "common/ring.h"
#include "config/config.h"
#include "processor/processor.h"
#include "sender/sender.h"

/* Exit statuses: 3 and 4 say that not every event reached its output. */
enum sensor_exit { EXIT_RUNTIME = 1, EXIT_CONFIG = 2, EXIT_SPOOLED = 3, EXIT_DROPPED = 4 };

struct stages {
    const struct config *cfg;
    ring *pkt_rings[CAPTURE_MAX_PORTS]; /* capture -> processor, one per interface */
    size_t n_pkt_rings;
    ifnames *ifnames;               /* interface names of the flows (issue 14.7) */
    ring *ev_proc, *ev_janitor;     /* processor, janitor -> sender */
    ring *stats_ring;               /* main thread -> sender: "sensor" events */
    capture *cap;
    processor *proc;
    sender *snd;
    hook_set *hooks;
};

#endif
