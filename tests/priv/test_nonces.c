/* Unit tests for priv's nonce file (nonce_codec.c, nonces.c): what keeps a
 * signed request from running twice on this host, across restarts. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nonces.h"

#define NONCE "0123456789abcdef0123456789abcdef"
#define TASK "221d2fcc-146d-432e-9635-8ac05f046af4"
#define NOW 1800000000.0

static char root[] = "/tmp/crtest-nonces-XXXXXX";

static int parses(const char *line)
{
	struct nonce_rec r;
	char err[128] = "";
	int rc = priv_nonce_parse_line(line, strlen(line), &r, err, sizeof(err));

	if (rc < 0)
		ck_assert_msg(err[0] != '\0', "no reason for '%s'", line);
	return rc == 0;
}

START_TEST(codec)
{
	struct nonce_rec r = { .expires = 1800003600 }, back;
	char line[NONCE_LINE_MAX + 2], err[128];
	int n;

	strcpy(r.key, "alice");
	strcpy(r.nonce, NONCE);
	strcpy(r.task, TASK);
	n = priv_nonce_format_line(&r, line, sizeof(line));
	ck_assert_int_gt(n, 0);
	ck_assert_str_eq(line, "1800003600 alice " NONCE " " TASK "\n");
	ck_assert_int_eq(priv_nonce_parse_line(line, (size_t)n - 1, &back, err, sizeof(err)), 0);
	ck_assert(back.expires == r.expires && !strcmp(back.key, "alice") && !strcmp(back.nonce, NONCE) &&
		  !strcmp(back.task, TASK));
	/* Exactly the form the formatter writes, every field checked. */
	ck_assert(!parses("01800003600 alice " NONCE " " TASK));
	ck_assert(!parses("1800003600000 alice " NONCE " " TASK));
	ck_assert(!parses("-1 alice " NONCE " " TASK));
	ck_assert(!parses("18e8 alice " NONCE " " TASK));
	ck_assert(!parses("1800003600 Alice " NONCE " " TASK));
	ck_assert(!parses("1800003600 alice 0123456789ABCDEF0123456789abcdef " TASK));
	ck_assert(!parses("1800003600 alice " NONCE "0 " TASK));
	ck_assert(!parses("1800003600 alice " NONCE " " TASK " extra"));
	ck_assert(!parses("1800003600 alice " NONCE " " TASK " "));
	ck_assert(!parses("1800003600  alice " NONCE " " TASK));
	ck_assert(!parses("1800003600 alice " NONCE));
	ck_assert(!parses("1800003600 alice " NONCE " $(reboot)"));
	ck_assert(!parses(""));
	ck_assert(priv_nonce_parse_line("1 a " NONCE " t\0x", 41, &back, err, sizeof(err)) < 0);
	ck_assert(parses("1 a " NONCE " t"));
	strcpy(r.task, "bad task");
	ck_assert_int_eq(priv_nonce_format_line(&r, line, sizeof(line)), -1);
}
END_TEST

static struct nonce_rec rec(const char *key, int i, const char *task, long long expires)
{
	struct nonce_rec r = { .expires = expires };

	strcpy(r.key, key);
	snprintf(r.nonce, sizeof(r.nonce), "%032x", i);
	strcpy(r.task, task);
	return r;
}

static void state_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/var/lib/celeryroot/%s", root, name);
}

static struct nonce_store *open_store(double now, long *loaded, long *dropped)
{
	struct nonce_store *s = NULL;
	char err[512] = "";

	ck_assert_msg(priv_nonces_open(&s, root, now, loaded, dropped, err, sizeof(err)) == 0, "%s", err);
	return s;
}

START_TEST(use_and_restart)
{
	struct nonce_rec a = rec("alice", 1, TASK, (long long)NOW + 3600), other = a;
	char err[512], path[4096];
	long loaded, dropped;
	struct nonce_store *s;
	struct stat sb;

	strcpy(other.task, "other-task");
	s = open_store(NOW, &loaded, &dropped);
	ck_assert_int_eq(loaded, 0);
	ck_assert_int_eq(priv_nonces_use(s, &a, NOW, err, sizeof(err)), NONCE_NEW);
	ck_assert_int_eq(priv_nonces_use(s, &a, NOW, err, sizeof(err)), NONCE_AGAIN);
	ck_assert_int_eq(priv_nonces_use(s, &other, NOW, err, sizeof(err)), NONCE_REPLAY);
	ck_assert_ptr_nonnull(strstr(err, "replayed"));
	/* The same nonce under another key is another request. */
	struct nonce_rec bob = a;
	strcpy(bob.key, "bob");
	ck_assert_int_eq(priv_nonces_use(s, &bob, NOW, err, sizeof(err)), NONCE_NEW);
	priv_nonces_close(s);
	state_path(path, sizeof(path), NONCES_FILE);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);

	/* A restart remembers; past the expiry the nonce is forgotten. */
	s = open_store(NOW + 10, &loaded, &dropped);
	ck_assert_int_eq(loaded, 2);
	ck_assert_int_eq(priv_nonces_use(s, &other, NOW + 10, err, sizeof(err)), NONCE_REPLAY);
	ck_assert_int_eq(priv_nonces_use(s, &a, NOW + 10, err, sizeof(err)), NONCE_AGAIN);
	ck_assert_int_eq(priv_nonces_live(s, NOW + 10), 2);
	ck_assert_int_eq(priv_nonces_live(s, NOW + 7200), 0);
	priv_nonces_close(s);
	s = open_store(NOW + 7200, &loaded, &dropped);
	ck_assert_int_eq(loaded, 0);
	ck_assert_int_eq(dropped, 2);
	priv_nonces_close(s);
}
END_TEST

