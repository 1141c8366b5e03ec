/* Unit tests for proto.c: the fixed net→priv schema (DESIGN §4).  priv
 * decodes with these functions, so every refusal here is a line of defence
 * against a compromised net. */
#include "config.h"

#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "taskreq.h"

#define JOB "0f8fad5b-d9cb-469f-a165-70867728950e"
#define TASK "7c9e6679-7425-40de-944b-e07fc1f90ae7"
/* An even (request-shaped) type no schema will ever use. */
#define UNUSED_REQ 200

static int req(uint8_t type, const char *json, struct proto_req *r, char *err, size_t errlen)
{
	err[0] = '\0';
	return cr_proto_req_decode(type, (const uint8_t *)json, strlen(json), r, err, errlen);
}

static void refused(uint8_t type, const char *json, const char *why_part)
{
	struct proto_req r;
	char err[PROTO_ERR_MAX];

	ck_assert_msg(req(type, json, &r, err, sizeof(err)) == -1, "accepted %s", json);
	ck_assert_msg(err[0] != '\0', "no reason for %s", json);
	if (why_part)
		ck_assert_msg(strstr(err, why_part) != NULL, "reason '%s' lacks '%s'", err, why_part);
}

START_TEST(req_round_trip)
{
	static const uint8_t types[] = { REQ_HELLO, REQ_PING, REQ_FACTS };
	char err[PROTO_ERR_MAX];

	for (size_t i = 0; i < sizeof(types); i++) {
		struct proto_req in = { .type = types[i], .id = 4000000000u }, out;
		size_t len = 0;
		char *s;

		strcpy(in.job, i == 1 ? "" : JOB);   /* a task may come without a job */
		strcpy(in.task, TASK);
		s = cr_proto_req_encode(&in, &len);
		ck_assert_ptr_nonnull(s);
		ck_assert_uint_eq(len, strlen(s));
		ck_assert_msg(cr_proto_req_decode(types[i], (uint8_t *)s, len, &out, err, sizeof(err)) == 0,
			      "refused own %s: %s", s, err);
		ck_assert_uint_eq(out.type, types[i]);
		ck_assert_uint_eq(out.id, 4000000000u);
		if (types[i] == REQ_HELLO) {
			ck_assert_str_eq(s, "{\"id\":4000000000}");
			ck_assert_str_eq(out.task, "");
		} else {
			ck_assert_str_eq(out.job, in.job);
			ck_assert_str_eq(out.task, TASK);
		}
		free(s);
	}
	ck_assert_str_eq(cr_proto_type_name(REQ_FACTS), "FACTS");
	ck_assert_str_eq(cr_proto_type_name(99), "UNKNOWN");
}
END_TEST

START_TEST(req_encode_refusals)
{
	struct proto_req r = { .type = REQ_PING, .id = 1 };
	size_t len;

	strcpy(r.task, "bad id;rm");
	ck_assert_ptr_null(cr_proto_req_encode(&r, &len));
	strcpy(r.task, "");
	ck_assert_ptr_null(cr_proto_req_encode(&r, &len));
	strcpy(r.task, TASK);
	r.type = ANS_REPLY;
	ck_assert_ptr_null(cr_proto_req_encode(&r, &len));
	r.type = UNUSED_REQ;
	ck_assert_ptr_null(cr_proto_req_encode(&r, &len));
}
END_TEST

START_TEST(req_refused_types)
{
	refused(UNUSED_REQ, "{\"id\":1}", "unknown message type");
	refused(0, "{\"id\":1}", "unknown message type");
	refused(254, "{\"id\":1}", "unknown message type");
	/* An answer can never pass for a request. */
	refused(ANS_REPLY, "{\"id\":1,\"data\":{}}", "answer type");
	refused(ANS_PROGRESS, "{\"id\":1,\"percent\":1,\"pkg\":\"\",\"text\":\"\"}", "answer type");
	refused(255, "{\"id\":1}", NULL);
}
END_TEST

