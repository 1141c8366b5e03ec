/* Pieces of `celeryroot demo`. */
#ifndef CR_DEMO_H
#define CR_DEMO_H

#include <signal.h>
#include <sys/types.h>

#define DEMO_HOSTS 3

/* The operator key the demo signs every task with (its hosts trust it). */
#define DEMO_KEY "demo-operator"

struct demo {
	char dir[64];
	char url[64];
	int port;
	pid_t redis;
	pid_t pair[DEMO_HOSTS];
	int keep;
};

/* Set by SIGINT/SIGTERM: every step stops as soon as it can. */
extern volatile sig_atomic_t demo_interrupted;

/* Builds the demo packages into repo/ and indexes them (Packages). */
int demo_build_repo(const char *repo);
/* The tour, step by step, each a real CLI process; 0 when each step ended as
 * expected. */
int demo_tour(const struct demo *d, const char *cli);

#endif
