/* The per-host result record and the exit codes (DESIGN §5, contract). */
#ifndef CR_RECORD_H
#define CR_RECORD_H

#include <jansson.h>

enum exit_code {
	EXIT_OK = 0,        /* all ok */
	EXIT_USAGE = 1,     /* usage or validation error; nothing was sent */
	EXIT_FAILED = 2,    /* at least one host failed */
	EXIT_PENDING = 3,   /* none failed; one timed out, is queued, deferred or expired */
	EXIT_BROKER = 4,    /* the broker could not be reached or answered an error */
	EXIT_STOPPED = 5,   /* a rollout stopped early: budget spent, canary failed, or aborted */
};

/* {"host","status","changed":false,"changes":{},"error":null,"rollback":null,"duration_s":0} */
json_t *cr_record_new(const char *host, const char *status);
void cr_record_set_error(json_t *rec, const char *error);
/* The record an operation's answer makes (priv builds it, and signs it:
 * hostsig.h).  data (stolen) is what the operation answered: "error" when
 * the host could not do it, "changed", the record's own fields (changes,
 * rollback, check, reason, repaired, interrupted, redelivered), and the
 * rest, which becomes the record's "data" (null for a failed non-APT
 * operation, whose data says nothing).  Status failed, changed or
 * unchanged; no duration_s (net measures that).  NULL without memory. */
json_t *cr_record_from_answer(const char *host, int keep_data_on_error, json_t *data);
int cr_record_status_valid(const char *status);
/* Exit code for an array of records. */
int cr_record_exit_code(json_t *records);

#endif
