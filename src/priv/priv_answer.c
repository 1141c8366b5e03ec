/* priv's answers are signed records (issue 12): priv builds the result
 * record itself from what the operation answered (cr_record_from_answer, the
 * same rules net used to apply), names the task and job in it, and signs it
 * with the host key.  net only adds its own measurement (duration_s) and
 * publishes it; whatever net or anyone on the way changes, a verifier reads
 * the record from the signed payload.  What goes to net:
 *
 *   {"attest": {"v", "alg", "payload", "sig"}, "audit": <audit line>?}
 *
 * (the record's fields are not repeated beside the payload: net reads them
 * from it, and the frame stays within its bound). */
#include "config.h"
#include "priv.h"

#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

#include "hostsig.h"
#include "log.h"
#include "proto.h"
#include "record.h"

static json_t *roles_json(const struct priv_ctx *p)
{
	json_t *a = json_array();

	for (int i = 0; a && i < p->nroles; i++)
		json_array_append_new(a, json_string(p->roles[i]));
	return a;
}

void priv_send_record(struct priv_ctx *p, const struct proto_req *r, json_t *rec, json_t *audit)
{
	json_t *attest = NULL, *reply;

	if (rec != NULL) {
		json_object_set_new(rec, "task", json_string(r->task));
		json_object_set_new(rec, "job", json_string(r->job));
		attest = cr_hostsig_attest(p->hostkey, rec);
	}
	json_decref(rec);
	if (attest == NULL) {
		json_decref(audit);
		error_f("the record of task %s could not be built or signed", r->task);
		priv_reply(p, r->id, NULL);   /* a refusal: net always hears back */
		return;
	}
	reply = json_pack("{s:o}", "attest", attest);
	if (reply && audit)
		json_object_set_new(reply, "audit", audit);
	else
		json_decref(audit);
	priv_reply(p, r->id, reply);
}

/* The data each kind of request answers with, as records have always
 * carried it: who answered (host, and for ping and facts the roles). */
static void name_host(const struct priv_ctx *p, const struct proto_req *r, json_t *data)
{
	json_object_set_new(data, "host", json_string(p->hostname));
	if (r->type == REQ_FACTS)
		json_object_set_new(data, "roles", roles_json(p));
}

void priv_answer(struct priv_ctx *p, const struct proto_req *r, json_t *data)
{
	json_t *audit;

	if (data == NULL) {
		priv_reply(p, r->id, NULL);
		return;
	}
	/* The audit line goes to net beside the record, for the stream. */
	if ((audit = json_object_get(data, "audit")) != NULL) {
		json_incref(audit);
		json_object_del(data, "audit");
	}
	name_host(p, r, data);
	priv_send_record(p, r, cr_record_from_answer(p->hostname, r->type == REQ_APT, data), audit);
}

json_t *priv_ping_data(const struct priv_ctx *p)
{
	return json_pack("{s:s, s:o, s:s, s:I, s:I}", "host", p->hostname, "roles", roles_json(p), "version",
			 PACKAGE_VERSION, "net_pid", (json_int_t)p->net_pid, "priv_pid", (json_int_t)getpid());
}
