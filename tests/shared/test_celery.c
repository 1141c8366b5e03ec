/* Unit tests for celery.c (the Celery/kombu wire contract, DESIGN §2) and
 * record.c (the per-host result record and exit codes, DESIGN §5).  The
 * reference is a real capture of Celery 5.2.6 / kombu 5.2.4 in WIRE_DIR. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "celery.h"
#include "record.h"
#include "timeutil.h"

#ifndef WIRE_DIR
#error WIRE_DIR must name the directory holding task-message.json
#endif

#define CAPTURE_ID "221d2fcc-146d-432e-9635-8ac05f046af4"
#define CAPTURE_TAG "df174a4e-9b69-4a3f-8d27-4324d2bfd7cd"
/* 2026-11-22T12:24:23.886825+00:00 */
#define CAPTURE_EXPIRES (1795350263.0 + 0.886825)

static char *slurp(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf = malloc(65536);

	snprintf(path, sizeof(path), "%s/%s", WIRE_DIR, name);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_ptr_nonnull(buf);
	*len = fread(buf, 1, 65535, f);
	fclose(f);
	buf[*len] = '\0';
	while (*len > 0 && buf[*len - 1] == '\n')   /* the file's own newline is not the message */
		buf[--*len] = '\0';
	return buf;
}

static json_t *capture_json(void)
{
	size_t len;
	char *s = slurp("task-message.json", &len);
	json_t *j = json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL);

	free(s);
	ck_assert_ptr_nonnull(j);
	return j;
}

/* The n-th line of failure-results.txt that is a JSON record (0-based). */
static char *failure_line(int n)
{
	size_t len;
	char *s = slurp("failure-results.txt", &len), *line, *save = NULL, *out = NULL;

	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (line[0] == '{' && n-- == 0) {
			out = strdup(line);
			break;
		}
	free(s);
	ck_assert_ptr_nonnull(out);
	return out;
}

