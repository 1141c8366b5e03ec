/* Unit tests for the apt shim's configuration (apt_shim.cc): which user
 * apt's download methods run as.  APT::Sandbox::User = root is for sandbox
 * hosts only (the _apt user cannot read a root-owned sandbox); on a real
 * host ("/") apt's own default stands and the methods drop to _apt, as
 * apt-get's do.  Nothing is installed or fetched: the configuration is
 * read, as 'apt-config dump' would.  Each test runs in its own process
 * (the shim keeps one configuration per process). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "apt_shim.h"

static char root[] = "/tmp/crtest-shim-XXXXXX";

static void mkdirs(void)
{
	static const char *const dirs[] = { "etc", "etc/apt", "etc/apt/apt.conf.d", "etc/apt/preferences.d", "var",
					    "var/lib", "var/lib/dpkg", "var/lib/apt", "var/lib/apt/lists", "var/cache",
					    "var/cache/apt" };
	char path[4096];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
		mkdir(path, 0755);
	}
	snprintf(path, sizeof(path), "%s/var/lib/dpkg/status", root);
	FILE *f = fopen(path, "w");
	if (f)
		fclose(f);
}

START_TEST(sandbox_methods_run_as_root)
{
	char err[512] = "", user[64] = "";

	mkdirs();
	ck_assert_msg(priv_aptshim_init(root, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(priv_aptshim_config_find("APT::Sandbox::User", user, sizeof(user)), 0);
	ck_assert_str_eq(user, "root");
}
END_TEST

START_TEST(real_host_methods_drop_to_apt)
{
	char err[512] = "", user[64] = "", dir[256] = "";

	ck_assert_msg(priv_aptshim_init("/", err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(priv_aptshim_config_find("APT::Sandbox::User", user, sizeof(user)), 0);
	ck_assert_str_eq(user, "_apt");
	/* ...and the real host's configuration was read, not a sandbox's. */
	ck_assert_int_eq(priv_aptshim_config_find("Dir", dir, sizeof(dir)), 0);
	ck_assert_str_eq(dir, "/");
}
END_TEST

int main(void)
{
	Suite *su = suite_create("shim_config");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	if (mkdtemp(root) == NULL)
		return EXIT_FAILURE;
	tcase_add_test(tc, sandbox_methods_run_as_root);
	tcase_add_test(tc, real_host_methods_drop_to_apt);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		failed++;
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
