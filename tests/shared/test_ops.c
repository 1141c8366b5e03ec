/* Unit tests for ops.c, the operation table: lookups, the flags' rules, the
 * package-count rule as taskreq.c and proto.c apply it, the key files'
 * "operations =", and README.md's task table (which must match the table
 * row for row). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "pkgspec.h"
#include "proto.h"
#include "sign.h"
#include "taskreq.h"

START_TEST(lookups)
{
	const struct cr_op *op;

	ck_assert_uint_eq(cr_op_count(), 12);   /* issue 15: hold, unhold */
	for (size_t i = 0; (op = cr_op_at(i)) != NULL; i++) {
		ck_assert_ptr_eq(cr_op_by_name(op->name), op);
		ck_assert_ptr_eq(cr_op_by_task(op->task), op);
		ck_assert_ptr_eq(cr_op_by_req(op->req, op->name), op);
		ck_assert_str_eq(cr_sig_operation(op->task), op->name);
	}
	ck_assert_ptr_null(cr_op_at(cr_op_count()));
	ck_assert_str_eq(cr_op_by_task("celeryroot.apt.install")->name, "install");
	ck_assert_str_eq(cr_op_by_name("autoremove")->task, "celeryroot.apt.autoremove");
	ck_assert_str_eq(cr_op_by_req(REQ_PING, NULL)->name, "ping");
	ck_assert_str_eq(cr_op_by_req(REQ_FACTS, "install")->name, "facts");
	ck_assert_ptr_null(cr_op_by_req(REQ_APT, NULL));
	ck_assert_ptr_null(cr_op_by_req(REQ_APT, "ping"));
	ck_assert_ptr_null(cr_op_by_req(REQ_HELLO, NULL));
	ck_assert_ptr_null(cr_op_by_name("frobnicate"));
	ck_assert_ptr_null(cr_op_by_name(NULL));
	ck_assert_ptr_null(cr_op_by_name("Install"));
	ck_assert_ptr_null(cr_op_by_task("celeryroot.apt.ping"));
	ck_assert_ptr_null(cr_op_by_task("install"));
	ck_assert_ptr_null(cr_op_by_task(NULL));
}
END_TEST

/* The flags' rules: a windowed or package-changing operation changes the
 * host; only APT operations change it; every name fits priv's schema and
 * the key files; each task name is its operation's. */
START_TEST(flags_consistent)
{
	const struct cr_op *op;
	char task[64];

	ck_assert_uint_le(cr_op_count(), SIG_OPS_MAX);
	for (size_t i = 0; (op = cr_op_at(i)) != NULL; i++) {
		if (op->flags & (CR_OP_WINDOWED | CR_OP_PACKAGES))
			ck_assert_msg(op->flags & CR_OP_CHANGES, "%s", op->name);
		if (op->flags & CR_OP_CHANGES)
			ck_assert_msg(op->req == REQ_APT, "%s", op->name);
		ck_assert_msg(op->req == REQ_PING || op->req == REQ_FACTS || op->req == REQ_APT, "%s", op->name);
		ck_assert_uint_lt(strlen(op->name), sizeof(((struct proto_req *)0)->op));
		ck_assert_uint_lt(strlen(op->name), sizeof(((struct trusted_key *)0)->ops[0]));
		snprintf(task, sizeof(task), op->req == REQ_APT ? "celeryroot.apt.%s" : "celeryroot.%s", op->name);
		ck_assert_str_eq(op->task, task);
		/* A check or now only means something for a change. */
		if (op->kwargs & (CR_KW_CHECK | CR_KW_NOW))
			ck_assert_msg(op->flags & CR_OP_CHANGES, "%s", op->name);
		if (op->kwargs & CR_KW_NOW)
			ck_assert_msg(op->flags & CR_OP_WINDOWED, "%s", op->name);
		ck_assert_int_ge(op->min_pkgs, 0);
		ck_assert_int_le(op->min_pkgs, op->max_pkgs > 0 ? op->max_pkgs : 0);
		ck_assert_int_le(op->max_pkgs, PKG_SPECS_MAX);
		if (op->req != REQ_APT)
			ck_assert_int_eq(op->max_pkgs, 0);
		ck_assert_ptr_nonnull(op->summary);
		ck_assert_ptr_nonnull(op->args);
	}
	ck_assert_uint_eq(cr_op_by_name("install")->flags, CR_OP_CHANGES | CR_OP_WINDOWED | CR_OP_PACKAGES);
	ck_assert_uint_eq(cr_op_by_name("update")->flags, CR_OP_CHANGES);
	ck_assert_uint_eq(cr_op_by_name("clean")->flags, CR_OP_CHANGES);
	ck_assert_uint_eq(cr_op_by_name("query")->flags, 0);
	ck_assert_uint_eq(cr_op_by_name("list")->flags, 0);
}
END_TEST

