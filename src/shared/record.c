#include "config.h"
#include "record.h"

#include <string.h>

static const char *const statuses[] = { "changed", "unchanged", "failed", "timeout",
					"queued", "deferred", "expired", "skipped" };

json_t *record_new(const char *host, const char *status)
{
	json_t *r = json_object();

	json_object_set_new(r, "host", json_string(host ? host : ""));
	json_object_set_new(r, "status", json_string(status));
	json_object_set_new(r, "changed", json_false());
	json_object_set_new(r, "changes", json_object());
	json_object_set_new(r, "error", json_null());
	json_object_set_new(r, "rollback", json_null());
	json_object_set_new(r, "duration_s", json_real(0.0));
	return r;
}

void record_set_error(json_t *rec, const char *error)
{
	json_object_set_new(rec, "error", error ? json_string(error) : json_null());
}

int record_status_valid(const char *status)
{
	for (size_t i = 0; status && i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (strcmp(status, statuses[i]) == 0)
			return 1;
	return 0;
}

int record_exit_code(json_t *records)
{
	int pending = 0;
	size_t i;
	json_t *r;

	json_array_foreach(records, i, r) {
		const char *s = json_string_value(json_object_get(r, "status"));
		if (s == NULL || strcmp(s, "failed") == 0)
			return EXIT_FAILED;
		if (!strcmp(s, "timeout") || !strcmp(s, "queued") || !strcmp(s, "deferred") ||
		    !strcmp(s, "expired"))
			pending = 1;
	}
	return pending ? EXIT_PENDING : EXIT_OK;
}