/* Parses j (dumped) and returns cr_celery_parse's result; err and m are filled. */
static int parse_json(json_t *j, struct celery_msg *m, char *err, size_t errlen)
{
	char *s = json_dumps(j, JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	int rc;

	ck_assert_ptr_nonnull(s);
	err[0] = '\0';
	rc = cr_celery_parse(s, strlen(s), m, err, errlen);
	free(s);
	return rc;
}

static json_t *headers_of(json_t *env)
{
	return json_object_get(env, "headers");
}

static json_t *props_of(json_t *env)
{
	return json_object_get(env, "properties");
}

/* Replaces the body with base64 of the given text. */
static void set_body(json_t *env, const char *text)
{
	char *b = cr_b64_encode((const unsigned char *)text, strlen(text));

	ck_assert_ptr_nonnull(b);
	json_object_set_new(env, "body", json_string(b));
	free(b);
}

/* Expects a refusal that still reports the capture's task id. */
static void expect_refused(json_t *env, const char *why_part, int id_kept)
{
	struct celery_msg m;
	char err[256];

	ck_assert_int_eq(parse_json(env, &m, err, sizeof(err)), -1);
	ck_assert_msg(err[0] != '\0', "no reason given");
	if (why_part)
		ck_assert_msg(strstr(err, why_part) != NULL, "reason '%s' lacks '%s'", err, why_part);
	if (id_kept)
		ck_assert_str_eq(m.id, CAPTURE_ID);
	else
		ck_assert_str_eq(m.id, "");
	ck_assert(m.args == NULL || json_is_array(m.args));
	cr_celery_msg_free(&m);
	ck_assert_ptr_null(m.envelope);
	json_decref(env);
}

START_TEST(parse_capture)
{
	struct celery_msg m;
	char err[256] = "";
	size_t len;
	char *s = slurp("task-message.json", &len);
	json_t *want_args = json_pack("[[s]]", "nginx"), *want_kwargs = json_pack("{s:b}", "check", 0);

	ck_assert_msg(cr_celery_parse(s, len, &m, err, sizeof(err)) == 0, "refused: %s", err);
	ck_assert_str_eq(m.task, "celeryroot.apt.install");
	ck_assert_str_eq(m.id, CAPTURE_ID);
	ck_assert_str_eq(m.root_id, CAPTURE_ID);
	ck_assert_str_eq(m.group, "");
	ck_assert_str_eq(m.delivery_tag, CAPTURE_TAG);
	ck_assert_str_eq(m.exchange, "");
	ck_assert_str_eq(m.routing_key, "host.web01");
	ck_assert_str_eq(m.origin, "gen17688@vm");
	ck_assert_int_eq(m.has_expires, 1);
	ck_assert_double_eq_tol(m.expires, CAPTURE_EXPIRES, 1e-6);
	ck_assert_int_eq(m.has_eta, 0);
	ck_assert_int_eq(m.retries, 0);
	ck_assert_int_eq(m.redelivered, 0);
	ck_assert(json_equal(m.args, want_args));
	ck_assert(json_equal(m.kwargs, want_kwargs));
	ck_assert(json_is_object(m.envelope));
	cr_celery_msg_free(&m);
	ck_assert_ptr_null(m.args);
	ck_assert_str_eq(m.id, "");
	json_decref(want_args);
	json_decref(want_kwargs);
	free(s);
}
END_TEST

static char *build_sample(json_t **args, json_t **kwargs, json_t *extra)
{
	*args = json_pack("[[ss]]", "nginx", "curl");
	*kwargs = json_pack("{s:b, s:i}", "check", 1, "max_age", 3600);
	struct celery_out o = { .task = "celeryroot.apt.install", .id = "11111111-2222-3333-4444-555555555555",
				.group = "job-0001", .queue = "host.web01", .origin = "alice@cli",
				.expires = CAPTURE_EXPIRES, .args = *args, .kwargs = *kwargs,
				.extra_headers = extra };
	return cr_celery_build(&o);
}

START_TEST(build_round_trip)
{
	json_t *args, *kwargs, *extra = json_pack("{s:s}", "x_celeryroot_sig", "abc");
	char *s = build_sample(&args, &kwargs, extra);
	struct celery_msg m;
	char err[256] = "";

	ck_assert_ptr_nonnull(s);
	ck_assert_msg(cr_celery_parse(s, strlen(s), &m, err, sizeof(err)) == 0, "refused own message: %s", err);
	ck_assert_str_eq(m.task, "celeryroot.apt.install");
	ck_assert_str_eq(m.id, "11111111-2222-3333-4444-555555555555");
	ck_assert_str_eq(m.root_id, m.id);
	ck_assert_str_eq(m.group, "job-0001");
	ck_assert_str_eq(m.routing_key, "host.web01");
	ck_assert_str_eq(m.exchange, "");
	ck_assert_str_eq(m.origin, "alice@cli");
	ck_assert(cr_valid_task_id(m.delivery_tag));
	ck_assert_str_ne(m.delivery_tag, m.id);
	ck_assert_int_eq(m.has_expires, 1);
	ck_assert_double_eq_tol(m.expires, CAPTURE_EXPIRES, 1e-6);
	ck_assert_int_eq(m.has_eta, 0);
	ck_assert_int_eq(m.redelivered, 0);
	ck_assert(json_equal(m.args, args));
	ck_assert(json_equal(m.kwargs, kwargs));

	json_t *h = headers_of(m.envelope), *p = props_of(m.envelope);
	ck_assert_str_eq(json_string_value(json_object_get(h, "lang")), "c");
	ck_assert_str_eq(json_string_value(json_object_get(h, "expires")), "2026-11-22T12:24:23.886825+00:00");
	ck_assert_str_eq(json_string_value(json_object_get(h, "argsrepr")), "[[\"nginx\",\"curl\"]]");
	ck_assert_str_eq(json_string_value(json_object_get(h, "x_celeryroot_sig")), "abc");
	ck_assert_str_eq(json_string_value(json_object_get(p, "correlation_id")), m.id);
	ck_assert_int_eq(json_integer_value(json_object_get(p, "delivery_mode")), 2);
	ck_assert(cr_valid_task_id(json_string_value(json_object_get(p, "reply_to"))));
	/* The body's embed is Celery's, byte for byte apart from separators. */
	size_t n;
	const char *b = json_string_value(json_object_get(m.envelope, "body"));
	unsigned char *raw = cr_b64_decode(b, strlen(b), 4096, &n);
	ck_assert_ptr_nonnull(raw);
	ck_assert_str_eq((char *)raw, "[[[\"nginx\",\"curl\"]],{\"check\":true,\"max_age\":3600},"
				      "{\"callbacks\":null,\"errbacks\":null,\"chain\":null,\"chord\":null}]");
	free(raw);
	/* Python-like separators, as Celery writes them. */
	ck_assert_ptr_nonnull(strstr(s, "\"content-encoding\": \"utf-8\", \"content-type\": \"application/json\""));
	ck_assert_ptr_nonnull(strstr(s, "\"timelimit\": [null, null]"));
	cr_celery_msg_free(&m);
	free(s);

	/* Two builds get different delivery tags. */
	json_decref(args);
	json_decref(kwargs);
	char *s1 = build_sample(&args, &kwargs, NULL), *s2;
	json_decref(args);
	json_decref(kwargs);
	s2 = build_sample(&args, &kwargs, NULL);
	json_t *j1 = json_loads(s1, 0, NULL), *j2 = json_loads(s2, 0, NULL);
	ck_assert_str_ne(json_string_value(json_object_get(props_of(j1), "delivery_tag")),
			 json_string_value(json_object_get(props_of(j2), "delivery_tag")));
	ck_assert_ptr_null(json_object_get(headers_of(j1), "x_celeryroot_sig"));
	json_decref(j1);
	json_decref(j2);
	free(s1);
	free(s2);
	json_decref(args);
	json_decref(kwargs);
	json_decref(extra);
}
END_TEST

/* Keys of an object in iteration (insertion) order, joined by commas. */
static void key_order(json_t *o, char *buf, size_t len, const char *skip)
{
	const char *k;
	json_t *v;

	buf[0] = '\0';
	json_object_foreach(o, k, v) {
		(void)v;
		if (skip && strcmp(k, skip) == 0)
			continue;
		strncat(buf, k, len - strlen(buf) - 1);
		strncat(buf, ",", len - strlen(buf) - 1);
	}
}

START_TEST(build_key_order)
{
	json_t *args, *kwargs, *cap = capture_json(), *built;
	char *s = build_sample(&args, &kwargs, NULL);
	char want[1024], got[1024];

	built = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
	ck_assert_ptr_nonnull(built);
	/* Guard the helper itself: the capture's order is what the file says. */
	key_order(headers_of(cap), want, sizeof(want), NULL);
	ck_assert_str_eq(want, "lang,task,id,shadow,eta,expires,group,group_index,retries,timelimit,"
			       "root_id,parent_id,argsrepr,kwargsrepr,origin,ignore_result,");
	key_order(headers_of(built), got, sizeof(got), NULL);
	ck_assert_str_eq(got, want);
	key_order(cap, want, sizeof(want), NULL);
	key_order(built, got, sizeof(got), NULL);
	ck_assert_str_eq(got, want);
	/* kombu adds "expiration" only for the AMQP-style TTL; everything else matches. */
	key_order(props_of(cap), want, sizeof(want), "expiration");
	key_order(props_of(built), got, sizeof(got), NULL);
	ck_assert_str_eq(got, want);
	key_order(json_object_get(props_of(cap), "delivery_info"), want, sizeof(want), NULL);
	key_order(json_object_get(props_of(built), "delivery_info"), got, sizeof(got), NULL);
	ck_assert_str_eq(got, want);
	json_decref(cap);
	json_decref(built);
	json_decref(args);
	json_decref(kwargs);
	free(s);
}
END_TEST

START_TEST(build_refusals)
{
	json_t *args = json_pack("[]"), *kwargs = json_object();
	struct celery_out good = { .task = "celeryroot.ping", .id = "abc", .queue = "role.web",
				   .args = args, .kwargs = kwargs };
	struct celery_out o;
	char *s = cr_celery_build(&good);

	ck_assert_ptr_nonnull(s);   /* the baseline is fine: refusals below are real */
	free(s);
	o = good;
	o.task = "celeryroot.ping;rm";
	ck_assert_ptr_null(cr_celery_build(&o));
	o = good;
	o.id = "a b";
	ck_assert_ptr_null(cr_celery_build(&o));
	o = good;
	o.group = "job\n";
	ck_assert_ptr_null(cr_celery_build(&o));
	o = good;
	o.queue = "host.Web01";
	ck_assert_ptr_null(cr_celery_build(&o));
	o = good;
	o.args = kwargs;
	ck_assert_ptr_null(cr_celery_build(&o));
	o = good;
	o.kwargs = args;
	ck_assert_ptr_null(cr_celery_build(&o));
	json_decref(args);
	json_decref(kwargs);
}
END_TEST

START_TEST(refuse_non_json)
{
	struct celery_msg m;
	char err[256] = "";
	const char *bad[] = { "", "not json", "\x80\x04\x95pickle", "{\"body\": ", "[1, 2, 3]", "\"str\"", "null",
			      "{\"headers\": {}, \"headers\": {}}" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_int_eq(cr_celery_parse(bad[i], strlen(bad[i]), &m, err, sizeof(err)), -1);
		ck_assert_msg(err[0] != '\0', "no reason for #%zu", i);
		ck_assert_str_eq(m.id, "");
		cr_celery_msg_free(&m);
	}
}
END_TEST

START_TEST(refuse_oversized)
{
	size_t len;
	char *cap = slurp("task-message.json", &len);
	size_t big = CELERY_ENVELOPE_MAX + 1;
	char *buf = malloc(big);
	struct celery_msg m;
	char err[256] = "";

	/* A valid message padded with whitespace: only its size is wrong. */
	ck_assert_ptr_nonnull(buf);
	memset(buf, ' ', big);
	memcpy(buf, cap, len);
	ck_assert_int_eq(cr_celery_parse(buf, big - 1, &m, err, sizeof(err)), 0);
	cr_celery_msg_free(&m);
	ck_assert_int_eq(cr_celery_parse(buf, big, &m, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "larger"));
	ck_assert_ptr_null(m.envelope);
	free(buf);
	free(cap);
}
END_TEST

START_TEST(refuse_pickle)
{
	json_t *env = capture_json();

	json_object_set_new(env, "content-type", json_string("application/x-python-serialize"));
	expect_refused(env, "content-type 'application/x-python-serialize' refused: celeryroot accepts JSON only", 1);
	env = capture_json();
	json_object_set_new(env, "content-type", json_string("application/x-yaml"));
	expect_refused(env, "JSON only", 1);
	/* The reason is logged by net: a content-type cannot forge log lines
	 * (found by tests/fuzz/fuzz_celery). */
	env = capture_json();
	json_object_set_new(env, "content-type", json_string("text/x\n12:00 net: forged\xc3\xa9"));
	expect_refused(env, "content-type 'text/x?12:00 net: forged?" "?' refused", 1);
	env = capture_json();
	json_object_del(env, "content-type");
	expect_refused(env, "JSON only", 1);
	env = capture_json();
	json_object_set_new(env, "content-encoding", json_string("binary"));
	expect_refused(env, "utf-8", 1);
	env = capture_json();
	json_object_set_new(props_of(env), "body_encoding", json_string("raw"));
	expect_refused(env, "base64", 1);
}
END_TEST

START_TEST(refuse_body)
{
	json_t *env = capture_json();

	json_object_set_new(env, "body", json_string("W1tbIm5naW54Il1dLCB7!"));
	expect_refused(env, "base64", 1);
	env = capture_json();
	json_object_set_new(env, "body", json_string("\xd0\xb5\xd0\xb5"));   /* non-ASCII posing as base64 */
	expect_refused(env, "base64", 1);
	env = capture_json();
	json_object_set_new(env, "body", json_integer(5));
	expect_refused(env, "body", 1);
	env = capture_json();
	set_body(env, "[[], {}]");
	expect_refused(env, "[args, kwargs, embed]", 1);
	env = capture_json();
	set_body(env, "[[], {}, {}, {}]");
	expect_refused(env, "[args, kwargs, embed]", 1);
	env = capture_json();
	set_body(env, "{\"args\": [], \"kwargs\": {}}");
	expect_refused(env, "[args, kwargs, embed]", 1);
	env = capture_json();
	set_body(env, "[{\"a\": 1}, {}, {}]");   /* args not a list */
	expect_refused(env, "[args, kwargs, embed]", 1);
	env = capture_json();
	set_body(env, "[[], [], {}]");           /* kwargs not an object */
	expect_refused(env, "[args, kwargs, embed]", 1);
	env = capture_json();
	set_body(env, "[[], {}, {}] trailing");
	expect_refused(env, "[args, kwargs, embed]", 1);
	env = capture_json();
	set_body(env, "[[], {\"a\": 1, \"a\": 2}, {}]");
	expect_refused(env, "[args, kwargs, embed]", 1);
}
END_TEST

START_TEST(refuse_ids)
{
	json_t *env = capture_json();

	json_object_del(headers_of(env), "id");
	expect_refused(env, "headers.id", 0);
	static const char *const hostile[] = { "", "x;rm -rf /", "../../etc/passwd", "id\nFAKE LOG",
					       "\xd0\xb5", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		env = capture_json();
		json_object_set_new(headers_of(env), "id", json_string(hostile[i]));
		expect_refused(env, "headers.id", 0);
	}
	env = capture_json();
	json_object_set_new(headers_of(env), "id", json_integer(7));
	expect_refused(env, "headers.id", 0);
	env = capture_json();
	json_object_del(env, "headers");
	expect_refused(env, "headers", 0);
	env = capture_json();
	json_object_del(props_of(env), "delivery_tag");
	expect_refused(env, "delivery_tag", 1);
	env = capture_json();
	json_object_set_new(props_of(env), "delivery_tag", json_string("tag with space"));
	expect_refused(env, "delivery_tag", 1);
	env = capture_json();
	json_object_set_new(headers_of(env), "group", json_string("job;rm"));
	expect_refused(env, "group", 1);
	env = capture_json();
	json_object_set_new(headers_of(env), "root_id", json_integer(3));
	expect_refused(env, "root_id", 1);
}
END_TEST

START_TEST(refuse_headers)
{
	json_t *env = capture_json();
	char longname[200];

	json_object_del(headers_of(env), "task");
	expect_refused(env, "headers.task", 1);
	env = capture_json();
	json_object_set_new(headers_of(env), "task", json_string("celeryroot.apt\ninstall"));
	expect_refused(env, "headers.task", 1);
	env = capture_json();
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	json_object_set_new(headers_of(env), "task", json_string(longname));
	expect_refused(env, "headers.task", 1);
	env = capture_json();
	json_object_set_new(headers_of(env), "expires", json_string("tomorrow"));
	expect_refused(env, "expires", 1);
	env = capture_json();
	json_object_set_new(headers_of(env), "expires", json_integer(3600));
	expect_refused(env, "expires", 1);
	env = capture_json();
	json_object_set_new(headers_of(env), "eta", json_string("2026-02-30T00:00:00"));
	expect_refused(env, "eta", 1);
	env = capture_json();
	json_object_set_new(headers_of(env), "retries", json_string("1"));
	expect_refused(env, "retries", 1);
	env = capture_json();
	json_object_set_new(headers_of(env), "retries", json_integer(-1));
	expect_refused(env, "retries", 1);
	env = capture_json();
	json_object_del(props_of(env), "delivery_info");
	expect_refused(env, "delivery_info", 1);
	env = capture_json();
	json_object_set_new(json_object_get(props_of(env), "delivery_info"), "routing_key", json_integer(1));
	expect_refused(env, "delivery_info", 1);
	env = capture_json();
	json_object_set_new(env, "properties", json_string("x"));
	expect_refused(env, "properties", 1);
}
END_TEST

START_TEST(accept_variants)
{
	/* Unknown task names, an eta, a group, a redelivered flag and a hostile
	 * origin are all parsed here: deciding about them is the caller's job. */
	json_t *env = capture_json();
	struct celery_msg m;
	char err[256] = "";

	json_object_set_new(headers_of(env), "task", json_string("celeryroot.no.such.task"));
	json_object_set_new(headers_of(env), "eta", json_string("2026-11-22T12:00:00Z"));
	json_object_set_new(headers_of(env), "expires", json_null());
	json_object_set_new(headers_of(env), "group", json_string("job-42"));
	json_object_set_new(headers_of(env), "retries", json_integer(2));
	json_object_set_new(headers_of(env), "origin", json_string("evil\nFAKE LOG LINE \xd0\xb5"));
	json_object_del(headers_of(env), "root_id");
	json_object_set_new(json_object_get(props_of(env), "delivery_info"), "redelivered", json_true());
	ck_assert_msg(parse_json(env, &m, err, sizeof(err)) == 0, "refused: %s", err);
	ck_assert_str_eq(m.task, "celeryroot.no.such.task");
	ck_assert_int_eq(m.has_eta, 1);
	ck_assert_double_eq_tol(m.eta, 1795348800.0, 1e-6);
	ck_assert_int_eq(m.has_expires, 0);
	ck_assert_str_eq(m.group, "job-42");
	ck_assert_str_eq(m.root_id, "");
	ck_assert_int_eq(m.retries, 2);
	ck_assert_int_eq(m.redelivered, 1);
	ck_assert_str_eq(m.origin, "evil?FAKE LOG LINE ??");
	cr_celery_msg_free(&m);
	json_decref(env);

	/* A very long origin is truncated, not refused. */
	char longo[1000];
	env = capture_json();
	memset(longo, 'o', sizeof(longo) - 1);
	longo[sizeof(longo) - 1] = '\0';
	json_object_set_new(headers_of(env), "origin", json_string(longo));
	json_object_set_new(headers_of(env), "redelivered", json_true());
	ck_assert_int_eq(parse_json(env, &m, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(m.origin), sizeof(m.origin) - 1);
	ck_assert_int_eq(m.redelivered, 1);
	cr_celery_msg_free(&m);
	json_decref(env);
}
END_TEST

START_TEST(oversize_keeps_id)
{
	/* Over the 1 MiB limit: refused, but the id is read so that the sender
	 * gets a FAILURE; past CELERY_READ_MAX not even that is tried. */
	size_t pad = CELERY_ENVELOPE_MAX + 10;
	char *big = malloc(pad + 200), err[256] = "";
	struct celery_msg m;
	int n = snprintf(big, 200, "{\"body\": \"");

	memset(big + n, 'A', pad);
	snprintf(big + n + pad, 200, "\", \"headers\": {\"id\": \"%s\"}}", CAPTURE_ID);
	ck_assert_int_eq(cr_celery_parse(big, strlen(big), &m, err, sizeof(err)), -1);
	ck_assert_str_eq(m.id, CAPTURE_ID);
	ck_assert_ptr_nonnull(strstr(err, "bytes refused"));
	cr_celery_msg_free(&m);
	free(big);
}
END_TEST

/* Replaces the value of "date_done" in a captured line with ours. */
static char *with_date(const char *line, const char *date)
{
	const char *at = strstr(line, "\"date_done\": \"");
	char *out;

	ck_assert_ptr_nonnull(at);
	at += strlen("\"date_done\": \"");
	if (asprintf(&out, "%.*s%s%s", (int)(at - line), line, date, at + 26) < 0)
		ck_abort();
	return out;
}

static const char *date_of(const char *meta, char *buf, size_t len)
{
	json_t *j = json_loads(meta, 0, NULL);
	const char *d = json_string_value(json_object_get(j, "date_done"));

	snprintf(buf, len, "%s", d ? d : "");
	json_decref(j);
	return buf;
}

START_TEST(result_meta_failure)
{
	char *cap = failure_line(1), *want, date[64];
	double before = cr_now_wall(), t;
	char *got = cr_celery_result_meta("FAILURE",
				       cr_celery_exception("NotRegistered", "celery.exceptions", "celeryroot.no.such.task"),
				       NULL, "6c2ac3b8-8757-4c9c-9bbf-83abd8089478");

	ck_assert_ptr_nonnull(got);
	date_of(got, date, sizeof(date));
	ck_assert_uint_eq(strlen(date), 26);
	ck_assert_int_eq(cr_iso8601_parse(date, &t), 0);
	ck_assert(t >= before - 1 && t <= cr_now_wall() + 1);
	/* Byte for byte what Celery stored, apart from the time. */
	want = with_date(cap, date);
	ck_assert_str_eq(got, want);
	free(want);
	free(got);
	free(cap);

	cap = failure_line(0);
	got = cr_celery_result_meta("FAILURE",
				 cr_celery_exception("ValueError", "builtins", "package name 'Bad;rm' is not valid"),
				 "Traceback (most recent call last):\n ... ValueError: package name 'Bad;rm' is not valid\n",
				 "75394889-8961-44db-9753-8b542add9409");
	ck_assert_ptr_nonnull(got);
	want = with_date(cap, date_of(got, date, sizeof(date)));
	ck_assert_str_eq(got, want);
	free(want);
	free(got);
	free(cap);
}
END_TEST

START_TEST(result_meta_states)
{
	char *s = cr_celery_result_meta("PROGRESS", json_pack("{s:i}", "percent", 40), NULL, CAPTURE_ID);
	json_t *j;
	char keys[256];

	ck_assert_ptr_nonnull(s);
	j = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
	key_order(j, keys, sizeof(keys), NULL);
	ck_assert_str_eq(keys, "status,result,traceback,children,date_done,task_id,");
	ck_assert(json_is_null(json_object_get(j, "date_done")));
	ck_assert(json_is_null(json_object_get(j, "traceback")));
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "result"), "percent")), 40);
	ck_assert_str_eq(json_string_value(json_object_get(j, "task_id")), CAPTURE_ID);
	json_decref(j);
	free(s);

	s = cr_celery_result_meta("STARTED", NULL, NULL, CAPTURE_ID);
	ck_assert_ptr_nonnull(strstr(s, "\"result\": null"));
	ck_assert_ptr_nonnull(strstr(s, "\"date_done\": null"));
	free(s);

	json_t *rec = cr_record_new("web01", "unchanged");
	s = cr_celery_result_meta("SUCCESS", rec, NULL, CAPTURE_ID);
	j = json_loads(s, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "SUCCESS");
	ck_assert(json_is_string(json_object_get(j, "date_done")));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "result"), "host")), "web01");
	ck_assert_ptr_nonnull(strstr(s, "\"children\": [], \"date_done\": \""));
	json_decref(j);
	free(s);

	s = cr_celery_result_meta("REVOKED", NULL, NULL, CAPTURE_ID);
	ck_assert_ptr_null(strstr(s, "\"date_done\": null"));
	free(s);
	ck_assert_ptr_null(cr_celery_result_meta(NULL, json_object(), NULL, CAPTURE_ID));
	ck_assert_ptr_null(cr_celery_result_meta("SUCCESS", json_object(), NULL, NULL));
}
END_TEST

