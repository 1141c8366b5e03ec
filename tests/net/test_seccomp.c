/* net's confinement: the seccomp allowlist kills on anything not listed,
 * lets through what net needs, and the privilege drop cannot be undone.
 * Each case forks: a child enters the sandbox and reports through its exit
 * status (or dies of SIGSYS), so the test process itself stays free. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/apparmor.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Relative to this file, so that VPATH builds find them too. */
#include "../../src/net/net.h"
#include "../../src/net/net_seccomp.h"
#include "../../src/shared/crconfig.h"

typedef int (*child_fn)(void);

/* Runs fn in a child and returns its wait status. */
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

static void assert_killed_by_sigsys(child_fn fn)
{
	int status = run_child(fn);

	ck_assert_msg(WIFSIGNALED(status), "child was not killed (exit %d)",
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	ck_assert_int_eq(WTERMSIG(status), SIGSYS);
}

static void assert_exit_zero(child_fn fn)
{
	int status = run_child(fn);

	ck_assert_msg(WIFEXITED(status), "child died of signal %d",
		      WIFSIGNALED(status) ? WTERMSIG(status) : -1);
	ck_assert_msg(WEXITSTATUS(status) == 0, "child failed at step %d", WEXITSTATUS(status));
}

/* ---- forbidden calls: the child must die of SIGSYS ---------------------- */

static int sandboxed(void)
{
	return net_sandbox_apply() == 0;
}

static int do_ptrace(void)
{
	if (!sandboxed())
		return 100;
	syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
	return 1;
}

static int do_execve(void)
{
	char *argv[] = { "true", NULL }, *envp[] = { NULL };

	if (!sandboxed())
		return 100;
	execve("/bin/true", argv, envp);
	return 1;
}

static int do_packet_socket(void)
{
	if (!sandboxed())
		return 100;
	socket(AF_PACKET, SOCK_RAW, 0);
	return 1;
}

static int do_netlink_socket(void)
{
	if (!sandboxed())
		return 100;
	socket(AF_NETLINK, SOCK_RAW, 0);
	return 1;
}

static int do_mount(void)
{
	if (!sandboxed())
		return 100;
	mount("none", "/nonexistent", "tmpfs", 0, NULL);
	return 1;
}

static int do_mprotect_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || !sandboxed())
		return 100;
	mprotect(p, 4096, PROT_READ | PROT_EXEC);
	return 1;
}

static int do_mmap_exec(void)
{
	if (!sandboxed())
		return 100;
	mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return 1;
}

static int do_prctl_other(void)
{
	if (!sandboxed())
		return 100;
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return 1;
}

static int do_kill_other(void)
{
	if (!sandboxed())
		return 100;
	kill(getppid(), 0);
	return 1;
}

static int do_fork(void)
{
	if (!sandboxed())
		return 100;
	if (fork() == 0)
		_exit(0);
	return 1;
}

START_TEST(test_forbidden_calls_kill)
{
	assert_killed_by_sigsys(do_ptrace);
	assert_killed_by_sigsys(do_execve);
	assert_killed_by_sigsys(do_packet_socket);
	assert_killed_by_sigsys(do_netlink_socket);
	assert_killed_by_sigsys(do_mount);
	assert_killed_by_sigsys(do_mprotect_exec);
	assert_killed_by_sigsys(do_mmap_exec);
	assert_killed_by_sigsys(do_prctl_other);
	assert_killed_by_sigsys(do_kill_other);
	assert_killed_by_sigsys(do_fork);
}
END_TEST

/* ---- allowed calls: the child must get through all of them -------------- */

/* A loopback port nobody listens on, and one somebody does. */
static int closed_port, open_port, listen_fd = -1;

static int loopback_socket(int *port, int do_listen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0 || (do_listen && listen(fd, 4) != 0))
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

static int connect_port(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return -2;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc == 0) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
		if (send(fd, "PING\r\n", 6, MSG_NOSIGNAL) != 6)
			rc = -3;
	}
	close(fd);
	return rc;
}

static int allowed_memory(void)
{
	size_t big = 64u << 20;
	char *p = malloc(big), *q;

	if (p == NULL)
		return 1;
	memset(p, 0x5a, big);
	q = realloc(p, 2 * big);   /* mremap */
	if (q == NULL)
		return 1;
	free(q);
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || mprotect(p, 4096, PROT_READ) != 0 || munmap(p, 8192) != 0)
		return 1;
	return 0;
}

static int allowed_io(int pfd[2])
{
	struct pollfd pl = { .fd = pfd[0], .events = POLLIN };
	char buf[8];

	if (write(pfd[1], "hello", 5) != 5 || poll(&pl, 1, 1000) != 1 || read(pfd[0], buf, 8) != 5)
		return 1;
	return memcmp(buf, "hello", 5) != 0;
}

static int allowed_misc(void)
{
	struct timespec ts, nap = { 0, 1000000 };
	unsigned char rnd[16];
	struct utsname u;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0 || nanosleep(&nap, NULL) != 0)
		return 1;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return 1;
	if (getpid() <= 0 || uname(&u) != 0 || kill(getpid(), 0) != 0)
		return 1;
	return prctl(PR_SET_NAME, "sandboxed", 0, 0, 0) != 0;
}

