/* The demo's tour: real CLI commands against the private fleet, each shown
 * before it runs.  One step fails on purpose (a package whose preinst exits
 * 1) to show a rollback; its exit code 2 is what the tour expects. */
#include "config.h"
#include "cli.h"
#include "demo.h"
#include "spawn.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define STEP_ARGS 8

struct step {
	const char *args[STEP_ARGS];
	int expect;   /* exit code that means the step went as it should */
	int expect2;  /* another one (-1: none): a deferral depends on the hour */
};

/* Stands for the demo's config file in a step's arguments. */
#define CONF_ARG "@CONF"

static const struct step steps[] = {
	{ { "hosts", NULL }, 0, -1 },
	{ { "ping", "--all", NULL }, 0, -1 },
	{ { "facts", "--role", "webserver", NULL }, 0, -1 },
	{ { "apt", "update", "--all", NULL }, 0, -1 },
	{ { "apt", "install", "celeryroot-demo-hello", "--role", "webserver", NULL }, 0, -1 },
	{ { "apt", "install", "celeryroot-demo-hello", "--role", "webserver", NULL }, 0, -1 },
	{ { "apt", "query", "celeryroot-demo-hello", "celeryroot-demo-tools", "--all", NULL }, 0, -1 },
	{ { "apt", "remove", "celeryroot-demo-hello", "--role", "webserver", "--check", NULL }, 0, -1 },
	{ { "windows", NULL }, 0, -1 },
	{ { "schedule", "list", "--config", CONF_ARG, NULL }, 0, -1 },
	/* Deferred (exit 3) unless the demo runs inside dbserver01's window. */
	{ { "apt", "install", "celeryroot-demo-tools", "--host", "dbserver01", "--config", CONF_ARG, NULL }, 3, 0 },
	{ { "apt", "install", "celeryroot-demo-broken", "--host", "appserver01", "--now", NULL }, 2, -1 },
	{ { "audit", "--limit", "5", NULL }, 0, -1 },
};

static int tour_step(const struct demo *d, const char *cli, const char *const args[])
{
	char env[96], key[160], kh[160], line[256] = "";
	const char *argv[STEP_ARGS + 2] = { cli };
	const char *envv[] = { env, key, kh, NULL };
	int tty = isatty(STDOUT_FILENO), n = 1;

	char conf[160];
	snprintf(conf, sizeof(conf), "%s/celeryroot.conf", d->dir);
	for (; n <= STEP_ARGS && args[n - 1]; n++) {
		argv[n] = strcmp(args[n - 1], CONF_ARG) ? args[n - 1] : conf;
		strncat(line, " ", sizeof(line) - strlen(line) - 1);
		strncat(line, argv[n], sizeof(line) - strlen(line) - 1);
	}
	argv[n] = NULL;
	snprintf(env, sizeof(env), "CELERYROOT_BROKER_URL=%s", d->url);
	/* Every step is signed: the demo's hosts run nothing else. */
	snprintf(key, sizeof(key), "CELERYROOT_SIGNING_KEY=%s/" DEMO_KEY ".key", d->dir);
	/* The demo's hosts are new every time: their keys go in the demo's own
	 * known_hosts, not the operator's (where they would look changed). */
	snprintf(kh, sizeof(kh), "CELERYROOT_KNOWN_HOSTS=%s/known_hosts", d->dir);
	printf("\n%s$ celeryroot%s%s\n", tty ? "\033[1m" : "", line, tty ? "\033[0m" : "");
	fflush(stdout);
	pid_t pid = spawn_argv(argv, envv, -1, -1, 0);
	int status = 0, stopped = 0;
	/* Ctrl-C reaches the step too (same process group); SIGTERM only us. */
	while (pid > 0 && waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
		if (demo_interrupted && !stopped++)
			kill(pid, SIGTERM);
	}
	fflush(stdout);
	return pid > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int demo_tour(const struct demo *d, const char *cli)
{
	int rc = 0;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && !demo_interrupted; i++) {
		int got = tour_step(d, cli, steps[i].args);
		if (got != steps[i].expect && got != steps[i].expect2)
			rc = 1;
	}
	return demo_interrupted ? 1 : rc;
}