START_TEST(req_refused_shapes)
{
	refused(REQ_HELLO, "", "not a JSON object");
	refused(REQ_HELLO, "{\"id\":1", "not a JSON object");
	refused(REQ_HELLO, "[1]", "not a JSON object");
	refused(REQ_HELLO, "1", "not a JSON object");
	refused(REQ_HELLO, "null", "not a JSON object");
	refused(REQ_HELLO, "{\"id\":1} {\"id\":2}", NULL);   /* trailing garbage */
	refused(REQ_HELLO, "{\"id\":1}x", NULL);
	refused(REQ_HELLO, "{\"id\":1,\"id\":2}", NULL);     /* duplicate keys */
	refused(REQ_HELLO, "{\"id\":1,\"job\":\"\"}", "unexpected field 'job'");
	refused(REQ_HELLO, "{}", "'id' is missing");
	refused(REQ_PING, "{\"id\":1,\"job\":\"\",\"task\":\"" TASK "\",\"cmd\":\"rm -rf /\"}",
		"unexpected field 'cmd'");
	refused(REQ_PING, "{\"id\":1,\"job\":\"\"}", "'task' is missing");
	refused(REQ_FACTS, "{\"id\":1,\"task\":\"" TASK "\"}", "'job' is missing");
}
END_TEST

START_TEST(req_refused_values)
{
	static const char *const ids[] = { "\"1\"", "-1", "4294967296", "1.0", "1e3", "true", "null",
					   "99999999999999999999" };
	char buf[256];

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		snprintf(buf, sizeof(buf), "{\"id\":%s}", ids[i]);
		refused(REQ_HELLO, buf, NULL);
	}
	refused(REQ_PING, "{\"id\":1,\"job\":5,\"task\":\"" TASK "\"}", "'job' is invalid");
	refused(REQ_PING, "{\"id\":1,\"job\":null,\"task\":\"" TASK "\"}", "'job' is invalid");
	refused(REQ_PING, "{\"id\":1,\"job\":\"\",\"task\":\"\"}", "'task' is invalid");
	refused(REQ_PING, "{\"id\":1,\"job\":\"\",\"task\":\"../../etc\"}", "'task' is invalid");
	refused(REQ_PING, "{\"id\":1,\"job\":\"\",\"task\":\"a b\"}", "'task' is invalid");
	refused(REQ_PING, "{\"id\":1,\"job\":\"\",\"task\":\"a\\u0000b\"}", NULL);
	refused(REQ_PING, "{\"id\":1,\"job\":\"x\\ny\",\"task\":\"" TASK "\"}", "'job' is invalid");
	refused(REQ_PING, "{\"id\":1,\"job\":\"\",\"task\":[\"" TASK "\"]}", "'task' is invalid");
	/* 65 characters: one over TASK_ID_MAX. */
	refused(REQ_FACTS, "{\"id\":1,\"job\":\"\",\"task\":\"" TASK TASK "x\"}", "'task' is invalid");
}
END_TEST

/* The request id is read before the checks that fail, so priv can address
 * its refusal to the right request. */
START_TEST(req_id_kept_on_refusal)
{
	struct proto_req r;
	char err[PROTO_ERR_MAX];

	ck_assert_int_eq(req(REQ_PING, "{\"id\":77,\"job\":\"\",\"task\":\"bad task\"}", &r, err,
			     sizeof(err)), -1);
	ck_assert_uint_eq(r.id, 77);
	ck_assert_int_eq(req(REQ_PING, "{\"id\":78,\"evil\":1}", &r, err, sizeof(err)), -1);
	ck_assert_uint_eq(r.id, 78);
	ck_assert_int_eq(req(REQ_PING, "{\"id\":-5}", &r, err, sizeof(err)), -1);
	ck_assert_uint_eq(r.id, 0);
}
END_TEST


#define APT_OK "{\"id\":3,\"job\":\"" JOB "\",\"task\":\"" TASK "\",\"op\":\"install\",\"pkgs\":[%s]," \
	       "\"upgradable\":false,\"security\":false,\"check\":%s,\"purge\":false,\"now\":false,\"max_age\":%s}"

