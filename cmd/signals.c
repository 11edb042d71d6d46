/*
 * signals.c — blocked signals and the shutdown watch thread (see signals.h).
 */
#include "cmd/signals.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/summary.h"
#include "common/caps.h"
#include "common/log.h"

struct signal_watch {
    const struct stages *st;
    pthread_t thread;
    atomic_bool done;
};

void signals_setup(sigset_t *set)
{
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

void signals_reopen_log(void)
{
    char err[512] = "";
    int rc = log_reopen(err, sizeof err);
    if (rc == 0)
        log_info("SIGHUP: log file reopened");
    else if (rc < 0)
        log_warn("SIGHUP: cannot reopen the log file (%s); still writing to the old one", err);
}

void signals_hangup(const struct stages *st)
{
    signals_reopen_log();
    if (st->hooks)
        (void)hook_set_reload(st->hooks, st->cfg);   /* logs each hook's outcome */
}

static void *watch_thread(void *arg)
{
    signal_watch *w = arg;
    caps_thread_init("signal-watch");
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGUSR1);
    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (atomic_load(&w->done))
            return NULL;                       /* signal_watch_stop's wake-up */
        if (sig == SIGHUP) {
            signals_hangup(w->st);
            continue;
        }
        if (sig == SIGUSR1) {   /* the flush may hold the flow table: never wait for it here */
            log_info("SIGUSR1: shutting down; the summary line follows when the flush ends");
            continue;
        }
        summary_log_abandoned(w->st, sig);
        _exit(EXIT_DROPPED);
    }
}

signal_watch *signal_watch_start(const struct stages *st)
{
    signal_watch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->st = st;
    if (pthread_create(&w->thread, NULL, watch_thread, w) == 0)
        return w;
    free(w);
    return NULL;
}

void signal_watch_stop(signal_watch *w)
{
    if (!w)
        return;
    atomic_store(&w->done, true);
    pthread_kill(w->thread, SIGHUP);   /* wakes its sigwait; it sees done and returns */
    pthread_join(w->thread, NULL);
    free(w);
}