static void write_state(const char *name, const char *text, mode_t mode)
{
	char path[4096];
	int fd;

	state_path(path, sizeof(path), name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

START_TEST(damaged_and_open_files)
{
	char err[512], path[4096], text[1024];
	struct nonce_store *s = NULL;
	long loaded, dropped;

	/* A torn last line, garbage and an expired line are dropped; the rest stays. */
	snprintf(text, sizeof(text), NONCES_HEADER "\n%lld alice %032x t1\ngarbage\n%lld alice %032x t2\n%lld alice %032x t3",
		 (long long)NOW + 60, 1, (long long)NOW - 1, 2, (long long)NOW + 60, 3);
	write_state(NONCES_FILE, text, 0600);
	s = open_store(NOW, &loaded, &dropped);
	ck_assert_int_eq(loaded, 1);
	ck_assert_int_eq(dropped, 3);
	struct nonce_rec r = rec("alice", 1, "t9", (long long)NOW + 60);
	ck_assert_int_eq(priv_nonces_use(s, &r, NOW, err, sizeof(err)), NONCE_REPLAY);
	r = rec("alice", 3, "t9", (long long)NOW + 60);
	ck_assert_int_eq(priv_nonces_use(s, &r, NOW, err, sizeof(err)), NONCE_NEW);
	priv_nonces_close(s);
	/* Written again without what was dropped. */
	state_path(path, sizeof(path), NONCES_FILE);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	ck_assert_ptr_null(strstr(text, "garbage"));
	ck_assert_ptr_null(strstr(text, " t2\n"));
	ck_assert_ptr_nonnull(strstr(text, " t1\n"));
	ck_assert_ptr_nonnull(strstr(text, " t9\n"));

	/* Others could erase a nonce: refused, with the fix. */
	chmod(path, 0644);
	ck_assert_int_eq(priv_nonces_open(&s, root, NOW, &loaded, &dropped, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
	chmod(path, 0600);
	ck_assert_int_eq(chown(path, 65534, 65534), 0);
	ck_assert_int_eq(priv_nonces_open(&s, root, NOW, &loaded, &dropped, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "chown root"));
	unlink(path);
	ck_assert_int_eq(symlink("/etc/passwd", path), 0);
	ck_assert_int_eq(priv_nonces_open(&s, root, NOW, &loaded, &dropped, err, sizeof(err)), -1);
	unlink(path);
}
END_TEST

/* NONCES_MAX live entries: the next new one is refused (never one
 * forgotten), and room comes back as they expire. */
START_TEST(bounded)
{
	char err[512], path[4096], line[NONCE_LINE_MAX + 2];
	long loaded, dropped;
	struct nonce_store *s;
	FILE *f;

	state_path(path, sizeof(path), NONCES_FILE);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(NONCES_HEADER "\n", f);
	for (int i = 0; i < NONCES_MAX; i++) {
		struct nonce_rec r = rec("alice", i, TASK, (long long)NOW + 60 + (i % 2) * 3600);
		ck_assert_int_gt(priv_nonce_format_line(&r, line, sizeof(line)), 0);
		fputs(line, f);
	}
	fclose(f);
	chmod(path, 0600);
	s = open_store(NOW, &loaded, &dropped);
	ck_assert_int_eq(loaded, NONCES_MAX);
	struct nonce_rec one = rec("alice", NONCES_MAX + 1, TASK, (long long)NOW + 60);
	ck_assert_int_eq(priv_nonces_use(s, &one, NOW, err, sizeof(err)), NONCE_FULL);
	ck_assert_ptr_nonnull(strstr(err, "100000"));
	/* Every one of them is still known. */
	struct nonce_rec old = rec("alice", 77, "another", (long long)NOW + 60);
	ck_assert_int_eq(priv_nonces_use(s, &old, NOW, err, sizeof(err)), NONCE_REPLAY);
	/* Half of them expire: there is room again, and the rest are kept. */
	ck_assert_int_eq(priv_nonces_use(s, &one, NOW + 120, err, sizeof(err)), NONCE_NEW);
	old = rec("alice", 78, "another", (long long)NOW + 60);   /* an expired one: free */
	ck_assert_int_eq(priv_nonces_use(s, &old, NOW + 120, err, sizeof(err)), NONCE_NEW);
	old = rec("alice", 79, "another", (long long)NOW + 60);   /* a live one */
	ck_assert_int_eq(priv_nonces_use(s, &old, NOW + 120, err, sizeof(err)), NONCE_REPLAY);
	priv_nonces_close(s);
	unlink(path);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("nonces");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	if (sodium_init() < 0 || mkdtemp(root) == NULL)
		return EXIT_FAILURE;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/var", root);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/var/lib", root);
	mkdir(dir, 0755);
	tcase_add_test(tc, codec);
	tcase_add_test(tc, use_and_restart);
	tcase_add_test(tc, damaged_and_open_files);
	tcase_add_test(tc, bounded);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		failed++;
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
