/* The fixed privsep schema.  Each message type lists exactly the keys it
 * carries and their kinds; decoding refuses anything else. */
#include "config.h"
#include "proto.h"
#include "crerr.h"
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_ID, K_TASKID, K_JOBID, K_PERCENT, K_STR127, K_STR255, K_ERR, K_OBJECT,
	    K_APTOP, K_PKGS, K_BOOL, K_AGE, K_SIG, K_NAMES };

/* The longest --max-age anyone means: ten years. */
#define MAX_AGE_LIMIT (10.0 * 365 * 86400)

struct field {
	const char *key;
	enum kind kind;
	int optional;     /* may be missing (a signature, an audit line) */
};

struct schema {
	uint8_t type;
	const char *name;
	const struct field *fields;
	size_t nfields;
};

static const struct field f_hello[] = { { "id", K_ID, 0 } };
static const struct field f_task[] = { { "id", K_ID, 0 }, { "job", K_JOBID, 0 }, { "task", K_TASKID, 0 },
				       { "sig", K_SIG, 1 } };
static const struct field f_apt[] = { { "id", K_ID, 0 }, { "job", K_JOBID, 0 }, { "task", K_TASKID, 0 },
				      { "op", K_APTOP, 0 }, { "pkgs", K_PKGS, 0 }, { "upgradable", K_BOOL, 0 },
				      { "security", K_BOOL, 0 }, { "check", K_BOOL, 0 }, { "purge", K_BOOL, 0 },
				      { "now", K_BOOL, 0 },
				      { "max_age", K_AGE, 0 }, { "allow_downgrade", K_BOOL, 1 }, { "sig", K_SIG, 1 },
				      { "full", K_BOOL, 1 }, { "exclude", K_NAMES, 1 },
				      { "allow_essential", K_BOOL, 1 }, { "allow_removals", K_BOOL, 1 },
				      { "conffile_new", K_BOOL, 1 } };
static const struct field f_progress[] = { { "id", K_ID, 0 }, { "percent", K_PERCENT, 0 },
					   { "pkg", K_STR127, 0 }, { "text", K_STR255, 0 } };
static const struct field f_reply[] = { { "id", K_ID, 0 }, { "data", K_OBJECT, 0 } };
static const struct field f_refused[] = { { "id", K_ID, 0 }, { "error", K_ERR, 0 }, { "audit", K_OBJECT, 1 } };
static const struct field f_audit[] = { { "id", K_ID, 0 }, { "audit", K_OBJECT, 0 } };

#define N(a) (sizeof(a) / sizeof((a)[0]))
static const struct schema schemas[] = {
	{ REQ_HELLO, "HELLO", f_hello, N(f_hello) },
	{ REQ_PING, "PING", f_task, N(f_task) },
	{ REQ_FACTS, "FACTS", f_task, N(f_task) },
	{ REQ_APT, "APT", f_apt, N(f_apt) },
	{ ANS_PROGRESS, "PROGRESS", f_progress, N(f_progress) },
	{ ANS_REPLY, "REPLY", f_reply, N(f_reply) },
	{ ANS_REFUSED, "REFUSED", f_refused, N(f_refused) },
	{ ANS_AUDIT, "AUDIT", f_audit, N(f_audit) },
};

static const struct schema *schema_for(uint8_t type)
{
	for (size_t i = 0; i < N(schemas); i++)
		if (schemas[i].type == type)
			return &schemas[i];
	return NULL;
}

const char *cr_proto_type_name(uint8_t type)
{
	const struct schema *s = schema_for(type);
	return s ? s->name : "UNKNOWN";
}

/* The APT operations of the operation table; anything else is refused. */
static int is_apt_op(const char *s)
{
	return cr_op_by_req(REQ_APT, s) != NULL;
}