START_TEST(kwargs_table)
{
	const struct cr_kwarg *k;
	unsigned seen = 0;

	for (size_t i = 0; (k = cr_kwarg_at(i)) != NULL; i++) {
		ck_assert_ptr_eq(cr_kwarg_by_name(k->name), k);
		ck_assert_msg(!(seen & k->bit), "%s", k->name);
		seen |= k->bit;
	}
	ck_assert_ptr_null(cr_kwarg_by_name("sig"));
	ck_assert_int_eq(cr_kwarg_by_name("max_age")->is_bool, 0);
	ck_assert_int_eq(cr_kwarg_by_name("purge")->is_bool, 1);
}
END_TEST

/* taskreq.c: the apt task with n packages ("a0", "a1", ...). */
static int taskreq_with(const char *task, size_t n, char *err, size_t errlen)
{
	json_t *pkgs = json_array();
	struct proto_req *r = calloc(1, sizeof(*r));
	char name[24];
	int rc;

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "a%zu", i);
		json_array_append_new(pkgs, json_string(name));
	}
	json_t *args = json_pack("[o]", pkgs), *kw = json_object();
	rc = cr_taskreq_build(task, args, kw, r, err, errlen);
	json_decref(args);
	json_decref(kw);
	free(r);
	return rc;
}

/* proto.c: priv's decoder, the same request with n packages. */
static int proto_with(const char *op, size_t n, char *err, size_t errlen)
{
	struct proto_req r;
	char buf[4096];
	size_t used = (size_t)snprintf(buf, sizeof(buf),
				       "{\"id\":1,\"job\":\"\",\"task\":\"t1\",\"op\":\"%s\",\"pkgs\":[", op);
	int rc;

	for (size_t i = 0; i < n && used < sizeof(buf); i++)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s\"a%zu\"", i ? "," : "", i);
	snprintf(buf + used, sizeof(buf) - used, "],\"upgradable\":false,\"security\":false,\"check\":false,"
		 "\"purge\":false,\"now\":false,\"max_age\":-1}");
	rc = cr_proto_req_decode(REQ_APT, (const uint8_t *)buf, strlen(buf), &r, err, errlen);
	cr_proto_req_clear(&r);
	return rc;
}

