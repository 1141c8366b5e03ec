/* Unit tests for sigloop.c: the stop signals net and priv both set up.
 * Each test starts from default dispositions and an empty mask (also when
 * check runs them in one process, CK_FORK=no). */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdlib.h>

#include "sigloop.h"

static volatile sig_atomic_t stops, childs;

static void on_stop(int sig)
{
	(void)sig;
	stops++;
}

static void on_child(int sig)
{
	(void)sig;
	childs++;
}

static void fresh(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGCHLD, SIGPIPE, SIGUSR1 };
	sigset_t none;

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	stops = childs = 0;
}

static int blocked_now(int sig)
{
	sigset_t cur;

	sigprocmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, sig);
}

START_TEST(masks)
{
	sigset_t pre, waitmask, oldmask;

	/* Whatever the caller had blocked stays blocked, in both masks. */
	sigemptyset(&pre);
	sigaddset(&pre, SIGUSR1);
	sigprocmask(SIG_SETMASK, &pre, NULL);
	cr_loop_signals(on_stop, on_child, &waitmask, &oldmask);
	ck_assert(sigismember(&oldmask, SIGUSR1));
	ck_assert(!sigismember(&oldmask, SIGTERM));
	ck_assert(sigismember(&waitmask, SIGUSR1));
	ck_assert(blocked_now(SIGTERM) && blocked_now(SIGINT) && blocked_now(SIGCHLD) && blocked_now(SIGUSR1));
	ck_assert(!sigismember(&waitmask, SIGTERM));
	ck_assert(!sigismember(&waitmask, SIGINT));
	ck_assert(!sigismember(&waitmask, SIGCHLD));
}
END_TEST

START_TEST(dispositions)
{
	struct sigaction sa;
	sigset_t waitmask, oldmask;

	cr_loop_signals(on_stop, on_child, &waitmask, &oldmask);
	sigaction(SIGPIPE, NULL, &sa);
	ck_assert(sa.sa_handler == SIG_IGN);
	sigaction(SIGTERM, NULL, &sa);
	ck_assert(sa.sa_handler == on_stop);
	ck_assert_int_eq(sa.sa_flags & SA_RESTART, 0);   /* ppoll must return EINTR */
	sigaction(SIGINT, NULL, &sa);
	ck_assert(sa.sa_handler == on_stop);
	sigaction(SIGCHLD, NULL, &sa);
	ck_assert(sa.sa_handler == on_child);
	ck_assert_int_eq(sa.sa_flags & SA_RESTART, 0);
}
END_TEST

/* A stop request waits, blocked, until the loop sleeps with waitmask. */
START_TEST(delivered_only_when_waiting)
{
	sigset_t waitmask, oldmask;

	cr_loop_signals(on_stop, on_child, &waitmask, &oldmask);
	raise(SIGTERM);
	raise(SIGCHLD);
	ck_assert_int_eq(stops, 0);
	ck_assert_int_eq(childs, 0);
	sigsuspend(&waitmask);
	while (stops == 0 || childs == 0)
		sigsuspend(&waitmask);
	ck_assert_int_eq(stops, 1);
	ck_assert_int_eq(childs, 1);
}
END_TEST

/* net has no children of its own to wait for: SIGCHLD is left alone. */
START_TEST(without_child)
{
	struct sigaction sa;
	sigset_t waitmask, oldmask;

	signal(SIGCHLD, SIG_DFL);
	cr_loop_signals(on_stop, NULL, &waitmask, &oldmask);
	ck_assert(!blocked_now(SIGCHLD));
	sigaction(SIGCHLD, NULL, &sa);
	ck_assert(sa.sa_handler == SIG_DFL);
	ck_assert(blocked_now(SIGTERM) && blocked_now(SIGINT));
	ck_assert(!sigismember(&waitmask, SIGTERM));
	raise(SIGINT);
	ck_assert_int_eq(stops, 0);
	while (stops == 0)
		sigsuspend(&waitmask);
	ck_assert_int_eq(stops, 1);
}
END_TEST

static Suite *sigloop_suite(void)
{
	Suite *s = suite_create("sigloop");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, fresh, NULL);
	tcase_add_test(tc, masks);
	tcase_add_test(tc, dispositions);
	tcase_add_test(tc, delivered_only_when_waiting);
	tcase_add_test(tc, without_child);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sigloop_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
