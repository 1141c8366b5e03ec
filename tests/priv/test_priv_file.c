/* Unit tests for priv_file.c: how priv's state files (change journal,
 * nonces, host key) are replaced whole and read back with a bound. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "priv_file.h"

static char dir[64];
static int dirfd_;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/crtest-privfile-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	dirfd_ = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dirfd_, 0);
}

static void teardown(void)
{
	char cmd[128];

	close(dirfd_);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static int fill_text(int fd, const void *arg)
{
	const char *s = arg;

	return write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
}

static int fill_fails(int fd, const void *arg)
{
	(void)arg;
	if (write(fd, "half", 4) != 4)
		return -1;
	errno = ENOSPC;
	return -1;
}

static char *slurp(const char *name, size_t max, size_t *len)
{
	int fd = openat(dirfd_, name, O_RDONLY | O_CLOEXEC);
	char *buf;

	ck_assert_int_ge(fd, 0);
	buf = priv_file_read(fd, max, len);
	close(fd);
	return buf;
}

static int exists(const char *name)
{
	struct stat st;

	return fstatat(dirfd_, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

START_TEST(replaces_whole)
{
	size_t len = 0;
	char *text;

	ck_assert_int_eq(priv_file_replace(dirfd_, "state", 0600, fill_text, "old\n"), 0);
	ck_assert_int_eq(priv_file_replace(dirfd_, "state", 0600, fill_text, "new text\n"), 0);
	text = slurp("state", 1024, &len);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(len, 9);
	ck_assert_str_eq(text, "new text\n");   /* NUL-terminated */
	free(text);
	ck_assert(!exists("state.tmp"));
}
END_TEST

/* A failed fill leaves the old file as it was, and no tmp file. */
START_TEST(failure_keeps_old)
{
	size_t len = 0;
	char *text;

	ck_assert_int_eq(priv_file_replace(dirfd_, "state", 0600, fill_text, "old\n"), 0);
	ck_assert_int_eq(priv_file_replace(dirfd_, "state", 0600, fill_fails, NULL), ENOSPC);
	text = slurp("state", 1024, &len);
	ck_assert_str_eq(text, "old\n");
	free(text);
	ck_assert(!exists("state.tmp"));
}
END_TEST

/* The mode is the one asked for whatever the umask, and a stale tmp file
 * (a crash between create and rename) is not reused with its old mode. */
START_TEST(mode_and_stale_tmp)
{
	struct stat st;
	mode_t old = umask(0077);
	int fd = openat(dirfd_, "host.pub.tmp", O_WRONLY | O_CREAT | O_EXCL, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "stale stale stale\n", 18), 18);
	close(fd);
	ck_assert_int_eq(priv_file_replace(dirfd_, "host.pub", 0644, fill_text, "pub\n"), 0);
	umask(old);
	ck_assert_int_eq(fstatat(dirfd_, "host.pub", &st, 0), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	ck_assert_int_eq((int)st.st_size, 4);
	ck_assert(!exists("host.pub.tmp"));
}
END_TEST

/* A symlink at the tmp name is removed, never followed. */
START_TEST(tmp_symlink_not_followed)
{
	char target[128];
	struct stat st;

	snprintf(target, sizeof(target), "%s/victim", dir);
	ck_assert_int_eq(symlinkat(target, dirfd_, "state.tmp"), 0);
	ck_assert_int_eq(priv_file_replace(dirfd_, "state", 0600, fill_text, "x\n"), 0);
	ck_assert(!exists("victim"));
	ck_assert_int_eq(fstatat(dirfd_, "state", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(S_ISREG(st.st_mode));
}
END_TEST

START_TEST(read_bounds)
{
	size_t len = 99;
	int fd;

	ck_assert_int_eq(priv_file_replace(dirfd_, "state", 0600, fill_text, "0123456789"), 0);
	ck_assert_ptr_null(slurp("state", 9, &len));            /* over the bound */
	free(slurp("state", 10, &len));                         /* at it */
	ck_assert_uint_eq(len, 10);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);     /* not a regular file */
	ck_assert_ptr_null(priv_file_read(fd, 1 << 20, &len));
	close(fd);
	ck_assert_int_eq(priv_file_replace(dirfd_, "empty", 0600, fill_text, ""), 0);
	char *e = slurp("empty", 10, &len);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(e, "");
	free(e);
}
END_TEST

START_TEST(long_name_refused)
{
	char name[300];

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ck_assert_int_eq(priv_file_replace(dirfd_, name, 0600, fill_text, "x"), ENAMETOOLONG);
}
END_TEST

static Suite *priv_file_suite(void)
{
	Suite *s = suite_create("priv_file");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, replaces_whole);
	tcase_add_test(tc, failure_keeps_old);
	tcase_add_test(tc, mode_and_stale_tmp);
	tcase_add_test(tc, tmp_symlink_not_followed);
	tcase_add_test(tc, read_bounds);
	tcase_add_test(tc, long_name_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(priv_file_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
