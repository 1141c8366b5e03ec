/* The Celery envelope parser (src/shared/celery.c) on the bytes net takes
 * from Redis (LMOVE/BLMOVE from a queue, LINDEX from its taken list). */
#include "config.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "celery.h"
#include "fuzz.h"
#include "names.h"

/* What net relies on in a message cr_celery_parse accepted. */
static void check_accepted(const struct celery_msg *m)
{
	struct celery_msg again;
	char err[512];

	FUZZ_ASSERT(m->task[0] != '\0' && fuzz_printable(m->task), "task '%s'", m->task);
	FUZZ_ASSERT(cr_valid_task_id(m->id), "id '%s'", m->id);
	FUZZ_ASSERT(cr_valid_task_id(m->delivery_tag), "delivery_tag '%s'", m->delivery_tag);
	FUZZ_ASSERT(m->group[0] == '\0' || cr_valid_task_id(m->group), "group '%s'", m->group);
	FUZZ_ASSERT(fuzz_printable(m->origin) && fuzz_printable(m->exchange) &&
		    fuzz_printable(m->routing_key), "origin, exchange or routing key");
	FUZZ_ASSERT(!m->has_expires || isfinite(m->expires), "expires");
	FUZZ_ASSERT(!m->has_eta || isfinite(m->eta), "eta");
	FUZZ_ASSERT(m->retries >= 0, "retries %d", m->retries);
	FUZZ_ASSERT(json_is_array(m->args) && json_is_object(m->kwargs) && json_is_object(m->envelope),
		    "args, kwargs or envelope of the wrong type");

	/* A deferred task is stored re-encoded (defer.c) and parsed again when
	 * its window opens: it must come back the same task. */
	char *stored = json_dumps(m->envelope, JSON_COMPACT);
	FUZZ_ASSERT(stored != NULL, "envelope cannot be encoded");
	FUZZ_ASSERT(cr_celery_parse(stored, strlen(stored), &again, err, sizeof(err)) == 0, "re-encoded message refused: %s",
		    err);
	FUZZ_ASSERT(strcmp(again.id, m->id) == 0 && strcmp(again.task, m->task) == 0 &&
		    json_equal(again.args, m->args) && json_equal(again.kwargs, m->kwargs), "re-encoded message differs");
	cr_celery_msg_free(&again);
	free(stored);
}

/* A refusal is logged by net and sent back as the FAILURE result, under the
 * task id when one could be read. */
static void check_refused(const struct celery_msg *m, const char *err)
{
	FUZZ_ASSERT(err[0] != '\0', "refused without a reason");
	FUZZ_ASSERT(fuzz_printable(err), "reason quotes raw input: '%s'", err);
	FUZZ_ASSERT(m->id[0] == '\0' || cr_valid_task_id(m->id), "id '%s'", m->id);
	FUZZ_ASSERT(m->args == NULL && m->kwargs == NULL, "arguments of a refused message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct celery_msg m;
	char err[512] = "";

	if (cr_celery_parse((const char *)data, size, &m, err, sizeof(err)) == 0)
		check_accepted(&m);
	else
		check_refused(&m, err);
	cr_celery_msg_free(&m);
	return 0;
}
