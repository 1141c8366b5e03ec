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
};

/* {"host","status","changed":false,"changes":{},"error":null,"rollback":null,"duration_s":0} */
json_t *record_new(const char *host, const char *status);
void record_set_error(json_t *rec, const char *error);
int record_status_valid(const char *status);
/* Exit code for an array of records. */
int record_exit_code(json_t *records);

#endif