/* One rule, and taskreq and proto agree with it for every APT row. */
START_TEST(package_count_rule)
{
	const struct cr_op *op;
	const size_t counts[] = { 0, 1, 2, PKG_SPECS_MAX };
	char why[64], err[512];

	ck_assert_int_eq(cr_op_pkgs_fit(cr_op_by_name("install"), 0, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "needs at least one package");
	ck_assert_int_eq(cr_op_pkgs_fit(cr_op_by_name("clean"), 1, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "takes no packages");
	ck_assert_int_eq(cr_op_pkgs_fit(cr_op_by_name("upgrade"), PKG_SPECS_MAX + 1, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "takes at most 100 packages");
	ck_assert_int_eq(cr_op_pkgs_fit(cr_op_by_name("upgrade"), 0, why, sizeof(why)), 0);
	for (size_t i = 0; (op = cr_op_at(i)) != NULL; i++) {
		if (op->req != REQ_APT)
			continue;
		for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
			int fit = cr_op_pkgs_fit(op, counts[c], why, sizeof(why));
			ck_assert_msg(taskreq_with(op->task, counts[c], err, sizeof(err)) == fit, "taskreq %s %zu: %s",
				      op->name, counts[c], err);
			if (fit < 0)
				ck_assert_msg(strstr(err, why) != NULL, "%s: %s", op->name, err);
			ck_assert_msg(proto_with(op->name, counts[c], err, sizeof(err)) == fit, "proto %s %zu: %s",
				      op->name, counts[c], err);
		}
	}
	ck_assert_int_eq(proto_with("ping", 0, err, sizeof(err)), -1);
	ck_assert_int_eq(proto_with("frobnicate", 0, err, sizeof(err)), -1);
}
END_TEST

/* taskreq accepts exactly the kwargs of an operation's row. */
START_TEST(kwargs_rule)
{
	const struct cr_op *op;
	const struct cr_kwarg *k;
	struct proto_req *r = calloc(1, sizeof(*r));
	char err[512];

	for (size_t i = 0; (op = cr_op_at(i)) != NULL; i++) {
		for (size_t j = 0; (k = cr_kwarg_at(j)) != NULL; j++) {
			json_t *args = op->min_pkgs ? json_pack("[[s]]", "a0") : json_array();
			json_t *v = k->bit == CR_KW_EXCLUDE ? json_pack("[s]", "a0") : k->is_bool ? json_true() : json_integer(5);
			json_t *kw = json_pack("{s:o}", k->name, v);
			int rc = cr_taskreq_build(op->task, args, kw, r, err, sizeof(err));
			ck_assert_msg((rc == 0) == ((op->kwargs & k->bit) != 0), "%s %s: %d %s", op->name, k->name, rc,
				      err);
			json_decref(args);
			json_decref(kw);
		}
	}
	free(r);
}
END_TEST

START_TEST(names_joined)
{
	char buf[256];

	cr_op_names(buf, sizeof(buf), REQ_APT, 0, ", ", " or ");
	ck_assert_str_eq(buf, "install, remove, upgrade, autoremove, clean, query, list, update, hold or unhold");
	cr_op_names(buf, sizeof(buf), 0, 0, " ", " ");
	ck_assert_str_eq(buf, "ping facts install remove upgrade autoremove clean query list update hold unhold");
	cr_op_names(buf, 8, 0, 0, " ", " ");
	ck_assert_str_eq(buf, "ping fa");
	cr_op_names(buf, sizeof(buf), REQ_APT, CR_OP_WINDOWED, ", ", " and ");
	ck_assert_str_eq(buf, "install, remove, upgrade and autoremove");
	cr_op_names(buf, sizeof(buf), 0, CR_OP_CHANGES, " ", " ");
	ck_assert_str_eq(buf, "install remove upgrade autoremove clean update hold unhold");
}
END_TEST

/* The key files' "operations =" takes exactly the table's names. */
START_TEST(key_operations)
{
	const struct cr_op *op;
	struct trusted_key k;
	char text[512], err[256];

	for (size_t i = 0; (op = cr_op_at(i)) != NULL; i++) {
		snprintf(text, sizeof(text), "id = a\npublic = %s\noperations = %s\n",
			 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", op->name);
		ck_assert_msg(cr_key_parse_public(text, "a", &k, err, sizeof(err)) == 0, "%s: %s", op->name, err);
		ck_assert_str_eq(k.ops[0], op->name);
	}
	/* (issue 15 made "hold" an operation: "pin" is none) */
	snprintf(text, sizeof(text), "id = a\npublic = %s\noperations = pin\n",
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	ck_assert_int_eq(cr_key_parse_public(text, "a", &k, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "operations: use ping facts install remove upgrade autoremove clean query list update "
			      "hold unhold");
}
END_TEST

/* README.md's row for op, as the table says it should read. */
static void readme_row(const struct cr_op *op, char *buf, size_t len)
{
	const struct cr_kwarg *k;
	char kw[160] = "", pkgs[32];
	size_t used = 0;

	for (size_t i = 0; (k = cr_kwarg_at(i)) != NULL; i++)
		if ((op->kwargs & k->bit) && used < sizeof(kw))
			used += (size_t)snprintf(kw + used, sizeof(kw) - used, "%s`%s`", used ? ", " : "", k->name);
	if (op->max_pkgs == 0)
		snprintf(pkgs, sizeof(pkgs), "none");
	else
		snprintf(pkgs, sizeof(pkgs), "%d to %d", op->min_pkgs, op->max_pkgs);
	snprintf(buf, len, "| `%s` | `%s%s` | %s | %s | %s | %s |", op->task, op->req == REQ_APT ? "apt " : "",
		 op->name, pkgs, kw[0] ? kw : "-", (op->flags & CR_OP_CHANGES) ? "yes" : "no",
		 (op->flags & CR_OP_WINDOWED) ? "yes" : "no");
}

/* The rows between README's markers, in order, are exactly the table's. */
START_TEST(readme_table)
{
	FILE *f = fopen(README_PATH, "r");
	char line[512], want[512];
	size_t row = 0;
	int in = 0, header = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strstr(line, "<!-- operation table") == line) {
			in = 1;
			continue;
		}
		if (!in)
			continue;
		if (strstr(line, "<!-- end of operation table") == line)
			break;
		if (header < 2) {   /* "| task | ..." and "|---|..." */
			header++;
			continue;
		}
		ck_assert_ptr_nonnull(cr_op_at(row));
		readme_row(cr_op_at(row), want, sizeof(want));
		ck_assert_str_eq(line, want);
		row++;
	}
	fclose(f);
	ck_assert_int_eq(in, 1);
	ck_assert_uint_eq(row, cr_op_count());
}
END_TEST

static Suite *ops_suite(void)
{
	Suite *s = suite_create("ops");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, lookups);
	tcase_add_test(tc, flags_consistent);
	tcase_add_test(tc, kwargs_table);
	tcase_add_test(tc, package_count_rule);
	tcase_add_test(tc, kwargs_rule);
	tcase_add_test(tc, names_joined);
	tcase_add_test(tc, key_operations);
	tcase_add_test(tc, readme_table);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ops_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
