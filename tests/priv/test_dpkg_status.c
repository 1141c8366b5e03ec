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

static void write_file(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/var", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/var/lib", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/var/lib/dpkg", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/var/lib/dpkg/updates", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/var/lib/dpkg/%s", root, rel);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void write_status(const char *text)
{
	write_file("status", text);
}

static void clear_updates(void)
{
	static const char *const names[] = { "0000", "0001", "0002", "0010", "tmp.i" };
	char path[256];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/var/lib/dpkg/updates/%s", root, names[i]);
		unlink(path);
	}
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
	ck_assert_int_eq(priv_dpkg_snap_read(root, "amd64", &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.n, 6);
	p = priv_dpkg_snap_find(&s, "nginx");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->version, "1.22.1-9");
	ck_assert_str_eq(p->state, "installed");
	ck_assert_ptr_eq(priv_dpkg_snap_find(&s, "nginx:amd64"), p);
	ck_assert_ptr_null(priv_dpkg_snap_find(&s, "nginx:arm64"));
	ck_assert_ptr_null(priv_dpkg_snap_find(&s, "fake"));   /* a continuation line is not a field */
	ck_assert_ptr_nonnull(priv_dpkg_snap_find(&s, "libc6:i386"));   /* foreign: named with its arch */
	ck_assert_ptr_null(priv_dpkg_snap_find(&s, "libc6"));
	ck_assert_ptr_nonnull(priv_dpkg_snap_find(&s, "tzdata"));
	ck_assert(!priv_dpkg_present(priv_dpkg_snap_find(&s, "oldconf")));
	ck_assert(!priv_dpkg_present(priv_dpkg_snap_find(&s, "gone")));
	ck_assert(priv_dpkg_present(priv_dpkg_snap_find(&s, "half")));
	ck_assert(priv_dpkg_broken(priv_dpkg_snap_find(&s, "half")));
	ck_assert(!priv_dpkg_broken(p));
	ck_assert(!priv_dpkg_snap_clean(&s));
	priv_dpkg_snap_free(&s);
}
END_TEST

