/* net's Landlock domain: no file access, and (ABI 4, Linux 6.7) TCP connect
 * only to the broker's port.  Each case forks: a child enters the domain and
 * reports through its exit status.  What a kernel without (network) Landlock
 * gives is asserted too: the fallback is said in the log line, never silent. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/net/net.h"

/* A listening socket on a free loopback port. */
static int listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s, 4), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return s;
}

/* errno of a connect to port (0 when it connected). */
static int try_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (s < 0)
		return errno;
	rc = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : errno;
	close(s);
	return rc;
}

static int try_open(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* Exit codes of the child: 0 all as expected for the ABI, else which check failed. */
static int child(int broker, int other, int abi)
{
	char said[160] = "";

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return 10;
	if (net_landlock_apply(broker, said, sizeof(said)) != 0)
		return 11;
	if (abi == 0)
		return strstr(said, "no Landlock") && try_open("/etc/passwd") == 0 ? 0 : 12;
	if (try_open("/etc/passwd") != EACCES)
		return 13;   /* no file access from ABI 1 on */
	if (try_connect(broker) != 0)
		return 14;   /* the broker's port stays reachable */
	if (abi < 4)
		return strstr(said, "need ABI 4") && try_connect(other) == 0 ? 0 : 15;
	if (try_connect(other) != EACCES)
		return 16;
	if (!strstr(said, "TCP connect only to port"))
		return 17;
	return 0;
}

START_TEST(domain_holds)
{
	int broker, other, status;
	int a = listener(&broker), b = listener(&other);
	int abi = net_landlock_abi();
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(child(broker, other, abi));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "check %d failed (Landlock ABI %d)",
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1, abi);
	close(a);
	close(b);
}
END_TEST

/* Sentinel: several ports allowed (the sentinels', the master's and the
 * replicas'), every other one still refused. */
static int child_ports(const int *ports, int n, int other)
{
	char said[240] = "";

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return 10;
	if (net_landlock_apply_ports(ports, n, said, sizeof(said)) != 0)
		return 11;
	for (int i = 0; i < n; i++)
		if (try_connect(ports[i]) != 0)
			return 20 + i;
	if (net_landlock_abi() >= 4 && (try_connect(other) != EACCES || !strstr(said, "TCP connect only to ports")))
		return 16;
	return 0;
}

START_TEST(several_ports)
{
	int ports[3], other, status, fds[4];
	pid_t pid;

	for (int i = 0; i < 3; i++)
		fds[i] = listener(&ports[i]);
	fds[3] = listener(&other);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(child_ports(ports, 3, other));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "check %d failed",
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
}
END_TEST

START_TEST(bad_port_refused)
{
	char said[160];

	ck_assert_int_eq(net_landlock_apply(0, said, sizeof(said)), -1);
	ck_assert_int_eq(net_landlock_apply(65536, said, sizeof(said)), -1);
	ck_assert_int_eq(net_landlock_apply_ports((const int[]){ 6379, 0 }, 2, said, sizeof(said)), -1);
	ck_assert_int_eq(net_landlock_apply_ports((const int[]){ 6379 }, 0, said, sizeof(said)), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("landlock");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, domain_holds);
	tcase_add_test(tc, several_ports);
	tcase_add_test(tc, bad_port_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	printf("Landlock ABI of this kernel: %d\n", net_landlock_abi());
	return failed ? 1 : 0;
}
