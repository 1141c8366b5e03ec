/* Unit tests for dpkg_status.c: the before/after reading every change and
 * rollback is judged by. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dpkg_status.h"

static char root[] = "/tmp/crtest-dpkg-XXXXXX";

static void write_status(const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/var", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/var/lib", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/var/lib/dpkg", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/var/lib/dpkg/status", root);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static const char *STATUS =
	"Package: nginx\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.22.1-9\n"
	"Description: web server\n with a continuation line\n Package: fake\n\n"
	"Package: libc6\nStatus: install ok installed\nArchitecture: i386\nVersion: 2.36-9\n\n"
	"Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0\n\n"
	"Package: oldconf\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n\n"
	"Package: half\nStatus: install reinstreq half-configured\nArchitecture: amd64\nVersion: 2.0\n\n"
	"Package: gone\nStatus: purge ok not-installed\nArchitecture: amd64\n";

START_TEST(reads_states_and_names)
{
	struct dpkg_snap s;
	char err[256];
	const struct dpkg_pkg *p;

	write_status(STATUS);
	ck_assert_int_eq(dpkg_snap_read(root, "amd64", &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.n, 6);
	p = dpkg_snap_find(&s, "nginx");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->version, "1.22.1-9");
	ck_assert_str_eq(p->state, "installed");
	ck_assert_ptr_eq(dpkg_snap_find(&s, "nginx:amd64"), p);
	ck_assert_ptr_null(dpkg_snap_find(&s, "nginx:arm64"));
	ck_assert_ptr_null(dpkg_snap_find(&s, "fake"));   /* a continuation line is not a field */
	ck_assert_ptr_nonnull(dpkg_snap_find(&s, "libc6:i386"));   /* foreign: named with its arch */
	ck_assert_ptr_null(dpkg_snap_find(&s, "libc6"));
	ck_assert_ptr_nonnull(dpkg_snap_find(&s, "tzdata"));
	ck_assert(!dpkg_present(dpkg_snap_find(&s, "oldconf")));
	ck_assert(!dpkg_present(dpkg_snap_find(&s, "gone")));
	ck_assert(dpkg_present(dpkg_snap_find(&s, "half")));
	ck_assert(dpkg_broken(dpkg_snap_find(&s, "half")));
	ck_assert(!dpkg_broken(p));
	ck_assert(!dpkg_snap_clean(&s));
	dpkg_snap_free(&s);
}
END_TEST

START_TEST(empty_and_missing)
{
	struct dpkg_snap s;
	char err[256] = "";

	write_status("");
	ck_assert_int_eq(dpkg_snap_read(root, "amd64", &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.n, 0);
	ck_assert(dpkg_snap_clean(&s));
	dpkg_snap_free(&s);
	ck_assert_int_eq(dpkg_snap_read("/nonexistent-root", "amd64", &s, err, sizeof(err)), -1);
	ck_assert(strstr(err, "cannot read") != NULL);
}
END_TEST

START_TEST(long_fields_are_bounded)
{
	char *text = malloc(300000);
	struct dpkg_snap s;
	char err[256];

	ck_assert_ptr_nonnull(text);
	strcpy(text, "Package: ");
	memset(text + 9, 'a', 200000);
	strcpy(text + 200009, "\nStatus: install ok installed\nVersion: ");
	memset(text + strlen(text), '1', 1000);
	text[200009 + 39 + 1000] = '\0';
	strcat(text, "\n\n");
	write_status(text);
	ck_assert_int_eq(dpkg_snap_read(root, "amd64", &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_uint_lt(strlen(s.p[0].name), APTSHIM_NAME_MAX);
	ck_assert_uint_lt(strlen(s.p[0].version), APTSHIM_VER_MAX);
	dpkg_snap_free(&s);
	free(text);
}
END_TEST

static void cleanup(void)
{
	static const char *const rel[] = { "var/lib/dpkg/status", "var/lib/dpkg", "var/lib", "var", "" };
	char path[256];

	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, rel[i]);
		if (remove(path) != 0 && i == 0)
			continue;
	}
}

int main(void)
{
	Suite *su = suite_create("dpkg_status");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	if (mkdtemp(root) == NULL)
		return EXIT_FAILURE;
	tcase_add_test(tc, reads_states_and_names);
	tcase_add_test(tc, empty_and_missing);
	tcase_add_test(tc, long_fields_are_bounded);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
