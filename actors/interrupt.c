/* SIGINT, SIGTERM and SIGHUP: the first asks the run to stop at its next round boundary (the runners poll
 * bg_interrupted between rounds, write the row of that moment and a summary.json marked interrupted); a second one
 * ends the process at once. The handler only stores the signal, or writes one line and calls _exit: both are
 * async-signal-safe. SimGrid installs its own SIGINT handler (an actor listing) in simgrid_init: this one replaces it,
 * so it is installed after simgrid_init. */
#include "run_internal.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got;

const char *bg_signal_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "a signal";
}

static void on_signal(int sig)
{
    if (got) {
        static const char msg[] = "byzgrid: interrupted again: stopped at once; trace.csv keeps the rows written so "
                                  "far (in the folder named OUT.running-XXXXXX beside the output folder)\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(128 + sig);
    }
    got = sig;
}

void bg_interrupt_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

int bg_interrupted(void) { return got; }