START_TEST(exception_shape)
{
	json_t *e = cr_celery_exception("ValueError", "builtins", "bad \xff name");
	char *s;

	/* Invalid UTF-8 in a message still yields a well-formed exception. */
	ck_assert_ptr_nonnull(e);
	s = json_dumps(e, JSON_PRESERVE_ORDER | JSON_COMPACT);
	ck_assert_str_eq(s, "{\"exc_type\":\"ValueError\",\"exc_message\":[\"(message is not valid UTF-8)\"],"
			    "\"exc_module\":\"builtins\"}");
	free(s);
	json_decref(e);
}
END_TEST

START_TEST(priority_suffixes)
{
	ck_assert_str_eq(cr_celery_priority_suffix[0], "");
	ck_assert_uint_eq(strlen(cr_celery_priority_suffix[1]), 3);
	ck_assert(memcmp(cr_celery_priority_suffix[1], "\x06\x16\x33", 3) == 0);
	ck_assert(memcmp(cr_celery_priority_suffix[2], "\x06\x16\x36", 3) == 0);
	ck_assert(memcmp(cr_celery_priority_suffix[3], "\x06\x16\x39", 4) == 0);
}
END_TEST

START_TEST(record_shape)
{
	json_t *r = cr_record_new("web01", "changed"), *list;
	char *s;

	ck_assert_ptr_nonnull(r);
	s = json_dumps(r, JSON_PRESERVE_ORDER);
	ck_assert_str_eq(s, "{\"host\": \"web01\", \"status\": \"changed\", \"changed\": false, \"changes\": {}, "
			    "\"error\": null, \"rollback\": null, \"duration_s\": 0.0}");
	free(s);
	cr_record_set_error(r, "dpkg lock held by apt-get (pid 42)");
	ck_assert_str_eq(json_string_value(json_object_get(r, "error")), "dpkg lock held by apt-get (pid 42)");
	cr_record_set_error(r, NULL);
	ck_assert(json_is_null(json_object_get(r, "error")));
	json_decref(r);

	static const char *const good[] = { "changed", "unchanged", "failed", "timeout",
					    "queued", "deferred", "expired", "skipped" };
	for (size_t i = 0; i < 8; i++)
		ck_assert(cr_record_status_valid(good[i]));
	ck_assert(!cr_record_status_valid(NULL));
	ck_assert(!cr_record_status_valid(""));
	ck_assert(!cr_record_status_valid("ok"));
	ck_assert(!cr_record_status_valid("Changed"));
	ck_assert(!cr_record_status_valid("changed "));

	list = json_array();
	ck_assert_int_eq(cr_record_exit_code(list), EXIT_OK);
	json_array_append_new(list, cr_record_new("a", "changed"));
	json_array_append_new(list, cr_record_new("b", "skipped"));
	ck_assert_int_eq(cr_record_exit_code(list), EXIT_OK);
	json_array_append_new(list, cr_record_new("c", "expired"));
	ck_assert_int_eq(cr_record_exit_code(list), EXIT_PENDING);
	json_array_append_new(list, cr_record_new("d", "failed"));
	ck_assert_int_eq(cr_record_exit_code(list), EXIT_FAILED);
	json_decref(list);
	static const char *const pending[] = { "timeout", "queued", "deferred", "expired" };
	for (size_t i = 0; i < 4; i++) {
		list = json_array();
		json_array_append_new(list, cr_record_new("a", "unchanged"));
		json_array_append_new(list, cr_record_new("b", pending[i]));
		ck_assert_int_eq(cr_record_exit_code(list), EXIT_PENDING);
		json_decref(list);
	}
}
END_TEST

static Suite *celery_suite(void)
{
	Suite *s = suite_create("celery");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, parse_capture);
	tcase_add_test(tc, build_round_trip);
	tcase_add_test(tc, build_key_order);
	tcase_add_test(tc, build_refusals);
	tcase_add_test(tc, refuse_non_json);
	tcase_add_test(tc, refuse_oversized);
	tcase_add_test(tc, refuse_pickle);
	tcase_add_test(tc, refuse_body);
	tcase_add_test(tc, refuse_ids);
	tcase_add_test(tc, refuse_headers);
	tcase_add_test(tc, accept_variants);
	tcase_add_test(tc, oversize_keeps_id);
	tcase_add_test(tc, result_meta_failure);
	tcase_add_test(tc, result_meta_states);
	tcase_add_test(tc, exception_shape);
	tcase_add_test(tc, priority_suffixes);
	tcase_add_test(tc, record_shape);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(celery_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
