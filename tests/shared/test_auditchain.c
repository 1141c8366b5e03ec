/* Unit tests for auditchain.c: the head of a log file (bounded read from
 * its end, torn last lines) and verification line by line. */
#include "config.h"

#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auditchain.h"

/* Three chained lines, built the way priv builds them. */
static void chain3(char lines[3][256])
{
	struct audit_head h;

	cr_auditchain_genesis(&h);
	for (int i = 0; i < 3; i++) {
		snprintf(lines[i], 256, "{\"op\":\"install\",\"prev\":\"%s\",\"seq\":%d}", h.hash, i + 1);
		cr_auditchain_hash(lines[i], strlen(lines[i]), h.hash);
		h.seq = (uint64_t)i + 1;
	}
}

static int verify(char *const *lines, int n)
{
	struct audit_verify v;

	cr_auditchain_verify_init(&v);
	for (int i = 0; i < n; i++)
		if (cr_auditchain_verify_line(&v, lines[i], strlen(lines[i])) < 0)
			return (int)v.first_bad;
	return 0;
}

START_TEST(verify_intact_and_broken)
{
	char l[3][256], edited[256];
	char *ok[] = { l[0], l[1], l[2] }, *del[] = { l[0], l[2] }, *swap[] = { l[1], l[0], l[2] },
	     *dup[] = { l[0], l[0], l[1] }, *ed[] = { l[0], edited, l[2] }, *junk[] = { l[0], "not json" };

	ck_assert_int_ge(sodium_init(), 0);
	chain3(l);
	ck_assert_int_eq(verify(ok, 3), 0);
	ck_assert_int_eq(verify(del, 2), 2);
	ck_assert_int_eq(verify(swap, 3), 1);
	ck_assert_int_eq(verify(dup, 3), 2);
	strcpy(edited, l[1]);
	edited[3] = 'O';
	ck_assert_int_eq(verify(ed, 3), 3);
	ck_assert_int_eq(verify(junk, 2), 2);
}
END_TEST

static int head_of(const char *content, struct audit_head *h)
{
	char path[] = "/tmp/test_auditchain.XXXXXX";
	int fd = mkstemp(path), rc;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	rc = cr_auditchain_head(fd, h);
	close(fd);
	unlink(path);
	return rc;
}

START_TEST(head_of_files)
{
	char l[3][256], text[1024], want[AUDIT_HASH_HEX + 1];
	struct audit_head h;

	chain3(l);
	ck_assert_int_eq(head_of("", &h), 0);
	ck_assert_int_eq(h.seq, 0);
	ck_assert_int_eq(strspn(h.hash, "0"), AUDIT_HASH_HEX);
	snprintf(text, sizeof(text), "%s\n%s\n%s\n", l[0], l[1], l[2]);
	ck_assert_int_eq(head_of(text, &h), 0);
	ck_assert_int_eq(h.seq, 3);
	ck_assert_int_eq(h.torn, 0);
	cr_auditchain_hash(l[2], strlen(l[2]), want);
	ck_assert_str_eq(h.hash, want);
	/* A torn tail: the head is the last complete line. */
	snprintf(text, sizeof(text), "%s\n%s\n{\"op\":\"ins", l[0], l[1]);
	ck_assert_int_eq(head_of(text, &h), 0);
	ck_assert_int_eq(h.seq, 2);
	ck_assert_int_eq(h.torn, 1);
	ck_assert_int_eq(head_of("an old unchained line\n", &h), -1);
}
END_TEST

/* Rotated files read oldest first verify as one chain; the oldest one kept
 * starts where a file rotated away ended. */
START_TEST(verify_across_rotation)
{
	char l[3][256];
	struct audit_verify v;

	chain3(l);
	/* audit.log.1 = line 1, audit.log = lines 2-3: one chain. */
	cr_auditchain_verify_init(&v);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(cr_auditchain_verify_line(&v, l[i], strlen(l[i])), 0);
	/* Only lines 2-3 kept (line 1's file rotated away): the first is taken
	 * as it says, the next is checked against it. */
	cr_auditchain_verify_init_continued(&v);
	ck_assert_int_eq(cr_auditchain_verify_line(&v, l[1], strlen(l[1])), 0);
	ck_assert_int_eq(cr_auditchain_verify_line(&v, l[2], strlen(l[2])), 0);
	ck_assert_int_eq(v.head.seq, 3);
	/* From genesis, the same two lines are a break. */
	cr_auditchain_verify_init(&v);
	ck_assert_int_eq(cr_auditchain_verify_line(&v, l[1], strlen(l[1])), -1);
	/* Continued, a gap after the first line is still a break. */
	cr_auditchain_verify_init_continued(&v);
	ck_assert_int_eq(cr_auditchain_verify_line(&v, l[0], strlen(l[0])), 0);
	ck_assert_int_eq(cr_auditchain_verify_line(&v, l[2], strlen(l[2])), -1);
	ck_assert_int_eq(v.first_bad, 2);
	cr_auditchain_verify_init_continued(&v);
	ck_assert_int_eq(cr_auditchain_verify_line(&v, "{\"seq\":0,\"prev\":\"x\"}", 22), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auditchain");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, verify_intact_and_broken);
	tcase_add_test(tc, head_of_files);
	tcase_add_test(tc, verify_across_rotation);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
