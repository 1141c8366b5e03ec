/* The tasks a worker runs, and how a task's args and kwargs become priv's
 * request.  net uses it to refuse a bad task before anything reaches priv;
 * priv uses it on a signed task's claims, to check that what net asks for
 * is what the operator signed. */
#ifndef CR_TASKREQ_H
#define CR_TASKREQ_H

#include <jansson.h>
#include <stddef.h>

#include "proto.h"

/* A ping may be asked to hold before answering (see net's tasks.c). */
#define PING_HOLD_MAX 300.0

/* Validates args/kwargs and fills r's type and operation fields (not id,
 * job or task id).  -1 with a one-line reason. */
int cr_taskreq_build(const char *task, json_t *args, json_t *kwargs, struct proto_req *r, char *err,
		  size_t errlen);
/* 1 when the two requests ask for the same thing (ids aside). */
int cr_taskreq_same(const struct proto_req *a, const struct proto_req *b);

#endif