/* Every package spec is re-validated here, in priv's decoder. */
static int check_pkgs(json_t *v)
{
	struct pkgspec p;
	char err[CR_ERR_MAX];
	size_t i;
	json_t *e;

	if (!json_is_array(v) || json_array_size(v) > PKG_SPECS_MAX)
		return 0;
	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e);
		if (s == NULL || strlen(s) != json_string_length(e) || cr_pkgspec_parse(s, &p, err, sizeof(err)) < 0)
			return 0;
	}
	return 1;
}

/* One name of an exclude list: a package spec without a version. */
static int exclude_name(const json_t *e, char *out, size_t len)
{
	const char *s = json_string_value(e);
	struct pkgspec p;
	char err[CR_ERR_MAX];

	if (s == NULL || strlen(s) != json_string_length(e) || cr_pkgspec_parse(s, &p, err, sizeof(err)) < 0 ||
	    p.version[0] != '\0')
		return -1;
	return snprintf(out, len, "%s%s%s", p.name, p.arch[0] ? ":" : "", p.arch) < (int)len ? 0 : -1;
}

int cr_proto_exclude_parse(const json_t *v, struct proto_req *r)
{
	char names[CR_EXCLUDE_MAX][CR_EXCLUDE_NAME_MAX + 1] = { { 0 } };   /* no stack bytes copied into r */
	size_t n = json_array_size(v);

	if (!json_is_array(v) || n == 0 || n > CR_EXCLUDE_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (exclude_name(json_array_get(v, i), names[i], sizeof(names[i])) < 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(names[i], names[j]))
				return -1;   /* a duplicate says the list was not built by us */
	}
	if (r != NULL) {
		memcpy(r->exclude, names, sizeof(names[0]) * n);
		r->nexclude = n;
	}
	return 0;
}

/* The claims of a signed task, each field of its kind and bounds. */
static int check_sig(json_t *v)
{
	struct sig_claims c;
	char err[CR_ERR_MAX];
	int ok = cr_sig_claims_from_json(v, &c, err, sizeof(err)) == 0;

	cr_sig_claims_free(&c);
	return ok;
}

static int check_kind(json_t *v, enum kind k)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);

	switch (k) {
	case K_ID:
		return json_is_integer(v) && json_integer_value(v) >= 0 &&
		       json_integer_value(v) <= (json_int_t)UINT32_MAX;
	case K_PERCENT:
		return json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 100;
	case K_TASKID:
		return s != NULL && strlen(s) == len && cr_valid_task_id(s);
	case K_JOBID:
		return s != NULL && strlen(s) == len && (len == 0 || cr_valid_task_id(s));
	case K_STR127:
		return s != NULL && len <= 127 && strlen(s) == len;
	case K_STR255:
		return s != NULL && len <= 255 && strlen(s) == len;
	case K_ERR:
		return s != NULL && len < PROTO_ERR_MAX && strlen(s) == len;
	case K_OBJECT:
		return json_is_object(v);
	case K_APTOP:
		return s != NULL && strlen(s) == len && is_apt_op(s);
	case K_PKGS:
		return check_pkgs(v);
	case K_BOOL:
		return json_is_boolean(v);
	case K_AGE:
		return json_is_number(v) && json_number_value(v) >= -1 && json_number_value(v) <= MAX_AGE_LIMIT;
	case K_SIG:
		return check_sig(v);
	case K_NAMES:
		return cr_proto_exclude_parse(v, NULL) == 0;
	}
	return 0;
}

static int field_known(const struct schema *sc, const char *key)
{
	for (size_t i = 0; i < sc->nfields; i++)
		if (strcmp(sc->fields[i].key, key) == 0)
			return 1;
	return 0;
}

/* Exactly the schema's keys, each of the right kind: unknown keys are refused
 * first so that a hostile peer learns nothing from which check failed. */
