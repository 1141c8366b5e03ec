/* Between wait.c (following a job's results) and wait_records.c (turning
 * what was seen into result records). */
#ifndef CR_CLI_WAIT_H
#define CR_CLI_WAIT_H

#include "cli.h"

/* What the wait knows of one task. */
struct tstate {
	char status[16];    /* Celery state, "" when nothing is stored yet */
	json_t *result;     /* the meta's result, owned */
	int final;
	double since;       /* wall time it started (STARTED's date_done, else when seen live); 0: unknown */
	char host[HOSTNAME_MAX + 1];   /* who runs it, from the meta (a --one-of task has no host before) */
};

/* One record per task, in job order.  c (NULL or dead: not used) reads the
 * registry, to say whether a host running or owing a task is online. */
json_t *wait_records(redisContext *c, const struct job *job, const struct tstate *ts);

#endif
