/* Whether a result record is its host's word.  A host's root helper builds
 * each result record itself and signs it with its host key: the record
 * published as the Celery result carries
 *   "attest": {"v": 1, "alg": "ed25519", "payload": "<the record, as JSON>",
 *              "sig": "<base64 of the 64-byte signature over the payload's bytes>"}
 * and what the CLI shows is the payload (plus net's "duration_s"), once the
 * signature checks out with the key known_hosts holds for that host and the
 * payload names that host, this task and this job.  Anything else in Redis
 * could have been written by anyone who can write there: a record that
 * does not verify is shown as failed and "forged", never as the host's
 * outcome. */
#ifndef CR_CLI_ATTEST_H
#define CR_CLI_ATTEST_H

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "known_hosts.h"

/* What a wait needs to judge its records. */
struct verifier {
	struct known_hosts kh;
	int kh_ok;                    /* known_hosts was read */
	char kh_err[PATH_MAX + 256];
	int accept_unsigned;          /* CELERYROOT_UNSIGNED_HOSTS=accept */
	size_t n;                     /* hosts whose registry keys were read */
	const char **names;
	struct reg_key *keys;
};

void verifier_init(struct verifier *v);
/* Reads, in one MGET, the registry keys of the hosts named that known_hosts
 * does not know yet (for trust on first use). */
void verifier_prefetch(struct verifier *v, redisContext *c, const char *const *hosts, size_t n);
void verifier_free(struct verifier *v);

/* The record to show for a SUCCESS or DEFERRED result of task_id (job
 * job_id) sent to host (empty for a --one-of task: the host the result
 * names, whose key must have signed it); shown is the name a failed record
 * carries.  A new reference. */
json_t *attest_record(struct verifier *v, const char *host, const char *shown, const char *task_id,
		      const char *job_id, json_t *result);

#endif
