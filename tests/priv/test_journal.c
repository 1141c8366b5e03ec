/* Unit tests for the change journal (journal_codec.c, journal.c): what priv
 * reads back after a crash to decide whether a task ran, ran halfway or
 * never ran. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dpkg_status.h"
#include "journal.h"

#define TASK "221d2fcc-146d-432e-9635-8ac05f046af4"

static char root[] = "/tmp/crtest-journal-XXXXXX";

static void entry(struct journal_entry *e, enum journal_phase phase)
{
	memset(e, 0, sizeof(*e));
	e->phase = phase;
	strcpy(e->task, TASK);
	strcpy(e->job, "job-1");
	strcpy(e->op, "install");
	e->packages = json_pack("[s, s]", "nginx", "curl=7.88.1-10");
	e->started_s = 1800000000.25;
	priv_journal_iso_time(e->started_s, e->started, sizeof(e->started));
	e->pid = 4242;
	e->attempt = 1;
	if (phase == JOURNAL_FINISHED) {
		strcpy(e->finished, "2027-01-15T08:00:01.000Z");
		e->audited = 1;
		e->reply = json_pack("{s:b, s:{s:{s:n, s:s}}}", "changed", 1, "changes", "nginx", "old", "new", "1.22");
	}
}

static int decodes(const char *text, const char *task)
{
	struct journal_entry e;
	char err[256];
	int rc = priv_journal_decode(text, strlen(text), task, &e, err, sizeof(err));

	if (rc == 0)
		priv_journal_entry_clear(&e);
	else
		ck_assert(strstr(err, "bad journal entry") != NULL);
	return rc == 0;
}

START_TEST(round_trip)
{
	struct journal_entry e, back;
	char err[256];
	size_t len = 0;

	for (int phase = JOURNAL_STARTED; phase <= JOURNAL_FINISHED; phase++) {
		entry(&e, (enum journal_phase)phase);
		char *text = priv_journal_encode(&e, &len);
		ck_assert_ptr_nonnull(text);
		ck_assert_int_eq(priv_journal_decode(text, len, TASK, &back, err, sizeof(err)), 0);
		ck_assert_int_eq(back.phase, phase);
		ck_assert_str_eq(back.task, TASK);
		ck_assert_str_eq(back.job, "job-1");
		ck_assert_str_eq(back.op, "install");
		ck_assert_str_eq(back.started, "2027-01-15T08:00:00.250Z");
		ck_assert(back.started_s == e.started_s);
		ck_assert_int_eq(back.pid, 4242);
		ck_assert_int_eq(back.attempt, 1);
		ck_assert(json_equal(back.packages, e.packages));
		if (phase == JOURNAL_FINISHED) {
			ck_assert(json_equal(back.reply, e.reply));
			ck_assert_int_eq(back.audited, 1);
			ck_assert_str_eq(back.finished, e.finished);
		}
		free(text);
		priv_journal_entry_clear(&back);
		priv_journal_entry_clear(&e);
	}
}
END_TEST

START_TEST(decoder_refuses)
{
	const char *ok = "{\"version\":1,\"phase\":\"started\",\"task\":\"" TASK "\",\"job\":\"\",\"op\":\"remove\","
			 "\"packages\":[\"a-b\"],\"started\":\"x\",\"started_s\":1,\"pid\":7,\"attempt\":2}";
	char buf[1024];

	ck_assert(decodes(ok, TASK));
	ck_assert(!decodes(ok, "another-task"));   /* not this task's entry */
	ck_assert(!decodes("", TASK));
	ck_assert(!decodes("[]", TASK));
	ck_assert(!decodes("{\"version\":1}", TASK));
	/* every field, one bad value at a time */
	static const char *const swaps[][2] = {
		{ "\"version\":1", "\"version\":2" },       { "\"phase\":\"started\"", "\"phase\":\"begun\"" },
		{ "\"pid\":7", "\"pid\":0" },              { "\"pid\":7", "\"pid\":\"7\"" },
		{ "\"attempt\":2", "\"attempt\":0" },      { "\"started_s\":1", "\"started_s\":-1" },
		{ "\"packages\":[\"a-b\"]", "\"packages\":[\"-oFoo=1\"]" },
		{ "\"packages\":[\"a-b\"]", "\"packages\":\"a-b\"" }, { "\"job\":\"\"", "\"job\":\"../x\"" },
		{ "\"op\":\"remove\"", "\"op\":\"re\\nmove\"" }, { "\"attempt\":2", "\"attempt\":2,\"cmd\":\"sh\"" },
		{ "\"attempt\":2", "\"attempt\":2,\"attempt\":3" },
		/* a started entry carries no reply */
		{ "\"attempt\":2", "\"attempt\":2,\"reply\":{}" },
	};
	for (size_t i = 0; i < sizeof(swaps) / sizeof(swaps[0]); i++) {
		const char *at = strstr(ok, swaps[i][0]);
		ck_assert_ptr_nonnull(at);
		snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - ok), ok, swaps[i][1], at + strlen(swaps[i][0]));
		ck_assert_msg(!decodes(buf, TASK), "accepted: %s", buf);
	}
	/* finished needs its finish time, "audited" and a reply that is an object */
	static const char *const fin = "{\"version\":1,\"phase\":\"finished\",\"task\":\"" TASK "\",\"job\":\"\","
				       "\"op\":\"remove\",\"packages\":[],\"started\":\"x\",\"started_s\":1,\"pid\":7,"
				       "\"attempt\":1,\"finished\":\"y\",\"audited\":false,\"reply\":%s}";
	snprintf(buf, sizeof(buf), fin, "{\"changed\":false}");
	ck_assert(decodes(buf, TASK));
	snprintf(buf, sizeof(buf), fin, "[]");
	ck_assert(!decodes(buf, TASK));
	snprintf(buf, sizeof(buf), fin, "null");
	ck_assert(!decodes(buf, TASK));
	snprintf(buf, sizeof(buf), "%.*s}", (int)(strstr(fin, ",\"audited\"") - fin), fin);
	ck_assert(!decodes(buf, TASK));
}
END_TEST