START_TEST(empty_and_missing)
{
	struct dpkg_snap s;
	char err[256] = "";

	write_status("");
	ck_assert_int_eq(priv_dpkg_snap_read(root, "amd64", &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.n, 0);
	ck_assert(priv_dpkg_snap_clean(&s));
	priv_dpkg_snap_free(&s);
	ck_assert_int_eq(priv_dpkg_snap_read("/nonexistent-root", "amd64", &s, err, sizeof(err)), -1);
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
	ck_assert_int_eq(priv_dpkg_snap_read(root, "amd64", &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_uint_lt(strlen(s.p[0].name), APTSHIM_NAME_MAX);
	ck_assert_uint_lt(strlen(s.p[0].version), APTSHIM_VER_MAX);
	priv_dpkg_snap_free(&s);
	free(text);
}
END_TEST

/* dpkg's flags: "install reinstreq half-installed" is the state dpkg
 * leaves when cut short in a preinst; reinstreq alone (even on an
 * installed package) is what dpkg --audit calls "in a mess". */
START_TEST(flags_and_wants)
{
	struct dpkg_snap s;
	char err[256], what[256];
	const struct dpkg_pkg *p;

	clear_updates();
	write_status("Package: pre\nStatus: install reinstreq half-installed\nVersion: 1.0\n\n"
		     "Package: flagged\nStatus: install reinstreq installed\nVersion: 2.0\n\n"
		     "Package: oldflag\nStatus: hold hold-reinstreq installed\nVersion: 3.0\n\n"
		     "Package: ok\nStatus: install ok installed\nVersion: 1.0\n\n"
		     "Package: going\nStatus: deinstall ok half-installed\nVersion: 1.0\n\n"
		     "Package: trig\nStatus: install ok triggers-pending\nVersion: 1.0\n\n"
		     "Package: odd\nStatus: installed\nVersion: 1.0\n");
	ck_assert_int_eq(priv_dpkg_snap_read(root, "amd64", &s, err, sizeof(err)), 0);
	p = priv_dpkg_snap_find(&s, "pre");
	ck_assert(p->reinstreq && priv_dpkg_broken(p) && priv_dpkg_present(p));
	ck_assert_str_eq(p->want, "install");
	ck_assert_str_eq(p->state, "half-installed");
	priv_dpkg_describe(p, what, sizeof(what));
	ck_assert_str_eq(what, "pre is half-installed (reinstreq)");
	p = priv_dpkg_snap_find(&s, "flagged");
	ck_assert(p->reinstreq && priv_dpkg_broken(p));   /* the fast path must not call this installed */
	priv_dpkg_describe(p, what, sizeof(what));
	ck_assert_str_eq(what, "flagged is installed but flagged reinstreq (dpkg must reinstall it)");
	ck_assert(priv_dpkg_snap_find(&s, "oldflag")->reinstreq);
	ck_assert(!priv_dpkg_broken(priv_dpkg_snap_find(&s, "ok")));
	priv_dpkg_describe(priv_dpkg_snap_find(&s, "ok"), what, sizeof(what));
	ck_assert_str_eq(what, "");
	ck_assert_str_eq(priv_dpkg_snap_find(&s, "going")->want, "deinstall");
	ck_assert(priv_dpkg_broken(priv_dpkg_snap_find(&s, "trig")));
	ck_assert_str_eq(priv_dpkg_snap_find(&s, "odd")->state, "installed");   /* one word: the state */
	priv_dpkg_snap_free(&s);
}
END_TEST

/* A run cut short leaves its last word in updates/: dpkg's view applies
 * it in numeric order, later entries winning; dpkg's scratch file is not
 * an entry. */
START_TEST(updates_journal_is_applied)
{
	struct dpkg_snap s;
	char err[256];

	clear_updates();
	write_status("Package: a\nStatus: install ok installed\nVersion: 1.0\n\n"
		     "Package: b\nStatus: install ok installed\nVersion: 1.0\n");
	ck_assert_int_eq(priv_dpkg_updates_pending(root), 0);
	write_file("updates/0010", "Package: a\nStatus: install ok half-configured\nVersion: 1.2\n");
	write_file("updates/0002", "Package: a\nStatus: install reinstreq half-installed\nVersion: 1.1\n");
	write_file("updates/0001", "Package: new\nStatus: install reinstreq half-installed\nVersion: 9\n");
	write_file("updates/tmp.i", "#padding\nPackage: bogus\nStatus: install ok installed\n");
	ck_assert_int_eq(priv_dpkg_updates_pending(root), 1);
	ck_assert_int_eq(priv_dpkg_snap_read(root, "amd64", &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_str_eq(priv_dpkg_snap_find(&s, "a")->version, "1.2");   /* 0010 after 0002 */
	ck_assert_str_eq(priv_dpkg_snap_find(&s, "a")->state, "half-configured");
	ck_assert(!priv_dpkg_snap_find(&s, "a")->reinstreq);
	ck_assert_str_eq(priv_dpkg_snap_find(&s, "new")->state, "half-installed");
	ck_assert_ptr_null(priv_dpkg_snap_find(&s, "bogus"));
	ck_assert(!priv_dpkg_snap_clean(&s));
	priv_dpkg_snap_free(&s);
	clear_updates();
}
END_TEST

/* The journal's copy (status then each entry, one file) reads back to the
 * same view. */
START_TEST(dump_reads_back_the_same_view)
{
	struct dpkg_snap live, copy;
	char err[256], path[256];
	FILE *f;

	clear_updates();
	write_status(STATUS);
	write_file("updates/0000", "Package: nginx\nStatus: install reinstreq half-installed\nArchitecture: amd64\n"
				   "Version: 1.24.0-1");   /* no final newline: the dump still separates it */
	write_file("updates/0001", "Package: extra\nStatus: install ok unpacked\nVersion: 5\n");
	snprintf(path, sizeof(path), "%s/copy", root);
	f = fopen(path, "w+");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(priv_dpkg_status_dump(root, fileno(f)), 0);
	fclose(f);
	ck_assert_int_eq(priv_dpkg_snap_read(root, "amd64", &live, err, sizeof(err)), 0);
	ck_assert_int_eq(priv_dpkg_snap_read_file(path, "amd64", &copy, err, sizeof(err)), 0);
	ck_assert_uint_eq(live.n, copy.n);
	ck_assert_uint_eq(live.n, 7);
	for (size_t i = 0; i < live.n; i++) {
		ck_assert_str_eq(live.p[i].name, copy.p[i].name);
		ck_assert_str_eq(live.p[i].version, copy.p[i].version);
		ck_assert_str_eq(live.p[i].state, copy.p[i].state);
		ck_assert_int_eq(live.p[i].reinstreq, copy.p[i].reinstreq);
	}
	ck_assert_str_eq(priv_dpkg_snap_find(&copy, "nginx")->version, "1.24.0-1");
	ck_assert(priv_dpkg_snap_find(&copy, "nginx")->reinstreq);
	priv_dpkg_snap_free(&live);
	priv_dpkg_snap_free(&copy);
	unlink(path);
	clear_updates();
	ck_assert_int_eq(priv_dpkg_snap_read_file("/nonexistent-copy", "amd64", &copy, err, sizeof(err)), -1);
}
END_TEST

static void cleanup(void)
{
	static const char *const rel[] = { "var/lib/dpkg/status", "var/lib/dpkg/updates", "var/lib/dpkg", "var/lib", "var", "" };
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
	tcase_add_test(tc, flags_and_wants);
	tcase_add_test(tc, updates_journal_is_applied);
	tcase_add_test(tc, dump_reads_back_the_same_view);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
