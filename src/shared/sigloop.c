/* One way to set up the stop signals, for net and priv (sigloop.h). */
#include "config.h"
#include "sigloop.h"

#include <string.h>

void cr_loop_signals(void (*on_stop)(int), void (*on_child)(int), sigset_t *waitmask, sigset_t *oldmask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;   /* no SA_RESTART: ppoll must return */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (on_child != NULL) {
		sa.sa_handler = on_child;
		sigaction(SIGCHLD, &sa, NULL);
	}
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	if (on_child != NULL)
		sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, oldmask);
	*waitmask = *oldmask;
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGINT);
	if (on_child != NULL)
		sigdelset(waitmask, SIGCHLD);
}
