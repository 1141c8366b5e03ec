/* Unit tests for priv_verify.c: the rules a change is held to afterwards,
 * on dpkg's view and nothing apt says. */
#include "config.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "priv_change.h"
#include "proto.h"

static char path[] = "/tmp/crtest-verify-XXXXXX";

static const char *STATUS =
	"Package: app\nStatus: install ok installed\nVersion: 1.1\n\n"
	"Package: lib\nStatus: install ok installed\nVersion: 1.0\n\n"
	"Package: conf\nStatus: deinstall ok config-files\nVersion: 2.0\n\n"
	"Package: gone\nStatus: purge ok not-installed\n\n";

static void snap(const char *text, struct dpkg_snap *s)
{
	char err[256];
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(priv_dpkg_snap_read_file(path, "amd64", s, err, sizeof(err)), 0);
}

static void req(struct proto_req *r, const char *op, int purge, const char *const *specs)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->op, sizeof(r->op), "%s", op);
	r->purge = purge;
	for (; specs != NULL && *specs != NULL; specs++)
		ck_assert_int_eq(cr_pkgspec_parse(*specs, &r->pkgs[r->npkgs++], NULL, 0), 0);
}

/* The problems, joined with " | " ("" when there are none). */
static char *problems(const char *op, int purge, const char *const *specs, const char *status, int pending)
{
	static char out[2048];
	struct proto_req r;
	struct dpkg_snap s;
	json_t *list, *v;
	size_t i;

	req(&r, op, purge, specs);
	snap(status, &s);
	list = priv_verify_state(&r, &s, pending);
	ck_assert_ptr_nonnull(list);
	out[0] = '\0';
	json_array_foreach(list, i, v) {
		strcat(out, i ? " | " : "");
		strncat(out, json_string_value(v), sizeof(out) - strlen(out) - 4);
	}
	json_decref(list);
	priv_dpkg_snap_free(&s);
	return out;
}

START_TEST(install_rules)
{
	const char *const app[] = { "app", NULL }, *const pinned[] = { "app=1.0", NULL }, *const right[] = { "app=1.1", NULL };
	const char *const missing[] = { "app", "nope", NULL }, *const conf[] = { "conf", NULL };

	ck_assert_str_eq(problems("install", 0, app, STATUS, 0), "");
	ck_assert_str_eq(problems("install", 0, right, STATUS, 0), "");
	ck_assert_str_eq(problems("install", 0, pinned, STATUS, 0), "app is at version 1.1, not the requested 1.0");
	ck_assert_str_eq(problems("install", 0, missing, STATUS, 0), "nope is not installed after the change");
	ck_assert_str_eq(problems("install", 0, conf, STATUS, 0), "conf is config-files after the change");
}
END_TEST

/* The reported bug: a half-installed package must never pass for installed. */
START_TEST(halfway_fails_whatever_was_asked)
{
	const char *const app[] = { "app", NULL };
	const char *half = "Package: app\nStatus: install reinstreq half-installed\nVersion: 1.1\n\n"
			   "Package: lib\nStatus: install ok unpacked\nVersion: 1.0\n";

	ck_assert_str_eq(problems("install", 0, app, half, 0), "app is half-installed (reinstreq) | lib is unpacked");
	ck_assert_str_eq(problems("upgrade", 0, app, half, 0), "app is half-installed (reinstreq) | lib is unpacked");
	ck_assert_str_eq(problems("autoremove", 0, NULL, "Package: x\nStatus: install reinstreq installed\nVersion: 1\n", 0),
			 "x is installed but flagged reinstreq (dpkg must reinstall it)");
	ck_assert_str_eq(problems("install", 0, app, STATUS, 1),
			 "dpkg's updates journal (var/lib/dpkg/updates) was left unfolded: dpkg was cut short");
}
END_TEST

START_TEST(remove_rules)
{
	const char *const lib[] = { "lib", NULL }, *const conf[] = { "conf", NULL }, *const gone[] = { "gone", "nope", NULL };

	ck_assert_str_eq(problems("remove", 0, lib, STATUS, 0), "lib is still installed after the removal");
	ck_assert_str_eq(problems("remove", 0, conf, STATUS, 0), "");   /* removed: its configuration may stay */
	ck_assert_str_eq(problems("remove", 1, conf, STATUS, 0), "conf still has its configuration files after the purge");
	ck_assert_str_eq(problems("remove", 1, gone, STATUS, 0), "");
}
END_TEST

START_TEST(message_names_everything)
{
	json_t *list = json_pack("[s, s]", "a is unpacked", "b is half-installed (reinstreq)");
	char msg[256], tiny[40];

	priv_verify_message(list, msg, sizeof(msg));
	ck_assert_str_eq(msg, "dpkg is not in the requested state after the change: a is unpacked; "
			      "b is half-installed (reinstreq) (dpkg --audit lists what is halfway)");
	priv_verify_message(list, tiny, sizeof(tiny));   /* cut, never overrun */
	ck_assert_uint_eq(strlen(tiny), sizeof(tiny) - 1);
	json_decref(list);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("verify");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed, fd = mkstemp(path);

	if (fd < 0)
		return EXIT_FAILURE;
	close(fd);
	tcase_add_test(tc, install_rules);
	tcase_add_test(tc, halfway_fails_whatever_was_asked);
	tcase_add_test(tc, remove_rules);
	tcase_add_test(tc, message_names_everything);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	unlink(path);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