static int check_schema(const struct schema *sc, json_t *o, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v) {
		if (!field_known(sc, key)) {
			snprintf(err, errlen, "%s has an unexpected field '%.64s'", sc->name, key);
			return -1;
		}
	}
	for (size_t i = 0; i < sc->nfields; i++) {
		v = json_object_get(o, sc->fields[i].key);
		if (v == NULL && sc->fields[i].optional)
			continue;
		if (v == NULL || !check_kind(v, sc->fields[i].kind)) {
			snprintf(err, errlen, "%s field '%s' is %s", sc->name, sc->fields[i].key,
				 v ? "invalid" : "missing");
			return -1;
		}
	}
	return 0;
}

/* A reason quotes what the peer sent (an unknown key, jansson's "near
 * '...'", either of them cut anywhere): only printable ASCII is kept, so
 * that the log line, the audit record and the REFUSED answer that carry it
 * can always be written (invalid UTF-8 would make the last two fail). */
static void printable_reason(char *err)
{
	for (; *err; err++)
		if ((unsigned char)*err < 0x20 || (unsigned char)*err > 0x7e)
			*err = '?';
}

/* Parses and checks the payload against the type's schema; sets *id early. */
static json_t *decode(uint8_t type, const uint8_t *payload, size_t len, uint32_t *id, char *err,
		      size_t errlen)
{
	const struct schema *sc = schema_for(type);
	json_error_t je;
	json_t *o, *v;

	if (sc == NULL) {
		snprintf(err, errlen, "unknown message type %u", type);
		return NULL;
	}
	o = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(o)) {
		snprintf(err, errlen, "%s payload is not a JSON object%s%s", sc->name, o ? "" : ": ",
			 o ? "" : je.text);
		printable_reason(err);
		json_decref(o);
		return NULL;
	}
	v = json_object_get(o, "id");
	if (check_kind(v, K_ID))
		*id = (uint32_t)json_integer_value(v);
	if (check_schema(sc, o, err, errlen) < 0) {
		printable_reason(err);
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Dumps o if it passes the same schema the peer will apply: we never send
 * what we would refuse to receive. */
static char *encode(uint8_t type, json_t *o, size_t *len)
{
	char err[PROTO_ERR_MAX];
	char *s = NULL;

	if (o != NULL && check_schema(schema_for(type), o, err, sizeof(err)) == 0)
		s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s)
		*len = strlen(s);
	return s;
}

static json_t *apt_encode(const struct proto_req *r)
{
	json_t *pkgs = json_array();

	for (size_t i = 0; i < r->npkgs && i < PKG_SPECS_MAX; i++) {
		char spec[PKG_SPEC_MAX + 1];
		cr_pkgspec_format(&r->pkgs[i], spec, sizeof(spec));
		json_array_append_new(pkgs, json_string(spec));
	}
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:o, s:b, s:b, s:b, s:b, s:b, s:f}", "id", (json_int_t)r->id, "job",
			      r->job, "task", r->task, "op", r->op, "pkgs", pkgs, "upgradable", r->upgradable, "security",
			      r->security, "check", r->check, "purge", r->purge, "now", r->now, "max_age", r->max_age);

	/* Optional: only a request that allows a downgrade says so. */
	if (o && r->allow_downgrade)
		json_object_set_new(o, "allow_downgrade", json_true());
	/* Optional too: an upgrade's --full and --exclude. */
	if (o && r->full)
		json_object_set_new(o, "full", json_true());
	if (o && r->nexclude > 0) {
		json_t *ex = json_array();
		for (size_t i = 0; i < r->nexclude && i < CR_EXCLUDE_MAX; i++)
			json_array_append_new(ex, json_string(r->exclude[i]));
		json_object_set_new(o, "exclude", ex);
	}
	/* The guards' flags likewise (issue 15). */
	if (o && r->allow_essential)
		json_object_set_new(o, "allow_essential", json_true());
	if (o && r->allow_removals)
		json_object_set_new(o, "allow_removals", json_true());
	/* Likewise: only a request that takes the new conffiles says so. */
	if (o && r->conffile_new)
		json_object_set_new(o, "conffile_new", json_true());
	return o;
}

