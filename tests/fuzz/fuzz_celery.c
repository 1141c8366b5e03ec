/* The Celery envelope parser (src/shared/celery.c) on the bytes net pops
 * from Redis: each input is read both as an envelope from a queue (BRPOP,
 * celery_parse) and as an entry of the unacked hash (HGET,
 * celery_restore_payload), as worker.c does with them. */
#include "config.h"

#include <jansson.h>
#include <math.h>

#include "celery.h"
#include "fuzz.h"
#include "names.h"

/* What net relies on in a message celery_parse accepted. */
static void check_accepted(const struct celery_msg *m)
{
	struct celery_msg again;
	char err[512], queue[CELERY_QUEUE_MAX + 1];
	char *entry, *restored;

	FUZZ_ASSERT(m->task[0] != '\0' && fuzz_printable(m->task), "task '%s'", m->task);
	FUZZ_ASSERT(valid_task_id(m->id), "id '%s'", m->id);
	FUZZ_ASSERT(valid_task_id(m->delivery_tag), "delivery_tag '%s'", m->delivery_tag);
	FUZZ_ASSERT(m->group[0] == '\0' || valid_task_id(m->group), "group '%s'", m->group);
	FUZZ_ASSERT(fuzz_printable(m->origin) && fuzz_printable(m->exchange) &&
		    fuzz_printable(m->routing_key), "origin, exchange or routing key");
	FUZZ_ASSERT(!m->has_expires || isfinite(m->expires), "expires");
	FUZZ_ASSERT(!m->has_eta || isfinite(m->eta), "eta");
	FUZZ_ASSERT(m->retries >= 0, "retries %d", m->retries);
	FUZZ_ASSERT(json_is_array(m->args) && json_is_object(m->kwargs) && json_is_object(m->envelope),
		    "args, kwargs or envelope of the wrong type");

	/* Tracked as unacked, then restored after a crash: the same message
	 * must come back, marked redelivered, to the queue it was routed to. */
	entry = celery_unacked_entry(m);
	FUZZ_ASSERT(entry != NULL, "no unacked entry");
	restored = celery_restore_payload(entry, strlen(entry), queue, sizeof(queue));
	FUZZ_ASSERT(restored != NULL || m->routing_key[0] == '\0', "unacked entry cannot be restored");
	if (restored != NULL) {
		FUZZ_ASSERT(strcmp(queue, m->routing_key) == 0, "restored to '%s'", queue);
		FUZZ_ASSERT(celery_parse(restored, strlen(restored), &again, err, sizeof(err)) == 0,
			    "restored message refused: %s", err);
		FUZZ_ASSERT(strcmp(again.id, m->id) == 0 && strcmp(again.task, m->task) == 0 &&
			    again.redelivered, "restored message differs");
		FUZZ_ASSERT(json_equal(again.args, m->args) && json_equal(again.kwargs, m->kwargs),
			    "restored arguments differ");
		celery_msg_free(&again);
	}
	free(restored);
	free(entry);
}

/* A refusal is logged by net and sent back as the FAILURE result, under the
 * task id when one could be read. */
static void check_refused(const struct celery_msg *m, const char *err)
{
	FUZZ_ASSERT(err[0] != '\0', "refused without a reason");
	FUZZ_ASSERT(fuzz_printable(err), "reason quotes raw input: '%s'", err);
	FUZZ_ASSERT(m->id[0] == '\0' || valid_task_id(m->id), "id '%s'", m->id);
	FUZZ_ASSERT(m->args == NULL && m->kwargs == NULL, "arguments of a refused message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct celery_msg m;
	char err[512] = "", queue[CELERY_QUEUE_MAX + 1];
	char *restored;

	if (celery_parse((const char *)data, size, &m, err, sizeof(err)) == 0)
		check_accepted(&m);
	else
		check_refused(&m, err);
	celery_msg_free(&m);

	restored = celery_restore_payload((const char *)data, size, queue, sizeof(queue));
	if (restored != NULL) {
		FUZZ_ASSERT(queue[0] != '\0' && fuzz_printable(queue), "restore queue '%s'", queue);
		free(restored);
	} else {
		FUZZ_ASSERT(queue[0] == '\0', "queue set for a refused entry");
	}
	return 0;
}