START_TEST(apt_round_trip)
{
	struct proto_req in = { .type = REQ_APT, .id = 12, .npkgs = 2, .check = 1, .purge = 1, .max_age = 3600 }, out;
	char err[PROTO_ERR_MAX];
	size_t len = 0;
	char *s;

	strcpy(in.job, JOB);
	strcpy(in.task, TASK);
	strcpy(in.op, "remove");
	strcpy(in.pkgs[0].name, "nginx");
	strcpy(in.pkgs[1].name, "libssl3");
	strcpy(in.pkgs[1].arch, "amd64");
	strcpy(in.pkgs[1].version, "3.0.11-1~deb12u2");
	s = cr_proto_req_encode(&in, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(cr_proto_req_decode(REQ_APT, (uint8_t *)s, len, &out, err, sizeof(err)) == 0, "%s: %s", s, err);
	ck_assert_str_eq(out.op, "remove");
	ck_assert_uint_eq(out.npkgs, 2);
	ck_assert_str_eq(out.pkgs[1].name, "libssl3");
	ck_assert_str_eq(out.pkgs[1].arch, "amd64");
	ck_assert_str_eq(out.pkgs[1].version, "3.0.11-1~deb12u2");
	ck_assert_int_eq(out.check, 1);
	ck_assert_int_eq(out.purge, 1);
	ck_assert(out.max_age == 3600);
	free(s);
}
END_TEST

static void apt_refused(const char *pkgs, const char *check, const char *max_age, const char *why)
{
	char json[4096];
	snprintf(json, sizeof(json), APT_OK, pkgs, check, max_age);
	refused(REQ_APT, json, why);
}

/* A signed request carries the claims (sign.h); they are checked field by
 * field by the decoder, and anything else in "sig" is refused. */
START_TEST(sig_field)
{
	static const char head[] = "{\"id\":4,\"job\":\"\",\"task\":\"" TASK "\",\"sig\":";
	static const char claims[] = "{\"v\":1,\"key\":\"alice\",\"nonce\":\"00112233445566778899aabbccddeeff\","
				     "\"expires\":1900000000,\"target\":\"host.web01\",\"job\":\"\",\"sig\":"
				     "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\","
				     "\"task\":\"celeryroot.ping\",\"args\":[],\"kwargs\":{}%s}";
	char json[2048], inner[1024], err[PROTO_ERR_MAX];
	struct proto_req r;
	size_t len;
	char *enc;

	snprintf(inner, sizeof(inner), claims, "");
	snprintf(json, sizeof(json), "%s%s}", head, inner);
	ck_assert_msg(req(REQ_PING, json, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(r.sig);
	enc = cr_proto_req_encode(&r, &len);   /* net forwards it as it came */
	ck_assert_ptr_nonnull(strstr(enc, "\"nonce\":\"00112233445566778899aabbccddeeff\""));
	free(enc);
	cr_proto_req_clear(&r);
	ck_assert_ptr_null(r.sig);
	snprintf(inner, sizeof(inner), claims, ",\"cmd\":\"sh\"");
	snprintf(json, sizeof(json), "%s%s}", head, inner);
	refused(REQ_PING, json, "sig");
	snprintf(json, sizeof(json), "%s\"yes\"}", head);
	refused(REQ_PING, json, "sig");
	snprintf(inner, sizeof(inner), claims, "");
	*strstr(inner, "host.web01") = '/';
	snprintf(json, sizeof(json), "%s%s}", head, inner);
	refused(REQ_FACTS, json, "sig");
	refused(REQ_HELLO, "{\"id\":1,\"sig\":{}}", "unexpected field 'sig'");
}
END_TEST

START_TEST(apt_refusals)
{
	struct proto_req r;
	char json[4096], err[PROTO_ERR_MAX], many[2048] = "";

	snprintf(json, sizeof(json), APT_OK, "\"nginx\"", "true", "-1");
	ck_assert_msg(req(REQ_APT, json, &r, err, sizeof(err)) == 0, "%s", err);
	apt_refused("\"-oAPT::Get::Force=1\"", "true", "-1", "pkgs");
	apt_refused("\"nginx;id\"", "true", "-1", "pkgs");
	apt_refused("\"Nginx\"", "true", "-1", "pkgs");
	apt_refused("\"ng\\u0456nx\"", "true", "-1", "pkgs");
	apt_refused("\"ng\\u0000x\"", "true", "-1", NULL);   /* the JSON reader refuses NUL itself */
	apt_refused("1", "true", "-1", "pkgs");
	apt_refused("", "true", "-1", "needs at least one package");
	apt_refused("\"nginx\"", "1", "-1", "check");
	apt_refused("\"nginx\"", "true", "-2", "max_age");
	apt_refused("\"nginx\"", "true", "1e12", "max_age");
	apt_refused("\"nginx\"", "true", "\"3600\"", "max_age");
	for (int i = 0; i < 101; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s\"p%03d\"", i ? "," : "", i);
	apt_refused(many, "true", "-1", "pkgs");
	refused(REQ_APT, "{\"id\":3,\"job\":\"\",\"task\":\"" TASK "\",\"op\":\"sh\",\"pkgs\":[],\"upgradable\":false,"
		"\"security\":false,\"check\":false,\"purge\":false,\"now\":false,\"max_age\":-1}", "op");
	refused(REQ_APT, "{\"id\":3,\"job\":\"\",\"task\":\"" TASK "\",\"op\":\"clean\",\"pkgs\":[\"nginx\"],"
		"\"upgradable\":false,\"security\":false,\"check\":false,\"purge\":false,\"now\":false,\"max_age\":-1}", "takes no packages");
}
END_TEST

START_TEST(ans_round_trip)
{
	struct proto_ans p = { .type = ANS_PROGRESS, .id = 9, .percent = 100 }, out;
	struct proto_ans rep = { .type = ANS_REPLY, .id = 10 };
	struct proto_ans ref = { .type = ANS_REFUSED, .id = 11 };
	char err[PROTO_ERR_MAX], *s;
	size_t len;

	strcpy(p.pkg, "nginx");
	strcpy(p.text, "Installing nginx");
	s = cr_proto_ans_encode(&p, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(cr_proto_ans_decode(ANS_PROGRESS, (uint8_t *)s, len, &out, err, sizeof(err)), 0);
	ck_assert_uint_eq(out.id, 9);
	ck_assert_int_eq(out.percent, 100);
	ck_assert_str_eq(out.pkg, "nginx");
	ck_assert_str_eq(out.text, "Installing nginx");
	free(s);

	rep.data = json_pack("{s:s, s:[i]}", "host", "web01", "n", 1);
	s = cr_proto_ans_encode(&rep, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(cr_proto_ans_decode(ANS_REPLY, (uint8_t *)s, len, &out, err, sizeof(err)), 0);
	ck_assert_uint_eq(out.id, 10);
	ck_assert(json_equal(out.data, rep.data));
	cr_proto_ans_free(&out);
	ck_assert_ptr_null(out.data);
	cr_proto_ans_free(&rep);
	free(s);

	strcpy(ref.text, "operation not permitted");
	s = cr_proto_ans_encode(&ref, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(cr_proto_ans_decode(ANS_REFUSED, (uint8_t *)s, len, &out, err, sizeof(err)), 0);
	ck_assert_str_eq(out.text, "operation not permitted");
	ck_assert_ptr_null(out.audit);
	free(s);

	/* A refusal priv wrote an audit line for carries it, for the stream. */
	ref.audit = json_pack("{s:s, s:I}", "outcome", "refused", "seq", (json_int_t)7);
	s = cr_proto_ans_encode(&ref, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(cr_proto_ans_decode(ANS_REFUSED, (uint8_t *)s, len, &out, err, sizeof(err)), 0);
	ck_assert(json_equal(out.audit, ref.audit));
	cr_proto_ans_free(&out);
	free(s);
	/* And a line written on priv's own (a minute's summary). */
	struct proto_ans au = { .type = ANS_AUDIT, .id = 0, .audit = ref.audit };
	s = cr_proto_ans_encode(&au, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(cr_proto_ans_decode(ANS_AUDIT, (uint8_t *)s, len, &out, err, sizeof(err)), 0);
	ck_assert(json_equal(out.audit, ref.audit));
	cr_proto_ans_free(&out);
	ck_assert_ptr_null(out.audit);
	free(s);
	cr_proto_ans_free(&ref);
	au.audit = NULL;
	ck_assert_ptr_null(cr_proto_ans_encode(&au, &len));   /* AUDIT without a line */

	/* What the decoder would refuse is not encoded either. */
	p.percent = 101;
	ck_assert_ptr_null(cr_proto_ans_encode(&p, &len));
	p.percent = -1;
	ck_assert_ptr_null(cr_proto_ans_encode(&p, &len));
	ck_assert_ptr_null(cr_proto_ans_encode(&rep, &len));   /* REPLY without data */
}
END_TEST

static void ans_refused(uint8_t type, const char *json)
{
	struct proto_ans a;
	char err[PROTO_ERR_MAX];

	ck_assert_msg(cr_proto_ans_decode(type, (const uint8_t *)json, strlen(json), &a, err, sizeof(err)) == -1,
		      "accepted answer %s", json);
	ck_assert(err[0] != '\0');
	ck_assert_ptr_null(a.data);
}

START_TEST(ans_refusals)
{
	char big[700];

	ans_refused(REQ_PING, "{\"id\":1,\"job\":\"\",\"task\":\"" TASK "\"}");   /* request as answer */
	ans_refused(11, "{\"id\":1}");
	ans_refused(ANS_AUDIT, "{\"id\":0}");
	ans_refused(ANS_AUDIT, "{\"id\":0,\"audit\":\"line\"}");
	ans_refused(ANS_REFUSED, "{\"id\":1,\"error\":\"x\",\"audit\":[]}");
	ans_refused(ANS_PROGRESS, "{\"id\":1,\"percent\":101,\"pkg\":\"\",\"text\":\"\"}");
	ans_refused(ANS_PROGRESS, "{\"id\":1,\"percent\":\"5\",\"pkg\":\"\",\"text\":\"\"}");
	ans_refused(ANS_PROGRESS, "{\"id\":1,\"percent\":5,\"pkg\":\"\"}");
	ans_refused(ANS_REPLY, "{\"id\":1,\"data\":[]}");
	ans_refused(ANS_REPLY, "{\"id\":1,\"data\":{},\"more\":1}");
	ans_refused(ANS_REFUSED, "{\"id\":1,\"error\":null}");
	/* An error of 512 characters is one too many. */
	memset(big, 0, sizeof(big));
	strcpy(big, "{\"id\":1,\"error\":\"");
	memset(big + strlen(big), 'e', PROTO_ERR_MAX);
	strcat(big, "\"}");
	ans_refused(ANS_REFUSED, big);
	/* And a pkg of 128. */
	memset(big, 0, sizeof(big));
	strcpy(big, "{\"id\":1,\"percent\":1,\"text\":\"\",\"pkg\":\"");
	memset(big + strlen(big), 'p', 128);
	strcat(big, "\"}");
	ans_refused(ANS_PROGRESS, big);
}
END_TEST

/* Found by tests/fuzz/fuzz_proto: a reason quoting a hostile key cut inside
 * a UTF-8 character (or jansson's "near" text with control bytes) could not
 * go into priv's audit record or REFUSED answer, so the refusal went
 * unaudited and net never heard back.  Reasons are printable ASCII now. */
START_TEST(refusal_reasons_printable)
{
	static const char *const hostile[] = {
		/* 63 'a' then U+00E9: "'%.64s'" cut the character in two */
		"{\"id\":1,\"job\":\"\",\"task\":\"" TASK "\","
		"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9\":1}",
		"{\"id\"\x01: 1}",
		"{\"id\":1,\"job\":\"\",\"task\":\"" TASK "\",\"\xe2\x80\xae\\n\":1}",
	};
	struct proto_req r;
	char err[PROTO_ERR_MAX];

	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		json_t *rec;

		ck_assert_int_eq(req(REQ_APT, hostile[i], &r, err, sizeof(err)), -1);
		for (const char *c = err; *c; c++)
			ck_assert_msg(*c >= 0x20 && *c <= 0x7e, "byte 0x%02x in '%s'", (unsigned char)*c, err);
		rec = json_pack("{s:s}", "error", err);   /* as priv_audit_refusal() does */
		ck_assert_ptr_nonnull(rec);
		json_decref(rec);
	}
}
END_TEST

/* allow_downgrade: optional, install only, and in taskreq's view of a
 * request (so that priv compares it with what was signed). */
START_TEST(allow_downgrade_field)
{
	struct proto_req in = { .type = REQ_APT, .id = 12, .npkgs = 1, .max_age = -1 }, out, want;
	char err[PROTO_ERR_MAX], json[4096];
	size_t len = 0;
	char *s;

	strcpy(in.task, TASK);
	strcpy(in.op, "install");
	strcpy(in.pkgs[0].name, "nginx");
	strcpy(in.pkgs[0].version, "1.0");
	s = cr_proto_req_encode(&in, &len);
	ck_assert_ptr_null(strstr(s, "allow_downgrade"));   /* old peers still read it */
	ck_assert_int_eq(cr_proto_req_decode(REQ_APT, (uint8_t *)s, len, &out, err, sizeof(err)), 0);
	ck_assert_int_eq(out.allow_downgrade, 0);
	free(s);
	in.allow_downgrade = 1;
	s = cr_proto_req_encode(&in, &len);
	ck_assert_ptr_nonnull(strstr(s, "\"allow_downgrade\":true"));
	ck_assert_int_eq(cr_proto_req_decode(REQ_APT, (uint8_t *)s, len, &out, err, sizeof(err)), 0);
	ck_assert_int_eq(out.allow_downgrade, 1);
	free(s);
	snprintf(json, sizeof(json), "{\"id\":3,\"job\":\"\",\"task\":\"" TASK "\",\"op\":\"remove\",\"pkgs\":[\"nginx\"],"
		 "\"upgradable\":false,\"security\":false,\"check\":false,\"purge\":false,\"now\":false,\"max_age\":-1,"
		 "\"allow_downgrade\":true}");
	refused(REQ_APT, json, "does not take allow_downgrade");
	strcpy(strstr(json, "\"remove\""), "\"install\"");
	strcpy(strstr(json, "\"install\""), "\"install\",\"pkgs\":[\"nginx\"],\"upgradable\":false,\"security\":false,"
	       "\"check\":false,\"purge\":false,\"now\":false,\"max_age\":-1,\"allow_downgrade\":1}");
	refused(REQ_APT, json, "allow_downgrade");

	/* The signed kwargs say it; taskreq carries it, and a request that
	 * differs in it is not the one signed. */
	json_t *args = json_pack("[[s]]", "nginx=1.0"), *kw = json_pack("{s:b}", "allow_downgrade", 1);
	memset(&want, 0, sizeof(want));
	ck_assert_int_eq(cr_taskreq_build("celeryroot.apt.install", args, kw, &want, err, sizeof(err)), 0);
	ck_assert_int_eq(want.allow_downgrade, 1);
	ck_assert(cr_taskreq_same(&want, &out));
	out.allow_downgrade = 0;
	ck_assert(!cr_taskreq_same(&want, &out));
	json_decref(kw);
	json_decref(args);
	kw = json_pack("{s:b}", "allow_downgrade", 1);
	args = json_array();
	ck_assert_int_eq(cr_taskreq_build("celeryroot.apt.upgrade", args, kw, &want, err, sizeof(err)), -1);
	json_decref(kw);
	json_decref(args);
}
END_TEST

/* The guards' flags (issue 15): optional, only for the operations whose
 * row takes them, and compared with what was signed. */
START_TEST(guard_fields)
{
	static const char *const flags[] = { "allow_essential", "allow_removals" };
	char err[PROTO_ERR_MAX], json[1024], want_err[64];

	for (size_t i = 0; i < 2; i++) {
		struct proto_req in = { .type = REQ_APT, .id = 12, .npkgs = 1, .max_age = -1 }, out, want;
		size_t len = 0;
		char *s;

		strcpy(in.task, TASK);
		strcpy(in.op, "remove");
		strcpy(in.pkgs[0].name, "nginx");
		s = cr_proto_req_encode(&in, &len);
		ck_assert_ptr_null(strstr(s, flags[i]));   /* old peers still read it */
		free(s);
		*(i ? &in.allow_removals : &in.allow_essential) = 1;
		s = cr_proto_req_encode(&in, &len);
		ck_assert_ptr_nonnull(strstr(s, flags[i]));
		ck_assert_int_eq(cr_proto_req_decode(REQ_APT, (uint8_t *)s, len, &out, err, sizeof(err)), 0);
		ck_assert_int_eq(i ? out.allow_removals : out.allow_essential, 1);
		ck_assert_int_eq(i ? out.allow_essential : out.allow_removals, 0);
		free(s);

		/* hold takes neither; autoremove only allow_essential. */
		snprintf(json, sizeof(json), "{\"id\":3,\"job\":\"\",\"task\":\"" TASK "\",\"op\":\"hold\","
			 "\"pkgs\":[\"nginx\"],\"upgradable\":false,\"security\":false,\"check\":false,"
			 "\"purge\":false,\"now\":false,\"max_age\":-1,\"%s\":true}", flags[i]);
		snprintf(want_err, sizeof(want_err), "does not take %s", flags[i]);
		refused(REQ_APT, json, want_err);

		json_t *args = json_pack("[[s]]", "nginx"), *kw = json_pack("{s:b}", flags[i], 1);
		memset(&want, 0, sizeof(want));
		ck_assert_int_eq(cr_taskreq_build("celeryroot.apt.remove", args, kw, &want, err, sizeof(err)), 0);
		ck_assert(cr_taskreq_same(&want, &out));
		*(i ? &out.allow_removals : &out.allow_essential) = 0;
		ck_assert(!cr_taskreq_same(&want, &out));
		ck_assert_int_eq(cr_taskreq_build("celeryroot.apt.hold", args, kw, &want, err, sizeof(err)), -1);
		json_decref(args);
		args = json_array();
		ck_assert_int_eq(cr_taskreq_build("celeryroot.apt.autoremove", args, kw, &want, err, sizeof(err)),
				 i ? -1 : 0);
		json_decref(kw);
		json_decref(args);
	}
}
END_TEST

/* conffile_new (--conffile new): optional, install and upgrade only, and
 * part of what priv compares with the signed kwargs. */
START_TEST(conffile_new_field)
{
	struct proto_req in = { .type = REQ_APT, .id = 13, .npkgs = 0, .max_age = -1 }, out, want;
	char err[PROTO_ERR_MAX], json[4096];
	size_t len = 0;
	char *s;

	strcpy(in.task, TASK);
	strcpy(in.op, "upgrade");
	s = cr_proto_req_encode(&in, &len);
	ck_assert_ptr_null(strstr(s, "conffile_new"));   /* old peers still read it */
	free(s);
	in.conffile_new = 1;
	s = cr_proto_req_encode(&in, &len);
	ck_assert_ptr_nonnull(strstr(s, "\"conffile_new\":true"));
	ck_assert_int_eq(cr_proto_req_decode(REQ_APT, (uint8_t *)s, len, &out, err, sizeof(err)), 0);
	ck_assert_int_eq(out.conffile_new, 1);
	free(s);
	snprintf(json, sizeof(json), "{\"id\":3,\"job\":\"\",\"task\":\"" TASK "\",\"op\":\"remove\",\"pkgs\":[\"nginx\"],"
		 "\"upgradable\":false,\"security\":false,\"check\":false,\"purge\":false,\"now\":false,\"max_age\":-1,"
		 "\"conffile_new\":true}");
	refused(REQ_APT, json, "does not take conffile_new");
	strcpy(strstr(json, "true}"), "\"new\"}");
	refused(REQ_APT, json, "conffile_new");

	json_t *args = json_pack("[[]]"), *kw = json_pack("{s:b}", "conffile_new", 1);
	memset(&want, 0, sizeof(want));
	ck_assert_int_eq(cr_taskreq_build("celeryroot.apt.upgrade", args, kw, &want, err, sizeof(err)), 0);
	ck_assert_int_eq(want.conffile_new, 1);
	ck_assert(cr_taskreq_same(&want, &out));
	out.conffile_new = 0;   /* a writer that drops it: not the task signed */
	ck_assert(!cr_taskreq_same(&want, &out));
	json_decref(kw);
	json_decref(args);
	args = json_pack("[[s]]", "nginx");
	kw = json_pack("{s:b}", "conffile_new", 1);
	ck_assert_int_eq(cr_taskreq_build("celeryroot.apt.remove", args, kw, &want, err, sizeof(err)), -1);
	json_decref(kw);
	json_decref(args);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, req_round_trip);
	tcase_add_test(tc, req_encode_refusals);
	tcase_add_test(tc, req_refused_types);
	tcase_add_test(tc, req_refused_shapes);
	tcase_add_test(tc, req_refused_values);
	tcase_add_test(tc, req_id_kept_on_refusal);
	tcase_add_test(tc, apt_round_trip);
	tcase_add_test(tc, apt_refusals);
	tcase_add_test(tc, sig_field);
	tcase_add_test(tc, allow_downgrade_field);
	tcase_add_test(tc, guard_fields);
	tcase_add_test(tc, conffile_new_field);
	tcase_add_test(tc, ans_round_trip);
	tcase_add_test(tc, ans_refusals);
	tcase_add_test(tc, refusal_reasons_printable);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
