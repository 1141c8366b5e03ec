/* upgrade's full and exclude (issue 15): optional in priv's schema (old
 * peers still read an upgrade without them), upgrade only, the exclude list
 * bounded and made of package names, and both in taskreq's view of a
 * request, so that priv compares them with what was signed. */
#include "config.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "taskreq.h"

#define TASK "7c9e6679-7425-40de-944b-e07fc1f90ae7"
#define HEAD "{\"id\":3,\"job\":\"\",\"task\":\"" TASK "\",\"op\":\"%s\",\"pkgs\":[],\"upgradable\":false," \
	     "\"security\":false,\"check\":true,\"purge\":false,\"now\":false,\"max_age\":-1%s}"

static int decode(const char *op, const char *extra, struct proto_req *r, char *err, size_t errlen)
{
	char json[8192];

	snprintf(json, sizeof(json), HEAD, op, extra);
	return cr_proto_req_decode(REQ_APT, (const uint8_t *)json, strlen(json), r, err, errlen);
}

START_TEST(round_trip)
{
	struct proto_req in = { .type = REQ_APT, .id = 7, .max_age = -1 }, out;
	char err[PROTO_ERR_MAX];
	size_t len = 0;
	char *s;

	strcpy(in.task, TASK);
	strcpy(in.op, "upgrade");
	s = cr_proto_req_encode(&in, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_null(strstr(s, "full"));
	ck_assert_ptr_null(strstr(s, "exclude"));
	free(s);
	in.full = 1;
	in.nexclude = 2;
	strcpy(in.exclude[0], "nginx");
	strcpy(in.exclude[1], "libc6:amd64");
	s = cr_proto_req_encode(&in, &len);
	ck_assert_ptr_nonnull(strstr(s, "\"exclude\":[\"nginx\",\"libc6:amd64\"]"));
	ck_assert_int_eq(cr_proto_req_decode(REQ_APT, (uint8_t *)s, len, &out, err, sizeof(err)), 0);
	ck_assert_int_eq(out.full, 1);
	ck_assert_uint_eq(out.nexclude, 2);
	ck_assert_str_eq(out.exclude[1], "libc6:amd64");
	ck_assert(cr_taskreq_same(&in, &out));
	out.nexclude = 1;
	ck_assert(!cr_taskreq_same(&in, &out));
	free(s);
}
END_TEST

START_TEST(refusals)
{
	struct proto_req r;
	char err[PROTO_ERR_MAX], many[4096] = ",\"exclude\":[";
	const char *bad[] = { ",\"exclude\":[]", ",\"exclude\":\"nginx\"", ",\"exclude\":[\"nginx=1.0\"]",
			      ",\"exclude\":[\"Nginx\"]", ",\"exclude\":[\"-oAPT::X=1\"]", ",\"exclude\":[1]",
			      ",\"exclude\":[\"nginx\",\"nginx\"]", ",\"full\":1" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(decode("upgrade", bad[i], &r, err, sizeof(err)) == -1, "accepted %s", bad[i]);
	ck_assert_int_eq(decode("autoremove", ",\"full\":true", &r, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "does not take full or exclude") != NULL, "%s", err);
	ck_assert_int_eq(decode("upgrade", ",\"full\":true,\"exclude\":[\"nginx\"]", &r, err, sizeof(err)), 0);
	/* CR_EXCLUDE_MAX names go, one more does not. */
	for (int i = 0; i < CR_EXCLUDE_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s\"pkg%02d\"", i ? "," : "", i);
	strcat(many, "]");
	ck_assert_int_eq(decode("upgrade", many, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.nexclude, CR_EXCLUDE_MAX);
	strcpy(many + strlen(many) - 1, ",\"pkg99\"]");
	ck_assert_int_eq(decode("upgrade", many, &r, err, sizeof(err)), -1);
}
END_TEST

START_TEST(taskreq_kwargs)
{
	struct proto_req want;
	char err[PROTO_ERR_MAX];
	json_t *args = json_pack("[[]]");
	json_t *kw = json_pack("{s:b, s:[s]}", "full", 1, "exclude", "nginx");

	memset(&want, 0, sizeof(want));
	ck_assert_int_eq(cr_taskreq_build("celeryroot.apt.upgrade", args, kw, &want, err, sizeof(err)), 0);
	ck_assert_int_eq(want.full, 1);
	ck_assert_uint_eq(want.nexclude, 1);
	ck_assert_str_eq(want.exclude[0], "nginx");
	json_decref(kw);
	kw = json_pack("{s:[s]}", "exclude", "bad name");
	ck_assert_int_eq(cr_taskreq_build("celeryroot.apt.upgrade", args, kw, &want, err, sizeof(err)), -1);
	json_decref(kw);
	json_decref(args);
	args = json_pack("[[s]]", "nginx");
	kw = json_pack("{s:[s]}", "exclude", "nginx");
	ck_assert_int_eq(cr_taskreq_build("celeryroot.apt.install", args, kw, &want, err, sizeof(err)), -1);
	json_decref(kw);
	json_decref(args);
}
END_TEST

/* A Redis writer with no key (H5's attack pass): tampered kwargs on an
 * unsigned task are refused by net before anything reaches priv. */
static int build(const char *task, json_t *args, json_t *kw)
{
	struct proto_req r;
	char err[PROTO_ERR_MAX];
	int rc;

	memset(&r, 0, sizeof(r));
	rc = cr_taskreq_build(task, args, kw, &r, err, sizeof(err));
	json_decref(kw);
	return rc;
}

START_TEST(taskreq_hostile_kwargs)
{
	json_t *none = json_pack("[[]]"), *one = json_pack("[[s]]", "nginx"), *huge = json_array();
	const char *upg = "celeryroot.apt.upgrade", *inst = "celeryroot.apt.install";

	for (int i = 0; i < 10000; i++)
		json_array_append_new(huge, json_sprintf("p%05d", i));
	ck_assert_int_eq(build(upg, none, json_pack("{s:O}", "exclude", huge)), -1);
	ck_assert_int_eq(build(upg, none, json_pack("{s:[i]}", "exclude", 7)), -1);
	ck_assert_int_eq(build(upg, none, json_pack("{s:[n]}", "exclude")), -1);
	ck_assert_int_eq(build(upg, none, json_pack("{s:[ss]}", "exclude", "nginx", "nginx")), -1);
	ck_assert_int_eq(build(upg, none, json_pack("{s:[s]}", "exclude", "ng\x1b]0;x\ainx")), -1);
	ck_assert_int_eq(build(upg, none, json_pack("{s:[s#]}", "exclude", "ng\0inx", (size_t)6)), -1);
	ck_assert_int_eq(build(upg, none, json_pack("{s:{}}", "exclude")), -1);
	ck_assert_int_eq(build(inst, one, json_pack("{s:s}", "conffile_new", "new")), -1);
	ck_assert_int_eq(build(inst, one, json_pack("{s:i}", "conffile_new", 1)), -1);
	ck_assert_int_eq(build(inst, one, json_pack("{s:n}", "allow_essential")), -1);
	ck_assert_int_eq(build("celeryroot.apt.remove", one, json_pack("{s:f}", "allow_removals", 1.0)), -1);
	ck_assert_int_eq(build("celeryroot.apt.remove", one, json_pack("{s:[b]}", "allow_essential", 1)), -1);
	ck_assert_int_eq(build("celeryroot.apt.hold", none, json_object()), -1);
	ck_assert_int_eq(build("celeryroot.apt.hold", one, json_pack("{s:b}", "conffile_new", 1)), -1);
	/* A key with control bytes is quoted printable in the reason (found by fuzz_celery). */
	{
		struct proto_req r;
		char err[PROTO_ERR_MAX];
		json_t *kw = json_pack("{s:b}", "allow\x7f\x1b]0;x\a\nfake", 0);
		ck_assert_int_eq(cr_taskreq_build(inst, one, kw, &r, err, sizeof(err)), -1);
		json_decref(kw);
		for (const char *c = err; *c; c++)
			ck_assert_msg(*c >= 0x20 && *c < 0x7f, "raw byte in '%s'", err);
		ck_assert_ptr_nonnull(strstr(err, "'allow??]0;x??fake'"));
	}
	/* The controls: the same kwargs, well formed, are accepted. */
	json_array_remove(huge, 0);
	while (json_array_size(huge) > CR_EXCLUDE_MAX)
		json_array_remove(huge, json_array_size(huge) - 1);
	ck_assert_int_eq(build(upg, none, json_pack("{s:O, s:b}", "exclude", huge, "allow_removals", 1)), 0);
	ck_assert_int_eq(build(inst, one, json_pack("{s:b, s:b}", "conffile_new", 1, "allow_essential", 0)), 0);
	ck_assert_int_eq(build("celeryroot.apt.hold", one, json_object()), 0);
	json_decref(huge);
	json_decref(none);
	json_decref(one);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proto_upgrade");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, taskreq_kwargs);
	tcase_add_test(tc, taskreq_hostile_kwargs);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
