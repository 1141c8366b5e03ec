/* celeryroot demo: the embedded default.  A private redis-server on a free
 * loopback port, a local APT repository, three sandbox hosts with their
 * celeryrootd pairs, a short tour, and everything removed again on exit. */
#include "config.h"
#include "cli.h"
#include "crerr.h"
#include "demo.h"
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rconn.h"
#include "timeutil.h"

#define REGISTER_TIMEOUT 15.0

static const char *const demo_host[DEMO_HOSTS] = { "webserver01", "dbserver01", "appserver01" };
static const char *const demo_role[DEMO_HOSTS] = { "webserver", "database", "application" };

volatile sig_atomic_t demo_interrupted;

static void on_signal(int sig)
{
	(void)sig;
	demo_interrupted = 1;
}

static void demo_help(FILE *f)
{
	fprintf(f,
		"usage: celeryroot demo [--keep]\n"
		"\n"
		"Starts a private redis-server on a free loopback port, builds a small local\n"
		"APT repository, creates three sandbox hosts (webserver01, dbserver01,\n"
		"appserver01) with their celeryrootd pairs, and tours them.  Everything is\n"
		"removed on exit or Ctrl-C.  Must run as root, as celeryrootd does.\n"
		"\n"
		"  --keep   leave the fleet running and print how to use and stop it\n"
		"\n"
		"examples:\n"
		"  celeryroot demo\n"
		"  celeryroot demo --keep\n");
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int redis_ping(int port)
{
	struct broker_addr b = { .host = "127.0.0.1", .port = port };
	char err[CR_ERR_MAX];
	redisContext *c = cr_rconn_connect(&b, 0.5, err, sizeof(err));
	redisReply *r = c ? cr_rconn_cmd(c, "PING", NULL) : NULL;
	int ok = r != NULL && r->type == REDIS_REPLY_STATUS;

	if (r)
		freeReplyObject(r);
	if (c)
		cr_rconn_free(c);
	return ok;
}

static int start_redis(struct demo *d, const char *server)
{
	char conf[128], text[512], log[128];

	snprintf(conf, sizeof(conf), "%s/redis.conf", d->dir);
	snprintf(log, sizeof(log), "%s/redis.log", d->dir);
	for (int attempt = 0; attempt < 5 && !demo_interrupted; attempt++) {
		if ((d->port = free_port()) < 0)
			return -1;
		snprintf(text, sizeof(text),
			 "port %d\nbind 127.0.0.1\nprotected-mode yes\ndir %s\nsave \"\"\nappendonly no\n"
			 "daemonize no\nlogfile %s\n", d->port, d->dir, log);
		const char *argv[] = { server, conf, NULL };
		/* Not our stdout: with --keep, redis outlives us and must not hold a pipe open. */
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (write_file(conf, text, 0600) == 0)
			d->redis = spawn_argv(argv, NULL, devnull, devnull, 1);
		if (devnull >= 0)
			close(devnull);
		if (d->redis <= 0)
			return -1;
		for (int i = 0; i < 50 && !demo_interrupted; i++) {
			if (redis_ping(d->port)) {
				snprintf(d->url, sizeof(d->url), "redis://127.0.0.1:%d/0", d->port);
				return 0;
			}
			if (waitpid(d->redis, NULL, WNOHANG) == d->redis)
				break;   /* lost the port to someone else: try another */
			usleep(100000);
		}
		kill(d->redis, SIGKILL);
		waitpid(d->redis, NULL, 0);
		d->redis = 0;
	}
	return -1;
}

static int make_hosts(struct demo *d, const char *cli)
{
	char source[256], root[128];

	snprintf(source, sizeof(source), "deb [trusted=yes] file:%s/repo ./", d->dir);
	for (int i = 0; i < DEMO_HOSTS; i++) {
		snprintf(root, sizeof(root), "%s/hosts/%s", d->dir, demo_host[i]);
		const char *argv[] = { cli, "sandbox", "create", root, "--source", source, NULL };
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		int rc = run_argv(argv, NULL, devnull, -1);
		close(devnull);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* example_conf: contrib/celeryroot.conf.example, built in (Makefile.am). */
#include "gen/example_conf.h"
#define SHIPPED_MARK "; ---- shipped schedules and maintenance windows"

/* The demo's config: its broker, then the shipped schedules and windows. */
static int write_demo_conf(const struct demo *d, const char *conf)
{
	const char *shipped = strstr(example_conf, SHIPPED_MARK);
	char head[512];
	char *text;
	int rc;

	/* The hosts trust the demo's key, so they run only what it signs. */
	snprintf(head, sizeof(head),
		 "[broker]\nurl = %s\n[daemon]\nheartbeat_interval = 2\ntrusted_keys = %s/trusted-keys\n"
		 "[cli]\ntask_expires = 604800\nsigning_key = %s/" DEMO_KEY ".key\n\n", d->url, d->dir, d->dir);
	if (shipped == NULL || (text = malloc(strlen(head) + strlen(shipped) + 1)) == NULL)
		return -1;
	strcpy(text, head);
	strcat(text, shipped);
	rc = write_file(conf, text, 0644);
	free(text);
	return rc;
}

/* An operator key for the demo (its secret in the demo directory, which is
 * 0700) and a trusted_keys directory holding its public half. */
static int make_demo_key(const struct demo *d)
{
	char trusted[128], from[128], to[160], err[600];

	snprintf(trusted, sizeof(trusted), "%s/trusted-keys", d->dir);
	snprintf(from, sizeof(from), "%s/" DEMO_KEY ".pub", d->dir);
	snprintf(to, sizeof(to), "%s/" DEMO_KEY ".pub", trusted);
	if (cr_key_generate(d->dir, DEMO_KEY, 0, err, sizeof(err)) < 0) {
		fprintf(stderr, "celeryroot demo: %s\n", err);
		return -1;
	}
	if (mkdir(trusted, 0755) < 0 || rename(from, to) < 0) {
		fprintf(stderr, "celeryroot demo: cannot set up %s: %s\n", trusted, strerror(errno));
		return -1;
	}
	return 0;
}

static int start_pairs(struct demo *d, const char *daemon)
{
	char conf[128], root[128], log[128];
	const char *user = getpwnam("_celeryroot") ? "_celeryroot" : "nobody";

	snprintf(conf, sizeof(conf), "%s/celeryroot.conf", d->dir);
	if (make_demo_key(d) < 0 || write_demo_conf(d, conf) < 0)
		return -1;
	for (int i = 0; i < DEMO_HOSTS; i++) {
		snprintf(root, sizeof(root), "%s/hosts/%s", d->dir, demo_host[i]);
		snprintf(log, sizeof(log), "%s/%s.log", d->dir, demo_host[i]);
		const char *argv[] = { daemon, "--foreground", "--hostname", demo_host[i], "--role", demo_role[i],
				       "--sandbox", root, "--broker", d->url, "--config", conf, "--user", user, NULL };
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		d->pair[i] = fd < 0 ? -1 : spawn_argv(argv, NULL, fd, fd, 1);
		if (fd >= 0)
			close(fd);
		if (d->pair[i] < 0)
			return -1;
	}
	return 0;
}

/* Has it exited?  Left unreaped (WNOWAIT), so its process group id stays
 * ours until stop_pid has killed what is left in the group. */
static int pair_exited(pid_t pid)
{
	siginfo_t si = { 0 };

	return pid > 0 && waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       si.si_pid == pid;
}

/* The end of a log, shown before cleanup removes it. */
static void show_tail(const struct demo *d, const char *name)
{
	char log[128], buf[2048];
	FILE *f;
	size_t n;

	snprintf(log, sizeof(log), "%s/%s", d->dir, name);
	if ((f = fopen(log, "re")) == NULL)
		return;
	if (fseek(f, -(long)sizeof(buf) + 1, SEEK_END) != 0)
		rewind(f);   /* shorter than that: all of it */
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	fprintf(stderr, "--- %s ---\n%s%s", name, buf, n > 0 && buf[n - 1] != '\n' ? "\n" : "");
}

static void show_log_tail(const struct demo *d, int i)
{
	char name[64];

	snprintf(name, sizeof(name), "%s.log", demo_host[i]);
	show_tail(d, name);
}

/* Registered the way the CLI looks hosts up: named in the registry set, and
 * its record says running. */
static int host_running(redisContext *c, const char *host)
{
	char key[128];
	redisReply *r;
	int ok;

	r = cr_rconn_cmd(c, "SISMEMBER", REG_HOSTS_KEY, host, NULL);
	ok = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
	if (r)
		freeReplyObject(r);
	if (!ok)
		return 0;
	snprintf(key, sizeof(key), REG_HOST_PREFIX "%s", host);
	r = cr_rconn_cmd(c, "GET", key, NULL);
	ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "\"state\":\"running\"");
	if (r)
		freeReplyObject(r);
	return ok;
}

static int wait_registered(struct demo *d)
{
	struct broker_addr b = { .host = "127.0.0.1", .port = d->port };
	char err[CR_ERR_MAX];
	redisContext *c = cr_rconn_connect(&b, 2.0, err, sizeof(err));
	double deadline = cr_now_mono() + REGISTER_TIMEOUT;
	int ready = 0, up[DEMO_HOSTS] = { 0 };

	while (c && !demo_interrupted && cr_now_mono() < deadline) {
		ready = 0;
		for (int i = 0; i < DEMO_HOSTS; i++) {
			if (pair_exited(d->pair[i])) {
				cli_err("the pair for %s stopped; its log follows", demo_host[i]);
				show_log_tail(d, i);
				cr_rconn_free(c);
				return -1;
			}
			ready += up[i] = host_running(c, demo_host[i]);
		}
		if (ready == DEMO_HOSTS)
			break;
		usleep(100000);
	}
	if (c)
		cr_rconn_free(c);
	if (ready == DEMO_HOSTS || demo_interrupted)
		return ready == DEMO_HOSTS ? 0 : -1;
	cli_err("the pairs did not register within %.0f s; their logs follow", REGISTER_TIMEOUT);
	for (int i = 0; i < DEMO_HOSTS; i++)
		if (!up[i])
			show_log_tail(d, i);
	return -1;
}

/* SIGTERM, wait until the deadline (cr_now_mono), then SIGKILL to its whole
 * process group (spawned with setsid: pgid == pid), which takes net and any
 * dpkg with it. */
static void stop_pid(pid_t pid, double deadline)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	while (cr_now_mono() < deadline && !pair_exited(pid))
		usleep(50000);
	kill(-pid, SIGKILL);   /* still unreaped here, so the group is ours */
	waitpid(pid, NULL, 0);
}

static void cleanup(struct demo *d)
{
	/* All at once, with one deadline: each pair takes up to a second to
	 * finish its BRPOP. */
	double deadline = cr_now_mono() + 10.0;

	for (int i = 0; i < DEMO_HOSTS; i++)
		if (d->pair[i] > 0)
			kill(d->pair[i], SIGTERM);
	for (int i = 0; i < DEMO_HOSTS; i++)
		stop_pid(d->pair[i], deadline);
	stop_pid(d->redis, cr_now_mono() + 5.0);
	if (rm_rf(d->dir) < 0)
		cli_err("could not remove all of %s", d->dir);
}

static void print_kept(const struct demo *d)
{
	printf("\nThe demo fleet keeps running (redis pid %ld; pairs", (long)d->redis);
	for (int i = 0; i < DEMO_HOSTS; i++)
		printf(" %s=%ld", demo_host[i], (long)d->pair[i]);
	printf(").\nUse it (its hosts run only tasks signed with the demo's key):\n"
	       "  export CELERYROOT_BROKER_URL=%s\n  export CELERYROOT_SIGNING_KEY=%s/" DEMO_KEY ".key\n"
	       "  export CELERYROOT_KNOWN_HOSTS=%s/known_hosts\n"
	       "  celeryroot ping --all\nStop it:\n  kill",
	       d->url, d->dir, d->dir);
	for (int i = 0; i < DEMO_HOSTS; i++)
		printf(" %ld", (long)d->pair[i]);
	printf(" %ld\n  rm -rf %s\nLogs: %s/*.log\n", (long)d->redis, d->dir, d->dir);
}

/* After Ctrl-C a step fails because we stopped it: no misleading message. */
static int setup_failed(const struct demo *d, const char *msg, const char *log)
{
	if (demo_interrupted)
		return -1;
	cli_err("%s", msg);
	if (log)
		show_tail(d, log);
	return -1;
}

static int demo_setup(struct demo *d, const char *server, const char *cli, const char *daemon)
{
	char repo[96];

	printf("Starting a private Redis, a local APT repository and %d sandbox hosts in %s\n"
	       "(every task below is signed with the demo's operator key, the only one its hosts trust) ...\n",
	       DEMO_HOSTS, d->dir);
	fflush(stdout);
	if (start_redis(d, server) < 0)
		return setup_failed(d, "could not start redis-server; its log follows", "redis.log");
	snprintf(repo, sizeof(repo), "%s/repo", d->dir);
	if (demo_interrupted || demo_build_repo(repo) < 0)
		return setup_failed(d, "could not build the demo repository (dpkg-deb and dpkg-scanpackages from dpkg-dev are needed)",
				    NULL);
	if (demo_interrupted || make_hosts(d, cli) < 0 || start_pairs(d, daemon) < 0)
		return setup_failed(d, "could not create the sandbox hosts or start their pairs", NULL);
	return wait_registered(d);
}

static int find_tools(char *server, char *cli, char *daemon, size_t len)
{
	if (find_program("redis-server", server, len) < 0) {
		cli_err("redis-server is not installed: apt-get install redis-server");
		return -1;
	}
	if (find_program("celeryroot", cli, len) < 0 || find_program("celeryrootd", daemon, len) < 0) {
		cli_err("celeryrootd not found beside celeryroot or in PATH: run 'make' first");
		return -1;
	}
	return 0;
}

int cmd_demo(int argc, char **argv)
{
	char server[PATH_MAX], cli[PATH_MAX], daemon[PATH_MAX];
	struct demo d = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	double t0 = cr_now_mono();
	int rc, interrupted;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--keep")) {
			d.keep = 1;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			demo_help(stdout);
			return EXIT_OK;
		} else {
			cli_err("unknown demo option '%s'; see 'celeryroot demo --help'", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (geteuid() != 0) {
		cli_err("the demo runs celeryrootd pairs and dpkg sandboxes, which need root: run it as root (sudo celeryroot demo)");
		return EXIT_USAGE;
	}
	if (find_tools(server, cli, daemon, sizeof(server)) < 0)
		return EXIT_USAGE;
	snprintf(d.dir, sizeof(d.dir), "/tmp/celeryroot-demo.XXXXXX");
	if (mkdtemp(d.dir) == NULL) {
		cli_err("cannot create a temporary directory: %s", strerror(errno));
		return EXIT_USAGE;
	}
	/* No SA_RESTART: a signal interrupts our waits, and cleanup runs.
	 * SIGHUP (terminal gone) and SIGPIPE (reader gone) as well, so the
	 * fleet never outlives us by accident. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	if (demo_setup(&d, server, cli, daemon) < 0)
		rc = EXIT_USAGE;
	else
		rc = demo_tour(&d, cli) == 0 ? EXIT_OK : EXIT_FAILED;
	interrupted = demo_interrupted;   /* a signal during cleanup changes nothing */
	if (interrupted)
		rc = EXIT_USAGE;
	if (d.keep && rc == EXIT_OK)
		print_kept(&d);
	else
		cleanup(&d);
	printf("\ndemo %s in %.1fs\n", interrupted ? "interrupted" : "finished", cr_now_mono() - t0);
	return rc;
}
