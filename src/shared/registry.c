#include "config.h"
#include "registry.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

char *cr_registry_encode(const struct host_rec *h)
{
	json_t *roles = json_array(), *o;
	char *s;

	if (!cr_valid_hostname(h->hostname) || h->nroles < 0 || h->nroles > REG_MAX_ROLES) {
		json_decref(roles);
		return NULL;
	}
	/* We never publish what cr_registry_decode() would refuse to read back. */
	for (int i = 0; i < h->nroles; i++) {
		if (!cr_valid_role(h->roles[i])) {
			json_decref(roles);
			return NULL;
		}
		json_array_append_new(roles, json_string(h->roles[i]));
	}
	o = json_pack("{s:s, s:o, s:s, s:s, s:s, s:s, s:f, s:f, s:i, s:I}", "hostname", h->hostname,
		      "roles", roles, "version", h->version, "os", h->os, "kernel", h->kernel, "state",
		      h->state, "started", h->started, "last_seen", h->last_seen, "heartbeat_s",
		      h->heartbeat_s, "pid", (json_int_t)h->pid);
	if (o && h->host_key[0]) {
		unsigned char pk[32];
		if (cr_hostsig_pk_decode(h->host_key, pk) < 0) {
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, "host_key", json_string(h->host_key));
	}
	s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return s;
}

/* Anyone who can write to Redis can write a registry record, and the CLI
 * prints these strings on a terminal: printable ASCII only, no escapes. */
static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static int get_str(json_t *o, const char *key, char *dst, size_t len, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) != strlen(json_string_value(v)) ||
	    !printable(json_string_value(v)) || !cr_copy_str(dst, len, json_string_value(v))) {
		snprintf(err, errlen, "registry record: '%s' is missing, not a printable string or longer than %zu",
			 key, len - 1);
		return -1;
	}
	return 0;
}

static int get_roles(json_t *o, struct host_rec *h, char *err, size_t errlen)
{
	json_t *roles = json_object_get(o, "roles"), *r;
	size_t i;

	if (!json_is_array(roles) || json_array_size(roles) > REG_MAX_ROLES) {
		snprintf(err, errlen, "registry record: 'roles' must be a list of at most %d roles", REG_MAX_ROLES);
		return -1;
	}
	json_array_foreach(roles, i, r) {
		/* The length check catches "web\u0000x", which C would read as "web". */
		if (!cr_valid_role(json_string_value(r)) ||
		    json_string_length(r) != strlen(json_string_value(r))) {
			snprintf(err, errlen, "registry record: role #%zu is not a valid role name", i);
			return -1;
		}
		cr_copy_str(h->roles[i], sizeof(h->roles[i]), json_string_value(r));
	}
	h->nroles = (int)json_array_size(roles);
	return 0;
}

/* Optional (a daemon from before host keys has none); when present it must
 * be the one base64 form of 32 bytes. */
static int get_host_key(json_t *o, struct host_rec *h, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, "host_key");
	unsigned char pk[32];

	if (v == NULL)
		return 0;
	if (!json_is_string(v) || json_string_length(v) != strlen(json_string_value(v)) ||
	    cr_hostsig_pk_decode(json_string_value(v), pk) < 0) {
		snprintf(err, errlen, "registry record: 'host_key' is not the base64 of a 32-byte public key");
		return -1;
	}
	cr_copy_str(h->host_key, sizeof(h->host_key), json_string_value(v));
	return 0;
}

/* Unknown keys are tolerated so that a newer daemon's record still reads. */
int cr_registry_decode(const char *json, size_t len, struct host_rec *h, char *err, size_t errlen)
{
	json_t *o, *hb, *pid, *st, *ls;
	int rc = -1;

	memset(h, 0, sizeof(*h));
	if (len > REG_RECORD_MAX) {
		snprintf(err, errlen, "registry record too large");
		return -1;
	}
	o = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		snprintf(err, errlen, "registry record is not a JSON object");
		json_decref(o);
		return -1;
	}
	hb = json_object_get(o, "heartbeat_s");
	pid = json_object_get(o, "pid");
	st = json_object_get(o, "started");
	ls = json_object_get(o, "last_seen");
	if (get_str(o, "hostname", h->hostname, sizeof(h->hostname), err, errlen) < 0 ||
	    get_str(o, "version", h->version, sizeof(h->version), err, errlen) < 0 ||
	    get_str(o, "os", h->os, sizeof(h->os), err, errlen) < 0 ||
	    get_str(o, "kernel", h->kernel, sizeof(h->kernel), err, errlen) < 0 ||
	    get_str(o, "state", h->state, sizeof(h->state), err, errlen) < 0 ||
	    get_roles(o, h, err, errlen) < 0 || get_host_key(o, h, err, errlen) < 0)
		goto out;
	if (!cr_valid_hostname(h->hostname)) {
		snprintf(err, errlen, "registry record: invalid hostname");
		goto out;
	}
	if (strcmp(h->state, "running") != 0 && strcmp(h->state, "stopped") != 0) {
		snprintf(err, errlen, "registry record: state must be running or stopped");
		goto out;
	}
	if (!json_is_integer(hb) || json_integer_value(hb) < 1 || json_integer_value(hb) > 86400 ||
	    !json_is_integer(pid) || json_integer_value(pid) < 0 || json_integer_value(pid) > INT_MAX ||
	    !json_is_number(st) || !json_is_number(ls)) {
		snprintf(err, errlen, "registry record: bad numeric field");
		goto out;
	}
	h->heartbeat_s = (int)json_integer_value(hb);
	h->pid = (long)json_integer_value(pid);
	h->started = json_number_value(st);
	h->last_seen = json_number_value(ls);
	rc = 0;
out:
	json_decref(o);
	return rc;
}

int cr_registry_online(const struct host_rec *h, double now)
{
	int hb = h->heartbeat_s > 0 ? h->heartbeat_s : 1;
	return strcmp(h->state, "running") == 0 && now - h->last_seen <= REG_ONLINE_INTERVALS * hb;
}

int cr_registry_has_role(const struct host_rec *h, const char *role)
{
	for (int i = 0; i < h->nroles; i++)
		if (strcmp(h->roles[i], role) == 0)
			return 1;
	return 0;
}