/* How many packages the operation names, and whether it may downgrade:
 * its row of the operation table says. */
static int apt_semantics(const struct proto_req *r, char *err, size_t errlen)
{
	const struct cr_op *op = cr_op_by_req(REQ_APT, r->op);
	char why[CR_ERR_MAX];

	if (op == NULL)   /* the decoder checked it; kept for the reader */
		return snprintf(err, errlen, "APT %s is no operation", r->op), -1;
	if (cr_op_pkgs_fit(op, r->npkgs, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "APT %s %s", r->op, why);
		return -1;
	}
	if (r->allow_downgrade && !(op->kwargs & CR_KW_ALLOW_DOWNGRADE)) {
		snprintf(err, errlen, "APT %s does not take allow_downgrade", r->op);
		return -1;
	}
	if ((r->full && !(op->kwargs & CR_KW_FULL)) || (r->nexclude && !(op->kwargs & CR_KW_EXCLUDE))) {
		snprintf(err, errlen, "APT %s does not take full or exclude", r->op);
		return -1;
	}
	if ((r->allow_essential && !(op->kwargs & CR_KW_ALLOW_ESSENTIAL)) ||
	    (r->allow_removals && !(op->kwargs & CR_KW_ALLOW_REMOVALS))) {
		snprintf(err, errlen, "APT %s does not take %s", r->op,
			 r->allow_removals && !(op->kwargs & CR_KW_ALLOW_REMOVALS) ? "allow_removals" : "allow_essential");
		return -1;
	}
	if (r->conffile_new && !(op->kwargs & CR_KW_CONFFILE_NEW)) {
		snprintf(err, errlen, "APT %s does not take conffile_new", r->op);
		return -1;
	}
	return 0;
}

void cr_proto_apt_flags(struct proto_req *r, const json_t *o)
{
	r->upgradable = json_is_true(json_object_get(o, "upgradable"));
	r->security = json_is_true(json_object_get(o, "security"));
	r->check = json_is_true(json_object_get(o, "check"));
	r->purge = json_is_true(json_object_get(o, "purge"));
	r->now = json_is_true(json_object_get(o, "now"));
	r->allow_downgrade = json_is_true(json_object_get(o, "allow_downgrade"));
	r->full = json_is_true(json_object_get(o, "full"));
	r->allow_essential = json_is_true(json_object_get(o, "allow_essential"));
	r->allow_removals = json_is_true(json_object_get(o, "allow_removals"));
	r->conffile_new = json_is_true(json_object_get(o, "conffile_new"));
}

static void apt_decode(json_t *o, struct proto_req *r)
{
	char err[CR_ERR_MAX];
	size_t i;
	json_t *e;

	cr_copy_str(r->op, sizeof(r->op), json_string_value(json_object_get(o, "op")));
	/* check_pkgs() has validated every entry; the bound is kept anyway. */
	json_array_foreach(json_object_get(o, "pkgs"), i, e)
		if (r->npkgs < PKG_SPECS_MAX && cr_pkgspec_parse(json_string_value(e), &r->pkgs[r->npkgs], err, sizeof(err)) == 0)
			r->npkgs++;
	cr_proto_apt_flags(r, o);
	r->max_age = json_number_value(json_object_get(o, "max_age"));
	/* check_kind() has validated it; absent is an empty list. */
	if (json_object_get(o, "exclude") != NULL)
		cr_proto_exclude_parse(json_object_get(o, "exclude"), r);
}

char *cr_proto_req_encode(const struct proto_req *r, size_t *len)
{
	json_t *o;

	if (schema_for(r->type) == NULL || (r->type & 1))
		return NULL;
	if (r->type == REQ_HELLO)
		o = json_pack("{s:I}", "id", (json_int_t)r->id);
	else if (r->type == REQ_APT)
		o = apt_encode(r);
	else
		o = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)r->id, "job", r->job, "task", r->task);
	if (o && r->type != REQ_HELLO && r->sig)
		json_object_set(o, "sig", r->sig);
	return encode(r->type, o, len);
}

