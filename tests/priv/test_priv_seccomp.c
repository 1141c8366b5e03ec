/* priv's seccomp denylist: what no package operation needs is refused with
 * EPERM, while what dpkg needs (fork, exec, setuid helpers) keeps working.
 * Needs root: without CAP_SYS_ADMIN the filter cannot be loaded without
 * no_new_privs, and the baselines below assume root. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/priv/priv.h"

typedef int (*child_fn)(void);

static int run_child(child_fn fn)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(fn());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static void assert_exit_zero(child_fn fn)
{
	int status = run_child(fn);

	ck_assert_msg(WIFEXITED(status), "child died of signal %d",
		      WIFSIGNALED(status) ? WTERMSIG(status) : -1);
	ck_assert_msg(WEXITSTATUS(status) == 0, "child failed at step %d", WEXITSTATUS(status));
}

static int eperm(long rc)
{
	return rc == -1 && errno == EPERM;
}

/* Without the filter, root gets ENOENT for a module that is not loaded:
 * the EPERM below comes from the filter, not from missing privileges. */
START_TEST(test_baseline_without_filter)
{
	errno = 0;
	ck_assert_int_eq(syscall(SYS_delete_module, "celeryroot_nonexistent", 0), -1);
	ck_assert_msg(errno == ENOENT || errno == ENOSYS, "baseline errno %d (%s)", errno,
		      strerror(errno));
}
END_TEST

static int do_denied(void)
{
	if (priv_sandbox_apply() != 0)
		return 100;
	if (!eperm(syscall(SYS_delete_module, "celeryroot_nonexistent", 0)))
		return 1;
	if (!eperm(syscall(SYS_init_module, NULL, 0, "")))
		return 2;
	if (!eperm(syscall(SYS_kexec_load, 0, 0, NULL, 0)))
		return 3;
	if (!eperm(mount("none", "/nonexistent", "tmpfs", 0, NULL)))
		return 4;
	if (!eperm(unshare(CLONE_NEWNS)))
		return 5;
	if (!eperm(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0)))
		return 6;
	if (!eperm(syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0)))
		return 7;
	if (!eperm(syscall(SYS_bpf, 0, NULL, 0)))
		return 8;
	if (!eperm(syscall(SYS_reboot, 0, 0, 0, NULL)))   /* bad magic: harmless anyway */
		return 9;
	if (!eperm(personality(PER_LINUX | ADDR_NO_RANDOMIZE)))
		return 10;
	return 0;
}

START_TEST(test_denied_calls_get_eperm)
{
	assert_exit_zero(do_denied);
}
END_TEST

/* What dpkg and maintainer scripts need still works under the filter. */
static int do_allowed(void)
{
	char *argv[] = { "true", NULL }, *envp[] = { NULL };
	int status;
	pid_t pid;
	char line[128];
	FILE *f;

	if (priv_sandbox_apply() != 0)
		return 100;
	if (personality(0xffffffff) == -1)   /* the query stays allowed */
		return 1;
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		execve("/bin/true", argv, envp);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 3;
	/* no_new_privs stays off: setuid helpers in maintainer scripts work. */
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0)
		return 4;
	/* The filter is really there (and inherited by what priv spawns). */
	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return 5;
	int mode = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	fclose(f);
	return mode == 2 ? 0 : 6;
}

START_TEST(test_package_operations_still_work)
{
	assert_exit_zero(do_allowed);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("priv_sandbox");
	TCase *tc = tcase_create("seccomp");
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: priv's denylist test needs root\n");
		return 77;
	}
	tcase_add_test(tc, test_baseline_without_filter);
	tcase_add_test(tc, test_denied_calls_get_eperm);
	tcase_add_test(tc, test_package_operations_still_work);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