START_TEST(too_large_is_refused)
{
	size_t n = JOURNAL_MAX_BYTES + 2;
	char *big = malloc(n + 1);
	struct journal_entry e;
	char err[128];

	ck_assert_ptr_nonnull(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	big[n] = '\0';
	ck_assert_int_eq(priv_journal_decode(big, n, TASK, &e, err, sizeof(err)), -1);
	free(big);
}
END_TEST

/* ---- the files ---------------------------------------------------------- */

static void mkdirs(void)
{
	char path[256];
	static const char *const rel[] = { "var", "var/lib", "var/lib/dpkg", "var/lib/dpkg/updates" };

	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, rel[i]);
		mkdir(path, 0755);
	}
	snprintf(path, sizeof(path), "%s/var/lib/dpkg/status", root);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("Package: a\nStatus: install ok installed\nVersion: 1.0\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/var/lib/dpkg/updates/0000", root);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("Package: b\nStatus: install reinstreq half-installed\nVersion: 2.0\n", f);
	fclose(f);
}

static void rm_rf(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/var'", root);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(store_load_and_status_copy)
{
	struct journal_entry e, back;
	struct dpkg_snap s;
	struct journal j;
	char err[512], path[PATH_MAX + 128];
	struct stat st;

	mkdirs();
	ck_assert_int_eq(priv_journal_open(&j, root, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/var/lib/celeryroot", root);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	ck_assert_int_eq(priv_journal_load(&j, TASK, &back, err, sizeof(err)), 0);   /* none yet */
	entry(&e, JOURNAL_STARTED);
	ck_assert_int_eq(priv_journal_save_status(&j, TASK, root, err, sizeof(err)), 0);
	ck_assert_int_eq(priv_journal_store(&j, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(priv_journal_load(&j, TASK, &back, err, sizeof(err)), 1);
	ck_assert_int_eq(back.phase, JOURNAL_STARTED);
	priv_journal_entry_clear(&back);
	/* the copy is dpkg's view, journal included */
	ck_assert(priv_journal_status_path(&j, TASK, path, sizeof(path)));
	ck_assert_int_eq(priv_dpkg_snap_read_file(path, "amd64", &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.n, 2);
	ck_assert(priv_dpkg_snap_find(&s, "b")->reinstreq);
	priv_dpkg_snap_free(&s);
	priv_journal_entry_clear(&e);
	entry(&e, JOURNAL_FINISHED);
	ck_assert_int_eq(priv_journal_store(&j, &e, err, sizeof(err)), 0);
	priv_journal_drop_status(&j, TASK);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(priv_journal_load(&j, TASK, &back, err, sizeof(err)), 1);
	ck_assert_int_eq(back.phase, JOURNAL_FINISHED);
	ck_assert(json_equal(back.reply, e.reply));
	priv_journal_entry_clear(&back);
	priv_journal_entry_clear(&e);
	/* a damaged entry: the task runs as new (logged) */
	snprintf(path, sizeof(path), "%s/%s.json", j.dir, TASK);
	FILE *f = fopen(path, "w");
	fputs("{\"version\":1,\"phase\":\"fini", f);
	fclose(f);
	ck_assert_int_eq(priv_journal_load(&j, TASK, &back, err, sizeof(err)), 0);
	/* task ids are checked before they name a file */
	ck_assert_int_eq(priv_journal_load(&j, "../../etc/passwd", &back, err, sizeof(err)), -1);
	ck_assert_int_eq(priv_journal_save_status(&j, "a/b", root, err, sizeof(err)), -1);
	priv_journal_close(&j);
	rm_rf();
}
END_TEST

START_TEST(state_dir_must_be_private)
{
	struct journal j;
	char err[512], path[256], target[256];

	mkdirs();
	snprintf(path, sizeof(path), "%s/var/lib/celeryroot", root);
	ck_assert_int_eq(mkdir(path, 0777), 0);
	ck_assert_int_eq(chmod(path, 0777), 0);
	ck_assert_int_eq(priv_journal_open(&j, root, err, sizeof(err)), -1);
	ck_assert(strstr(err, "no one else can write") != NULL);
	ck_assert_int_eq(rmdir(path), 0);
	/* a symlink elsewhere is not priv's directory */
	snprintf(target, sizeof(target), "%s/elsewhere", root);
	ck_assert_int_eq(mkdir(target, 0700), 0);
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(priv_journal_open(&j, root, err, sizeof(err)), -1);
	unlink(path);
	rmdir(target);
	rm_rf();
}
END_TEST

static void touch(struct journal *j, const char *name, time_t mtime)
{
	struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };
	int fd = openat(j->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "{}", 2), 2);
	close(fd);
	ck_assert_int_eq(utimensat(j->dirfd, name, ts, 0), 0);
}

static int present(struct journal *j, const char *name)
{
	struct stat st;
	return fstatat(j->dirfd, name, &st, 0) == 0;
}

START_TEST(prune_keeps_what_matters)
{
	const time_t now = 1800000000, day = 86400;
	struct journal j;
	char err[512], name[64];

	mkdirs();
	ck_assert_int_eq(priv_journal_open(&j, root, err, sizeof(err)), 0);
	touch(&j, "old-finished.json", now - 31 * day);
	touch(&j, "old-started.json", now - 31 * day);
	touch(&j, "old-started.status", now - 31 * day);
	touch(&j, "young-started.json", now - 29 * day);
	touch(&j, "young-started.status", now - 29 * day);
	touch(&j, "orphan.status", now);               /* a crash between the copy and the entry */
	touch(&j, "x.json.tmp", now);                   /* a crash mid-write */
	touch(&j, "not-ours", now - 90 * day);          /* left alone */
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "f%d.json", i);
		touch(&j, name, now - (10 - i) * day);
	}
	/* keep 30 days, at most 4 entries: f0 and f1 (the oldest finished) go
	 * over the cap, the young started one stays whatever the cap */
	ck_assert_int_eq(priv_journal_prune(&j, now, 30 * day, 4), 7);
	ck_assert(!present(&j, "old-finished.json"));
	ck_assert(!present(&j, "old-started.json") && !present(&j, "old-started.status"));
	ck_assert(present(&j, "young-started.json") && present(&j, "young-started.status"));
	ck_assert(!present(&j, "orphan.status") && !present(&j, "x.json.tmp"));
	ck_assert(present(&j, "not-ours"));
	ck_assert(!present(&j, "f0.json") && !present(&j, "f1.json"));
	ck_assert(present(&j, "f2.json") && present(&j, "f3.json") && present(&j, "f4.json"));
	ck_assert_int_eq(priv_journal_prune(&j, now, 30 * day, 4), 0);
	priv_journal_close(&j);
	rm_rf();
}
END_TEST

int main(void)
{
	Suite *su = suite_create("journal");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	if (mkdtemp(root) == NULL)
		return EXIT_FAILURE;
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, decoder_refuses);
	tcase_add_test(tc, too_large_is_refused);
	tcase_add_test(tc, store_load_and_status_copy);
	tcase_add_test(tc, state_dir_must_be_private);
	tcase_add_test(tc, prune_keeps_what_matters);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rmdir(root);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