int cr_proto_req_decode(uint8_t type, const uint8_t *payload, size_t len, struct proto_req *r,
		     char *err, size_t errlen)
{
	json_t *o;

	memset(r, 0, sizeof(*r));
	if (type & 1) {
		snprintf(err, errlen, "answer type %u (%s) sent as a request", type, cr_proto_type_name(type));
		return -1;
	}
	o = decode(type, payload, len, &r->id, err, errlen);
	if (o == NULL)
		return -1;
	r->type = type;
	if (type != REQ_HELLO) {
		cr_copy_str(r->job, sizeof(r->job), json_string_value(json_object_get(o, "job")));
		cr_copy_str(r->task, sizeof(r->task), json_string_value(json_object_get(o, "task")));
	}
	if (type == REQ_APT)
		apt_decode(o, r);
	if (type != REQ_HELLO && json_object_get(o, "sig"))
		r->sig = json_incref(json_object_get(o, "sig"));
	json_decref(o);
	if (type == REQ_APT && apt_semantics(r, err, errlen) < 0) {
		cr_proto_req_clear(r);
		return -1;
	}
	return 0;
}

void cr_proto_req_clear(struct proto_req *r)
{
	json_decref(r->sig);
	r->sig = NULL;
}

char *cr_proto_ans_encode(const struct proto_ans *a, size_t *len)
{
	json_t *o = NULL;

	if (a->type == ANS_PROGRESS)
		o = json_pack("{s:I, s:i, s:s, s:s}", "id", (json_int_t)a->id, "percent", a->percent,
			      "pkg", a->pkg, "text", a->text);
	else if (a->type == ANS_REPLY && json_is_object(a->data))
		o = json_pack("{s:I, s:O}", "id", (json_int_t)a->id, "data", a->data);
	else if (a->type == ANS_REFUSED)
		o = json_pack("{s:I, s:s}", "id", (json_int_t)a->id, "error", a->text);
	else if (a->type == ANS_AUDIT && json_is_object(a->audit))
		o = json_pack("{s:I, s:O}", "id", (json_int_t)a->id, "audit", a->audit);
	if (o && a->type == ANS_REFUSED && json_is_object(a->audit))
		json_object_set(o, "audit", a->audit);
	return encode(a->type, o, len);
}

int cr_proto_ans_decode(uint8_t type, const uint8_t *payload, size_t len, struct proto_ans *a,
		     char *err, size_t errlen)
{
	json_t *o;

	memset(a, 0, sizeof(*a));
	if (!(type & 1)) {
		snprintf(err, errlen, "request type %u sent as an answer", type);
		return -1;
	}
	o = decode(type, payload, len, &a->id, err, errlen);
	if (o == NULL)
		return -1;
	a->type = type;
	if (type == ANS_PROGRESS) {
		a->percent = (int)json_integer_value(json_object_get(o, "percent"));
		cr_copy_str(a->pkg, sizeof(a->pkg), json_string_value(json_object_get(o, "pkg")));
		cr_copy_str(a->text, sizeof(a->text), json_string_value(json_object_get(o, "text")));
	} else if (type == ANS_REPLY) {
		a->data = json_incref(json_object_get(o, "data"));
	} else if (type == ANS_REFUSED) {
		snprintf(a->text, sizeof(a->text), "%s", json_string_value(json_object_get(o, "error")));
	}
	if (type == ANS_REFUSED || type == ANS_AUDIT)
		a->audit = json_incref(json_object_get(o, "audit"));
	json_decref(o);
	return 0;
}

void cr_proto_ans_free(struct proto_ans *a)
{
	json_decref(a->data);
	json_decref(a->audit);
	a->data = a->audit = NULL;
}
