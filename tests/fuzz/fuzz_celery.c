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
#include "proto.h"
#include "taskreq.h"

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

/* A task net takes (its args and kwargs as taskreq.c reads them, issue 15's
 * exclude list, guards and conffile_new among them) is one priv's decoder
 * takes too, unchanged: what a Redis writer can make net send is no more
 * than what priv's schema allows, and priv compares it with what was
 * signed field by field (cr_taskreq_same). */
static void check_request(const struct celery_msg *m)
{
	struct proto_req *r = calloc(2, sizeof(*r));
	char err[PROTO_ERR_MAX] = "";
	size_t len = 0;

	FUZZ_ASSERT(r != NULL, "out of memory");
	if (cr_taskreq_build(m->task, m->args, m->kwargs, &r[0], err, sizeof(err)) < 0) {
		FUZZ_ASSERT(fuzz_printable(err), "taskreq reason quotes raw input: '%s'", err);
		free(r);
		return;
	}
	r[0].id = 1;
	cr_copy_str(r[0].task, sizeof(r[0].task), m->id);
	char *payload = cr_proto_req_encode(&r[0], &len);
	FUZZ_ASSERT(payload != NULL, "a task net took cannot be encoded for priv");
	FUZZ_ASSERT(cr_proto_req_decode(r[0].type, (const uint8_t *)payload, len, &r[1], err, sizeof(err)) == 0,
		    "priv refuses a task net took: %s", err);
	FUZZ_ASSERT(r[0].type != REQ_APT || cr_taskreq_same(&r[0], &r[1]), "priv reads another task than net took");
	free(payload);
	free(r);
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

	if (cr_celery_parse((const char *)data, size, &m, err, sizeof(err)) == 0) {
		check_accepted(&m);
		check_request(&m);
	} else
		check_refused(&m, err);
	cr_celery_msg_free(&m);
	return 0;
}
