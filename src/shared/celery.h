/* The Celery/kombu wire format on Redis (DESIGN §2, contract). */
#ifndef CR_CELERY_H
#define CR_CELERY_H

#include <jansson.h>
#include <stddef.h>

#include "names.h"

/* An envelope bigger than this is refused before it is parsed. */
#define CELERY_ENVELOPE_MAX (1024 * 1024)
/* Bigger messages are refused; up to this size they are still read, so
 * that their sender gets a FAILURE result; beyond it net cannot read them. */
#define CELERY_READ_MAX (16 * 1024 * 1024)
#define CELERY_QUEUE_MAX 300

/* Where Celery's Redis backend keeps a task's result, and its channel. */
#define CELERY_META_PREFIX "celery-task-meta-"

/* A fresh random task/job id (lower-case uuid4). */
void cr_celery_new_id(char out[TASK_ID_MAX + 1]);

/* kombu's priority sub-lists: Q, Q\x06\x163, Q\x06\x166, Q\x06\x169. */
#define CELERY_PRIORITY_STEPS 4
extern const char *const cr_celery_priority_suffix[CELERY_PRIORITY_STEPS];

struct celery_msg {
	char task[TASK_NAME_MAX + 1];
	char id[TASK_ID_MAX + 1];
	char root_id[TASK_ID_MAX + 1];   /* empty when absent */
	char group[TASK_ID_MAX + 1];     /* our job id travels here; empty when absent */
	char delivery_tag[TASK_ID_MAX + 1];
	char exchange[CELERY_QUEUE_MAX + 1];
	char routing_key[CELERY_QUEUE_MAX + 1];
	char origin[256];
	int has_expires;
	double expires;                  /* epoch seconds */
	int has_eta;
	double eta;
	int retries;
	int redelivered;
	json_t *args;                    /* list, owned */
	json_t *kwargs;                  /* object, owned */
	json_t *envelope;                /* the whole envelope, owned (for unacked) */
	json_t *sig;                     /* the celeryroot_sig header, owned; NULL if unsigned */
};

/* Parses an envelope with bounds.  On failure returns -1, writes a one-line
 * reason to err, and, when the task id could be read, leaves it in m->id so a
 * FAILURE result can still be written. */
int cr_celery_parse(const char *buf, size_t len, struct celery_msg *m, char *err, size_t errlen);
void cr_celery_msg_free(struct celery_msg *m);

struct celery_out {
	const char *task;        /* task name */
	const char *id;          /* task id */
	const char *group;       /* job id, may be NULL */
	const char *queue;       /* routing key, e.g. host.web01 */
	const char *origin;      /* e.g. "celeryroot@host" */
	double expires;          /* epoch seconds; 0 = none */
	json_t *args;            /* borrowed */
	json_t *kwargs;          /* borrowed */
	json_t *extra_headers;   /* borrowed, may be NULL: merged into headers */
};

/* Builds the envelope exactly as Celery 5 / kombu would; returns a malloc'd
 * JSON string or NULL. */
char *cr_celery_build(const struct celery_out *o);

/* Result meta as Celery's Redis backend stores it:
 * {"status","result","traceback","children","date_done","task_id"}.
 * result is stolen.  date_done is set for final states only. */
char *cr_celery_result_meta(const char *status, json_t *result, const char *traceback,
			 const char *task_id);
/* The result of a task that broke: {"exc_type","exc_message":[msg],"exc_module"}. */
json_t *cr_celery_exception(const char *exc_type, const char *exc_module, const char *msg);

#endif
