/* The privsep decoder (src/shared/frame.c + proto.c) on a packet as priv
 * receives it from net: cr_frame_decode, then cr_proto_req_decode for a request
 * type; answer types go through cr_proto_ans_decode, as net reads them.
 *
 * A custom mutator keeps most mutants well framed (it rewrites the length
 * field after mutating), so that the fuzzer spends its time in the JSON
 * schema rather than in the length check; the inputs themselves are still
 * exactly the bytes priv would read. */
#include "config.h"

#include <jansson.h>
#include <math.h>

#include "frame.h"
#include "fuzz.h"
#include "names.h"
#include "proto.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

/* Encoding what was decoded and decoding it again gives the same request:
 * priv and net agree on every request either accepts. */
static void check_request(const struct proto_req *r)
{
	struct proto_req again;
	char err[PROTO_ERR_MAX] = "";
	size_t len = 0;
	char *payload = cr_proto_req_encode(r, &len);

	FUZZ_ASSERT(r->type % 2 == 0 && (r->job[0] == '\0' || cr_valid_task_id(r->job)), "type or job");
	FUZZ_ASSERT(r->type == REQ_HELLO || cr_valid_task_id(r->task), "task '%s'", r->task);
	FUZZ_ASSERT(r->npkgs <= PKG_SPECS_MAX && (r->type != REQ_APT || isfinite(r->max_age)), "pkgs or max_age");
	FUZZ_ASSERT(payload != NULL, "an accepted %s cannot be encoded", cr_proto_type_name(r->type));
	FUZZ_ASSERT(cr_proto_req_decode(r->type, (const uint8_t *)payload, len, &again, err, sizeof(err)) == 0,
		    "re-encoded %s refused: %s", cr_proto_type_name(r->type), err);
	FUZZ_ASSERT(again.id == r->id && !strcmp(again.job, r->job) && !strcmp(again.task, r->task) &&
		    !strcmp(again.op, r->op) && again.npkgs == r->npkgs &&
		    !memcmp(again.pkgs, r->pkgs, r->npkgs * sizeof(r->pkgs[0])) &&
		    again.upgradable == r->upgradable && again.security == r->security &&
		    again.check == r->check && again.purge == r->purge && again.max_age == r->max_age,
		    "round trip changed the %s request", cr_proto_type_name(r->type));
	FUZZ_ASSERT(again.full == r->full && again.nexclude == r->nexclude && r->nexclude <= CR_EXCLUDE_MAX &&
		    !memcmp(again.exclude, r->exclude, r->nexclude * sizeof(r->exclude[0])),
		    "round trip changed the upgrade's full or exclude");
	FUZZ_ASSERT(again.allow_downgrade == r->allow_downgrade && again.allow_essential == r->allow_essential &&
		    again.allow_removals == r->allow_removals && again.conffile_new == r->conffile_new,
		    "round trip changed a guard or conffile_new");
	free(payload);
}

/* priv logs a refusal, audits it (APT) and sends it back as ANS_REFUSED:
 * the reason must be printable ASCII or the audit record and the answer
 * cannot be encoded, and a forged log line could be. */
static void check_refusal(uint8_t type, const char *err)
{
	FUZZ_ASSERT(err[0] != '\0', "type %u refused without a reason", type);
	FUZZ_ASSERT(fuzz_printable(err), "reason quotes raw input: '%s'", err);
}

static void check_answer(struct proto_ans *a)
{
	struct proto_ans again;
	char err[PROTO_ERR_MAX] = "";
	size_t len = 0;
	char *payload;

	FUZZ_ASSERT(a->type == ANS_PROGRESS ? a->percent >= 0 && a->percent <= 100 : 1, "percent %d", a->percent);
	FUZZ_ASSERT(a->type != ANS_REPLY || json_is_object(a->data), "reply data");
	/* A REFUSED text longer than the struct holds is cut (priv never sends
	 * one: its own buffer is that size), so only the others round-trip. */
	if (a->type == ANS_REFUSED)
		return;
	payload = cr_proto_ans_encode(a, &len);
	FUZZ_ASSERT(payload != NULL, "an accepted %s cannot be encoded", cr_proto_type_name(a->type));
	FUZZ_ASSERT(cr_proto_ans_decode(a->type, (const uint8_t *)payload, len, &again, err, sizeof(err)) == 0,
		    "re-encoded %s refused: %s", cr_proto_type_name(a->type), err);
	FUZZ_ASSERT(again.id == a->id && again.percent == a->percent && !strcmp(again.pkg, a->pkg) &&
		    !strcmp(again.text, a->text) && (a->data == NULL || json_equal(again.data, a->data)),
		    "round trip changed the %s answer", cr_proto_type_name(a->type));
	cr_proto_ans_free(&again);
	free(payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *payload = NULL;
	char err[PROTO_ERR_MAX] = "";
	uint8_t type = 0;
	size_t len = 0;

	if (cr_frame_decode(data, size, &type, &payload, &len) != FRAME_OK)
		return 0;
	FUZZ_ASSERT(len <= FRAME_MAX_PAYLOAD && payload == data + FRAME_HDR && len == size - FRAME_HDR,
		    "frame of %zu bytes decoded to %zu", size, len);
	if (type % 2 == 0) {
		struct proto_req r;
		if (cr_proto_req_decode(type, payload, len, &r, err, sizeof(err)) == 0)
			check_request(&r);
		else
			check_refusal(type, err);
	} else {
		struct proto_ans a;
		if (cr_proto_ans_decode(type, payload, len, &a, err, sizeof(err)) == 0)
			check_answer(&a);
		else
			check_refusal(type, err);
		cr_proto_ans_free(&a);
	}
	return 0;
}

/* Mutates, then (seven times in eight) makes the length field match, as a
 * well-behaved sender would; the eighth keeps the framing code honest. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	uint32_t n;

	size = LLVMFuzzerMutate(data, size, max_size);
	if (size < FRAME_HDR || seed % 8 == 0)
		return size;
	n = (uint32_t)(size - 4);
	data[0] = (uint8_t)(n >> 24);
	data[1] = (uint8_t)(n >> 16);
	data[2] = (uint8_t)(n >> 8);
	data[3] = (uint8_t)n;
	return size;
}
