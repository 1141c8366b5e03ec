#include "config.h"
#include "record.h"

#include <string.h>

static const char *const statuses[] = { "changed", "unchanged", "failed", "timeout",
					"queued", "deferred", "expired", "skipped" };

json_t *cr_record_new(const char *host, const char *status)
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

void cr_record_set_error(json_t *rec, const char *error)
{
	json_object_set_new(rec, "error", error ? json_string(error) : json_null());
}

json_t *cr_record_from_answer(const char *host, int keep_data_on_error, json_t *data)
{
	static const char *const own[] = { "changes", "rollback", "check", "reason", "repaired", "interrupted",
					   "redelivered" };
	const char *error = json_string_value(json_object_get(data, "error"));
	int changed = json_is_true(json_object_get(data, "changed"));
	json_t *rec = cr_record_new(host, error ? "failed" : changed ? "changed" : "unchanged");

	if (rec == NULL || !json_is_object(data)) {
		json_decref(rec);
		json_decref(data);
		return NULL;
	}
	if (error)
		cr_record_set_error(rec, error);
	json_object_set_new(rec, "changed", json_boolean(changed && !error));
	json_object_del(rec, "duration_s");
	if (error && !keep_data_on_error) {
		json_decref(data);
		data = NULL;
	}
	/* The record's own fields (DESIGN §5) come out of the data. */
	for (size_t i = 0; data && i < sizeof(own) / sizeof(own[0]); i++) {
		json_t *v = json_object_get(data, own[i]);
		if (v)
			json_object_set(rec, own[i], v);
		json_object_del(data, own[i]);
	}
	if (data) {
		json_object_del(data, "changed");
		json_object_del(data, "error");
	}
	json_object_set_new(rec, "data", data ? data : json_null());
	return rec;
}

int cr_record_status_valid(const char *status)
{
	for (size_t i = 0; status && i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (strcmp(status, statuses[i]) == 0)
			return 1;
	return 0;
}

int cr_record_exit_code(json_t *records)
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
