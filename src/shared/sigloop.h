/* The stop signals of a daemon loop that waits in ppoll (net and priv).
 * SIGTERM and SIGINT (and SIGCHLD, when the caller wants it) run their
 * handler, installed without SA_RESTART so that ppoll returns; they are
 * blocked everywhere but inside ppoll (and a connect), so a stop request
 * can never slip in between checking the flag and sleeping, nor arrive
 * halfway through a request.  SIGPIPE is ignored: writing to a dead peer
 * must be an error, not the process's death. */
#ifndef CR_SIGLOOP_H
#define CR_SIGLOOP_H

#include <signal.h>

/* on_child NULL: SIGCHLD is left as it is.  The caller's mask before the
 * call goes to *oldmask (children spawned later must get it back: a blocked
 * SIGTERM survives exec); *waitmask is that mask with the handled signals
 * let through, for ppoll. */
void cr_loop_signals(void (*on_stop)(int), void (*on_child)(int), sigset_t *waitmask, sigset_t *oldmask);

#endif