static int allowed_soft_refusals(void)
{
	int fd = open("/etc/passwd", O_RDONLY);

	if (fd != -1 || errno != EACCES)
		return 1;
	if (fopen("/etc/hostname", "r") != NULL || errno != EACCES)
		return 1;
	return isatty(STDIN_FILENO) != 0 || errno != ENOTTY;
}

static int do_allowed(void)
{
	int pfd[2];

	if (pipe(pfd) != 0)
		return 100;
	if (!sandboxed())
		return 101;
	if (allowed_io(pfd))
		return 2;
	if (allowed_memory())
		return 3;
	if (allowed_misc())
		return 4;
	if (allowed_soft_refusals())
		return 5;
	if (connect_port(closed_port) != -1 || errno != ECONNREFUSED)
		return 6;
	if (connect_port(open_port) != 0)
		return 7;
	fprintf(stderr, "stdio still works in the sandbox\n");
	return 0;
}

START_TEST(test_allowed_calls_pass)
{
	int fd = loopback_socket(&closed_port, 0);

	ck_assert_int_ge(fd, 0);
	close(fd);
	listen_fd = loopback_socket(&open_port, 1);
	ck_assert_int_ge(listen_fd, 0);
	assert_exit_zero(do_allowed);
	close(listen_fd);
}
END_TEST

/* The trap mode names the call and exits 128+SIGSYS instead of dying. */
static int do_trap(void)
{
	if (net_sandbox_apply_trap(1) != 0)
		return 100;
	syscall(SYS_ptrace, 0, 0, 0, 0);
	return 1;
}

START_TEST(test_trap_mode)
{
	int status = run_child(do_trap);

	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 128 + SIGSYS);
}
END_TEST

/* ---- dropping privileges (root only) ------------------------------------ */

static int cap_eff_is_zero(void)
{
	char line[256];
	int zero = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "CapEff:", 7) == 0)
			zero = strspn(line + 7, " \t0") == strlen(line + 7) - 1;
	fclose(f);
	return zero;
}

static int do_drop(void)
{
	struct passwd *pw = getpwnam("nobody");

	if (pw == NULL)
		return 100;
	uid_t uid = pw->pw_uid;
	if (net_drop_privileges("nobody", CR_APPARMOR_AUTO) != 0)
		return 1;
	if (getuid() != uid || geteuid() != uid)
		return 2;
	if (!cap_eff_is_zero())
		return 3;
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)
		return 4;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return 5;
	if (getgroups(0, NULL) > 1)
		return 6;
	/* And the sandbox goes on top, as in celeryrootd. */
	if (!sandboxed() || getuid() != uid)
		return 7;
	return 0;
}

static int do_drop_unknown(void)
{
	return net_drop_privileges("no-such-user-celeryroot", CR_APPARMOR_AUTO) == -1 && getuid() == 0 ? 0 : 1;
}

/* 1 when this process runs under net's AppArmor profile. */
static int in_net_profile(void)
{
	char *label = NULL, *mode = NULL;
	int in;

	if (aa_getcon(&label, &mode) < 0)
		return 0;
	in = strcmp(label, NET_APPARMOR_PROFILE) == 0;
	free(label);
	return in;
}

/* "require" succeeds exactly when net ends up in its profile; where
 * AppArmor is off (as on the build machine) it fails, before no_new_privs. */
static int do_drop_require(void)
{
	int enabled = aa_is_enabled();
	int rc = net_drop_privileges("nobody", CR_APPARMOR_REQUIRE);

	if (!enabled && rc != -1)
		return 1;
	if (!enabled && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0)
		return 2;
	if (enabled && (rc == 0) != in_net_profile())
		return 3;
	return 0;
}

/* "auto" never stops net; "off" does not even try to change the label. */
static int do_apparmor_modes(void)
{
	char before[256] = "", after[256] = "";
	int fd;

	if ((fd = open("/proc/self/attr/current", O_RDONLY)) >= 0) {
		if (read(fd, before, sizeof(before) - 1) < 0)
			before[0] = '\0';
		close(fd);
	}
	if (net_apparmor_enter(CR_APPARMOR_OFF) != 0)
		return 1;
	if ((fd = open("/proc/self/attr/current", O_RDONLY)) >= 0) {
		if (read(fd, after, sizeof(after) - 1) < 0)
			after[0] = '\0';
		close(fd);
	}
	if (strcmp(before, after) != 0)
		return 2;
	if (net_apparmor_enter(CR_APPARMOR_AUTO) != 0)
		return 3;
	if (!aa_is_enabled() && net_apparmor_enter(CR_APPARMOR_REQUIRE) != -1)
		return 4;
	return 0;
}

START_TEST(test_apparmor)
{
	assert_exit_zero(do_apparmor_modes);
	assert_exit_zero(do_drop_require);
}
END_TEST

START_TEST(test_drop_privileges)
{
	assert_exit_zero(do_drop);
	assert_exit_zero(do_drop_unknown);
}
END_TEST

static Suite *seccomp_suite(void)
{
	Suite *s = suite_create("net_sandbox");
	TCase *tc = tcase_create("seccomp");

	tcase_add_test(tc, test_forbidden_calls_kill);
	tcase_add_test(tc, test_allowed_calls_pass);
	tcase_add_test(tc, test_trap_mode);
	if (geteuid() == 0) {
		tcase_add_test(tc, test_drop_privileges);
		tcase_add_test(tc, test_apparmor);
	}
	else
		fprintf(stderr, "not root: the privilege drop is not tested\n");
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(seccomp_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
