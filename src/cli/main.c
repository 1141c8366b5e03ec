/* celeryroot: the operator's command line.  It resolves targets through the
 * registry, sends one Celery task per host under one job id, and waits for
 * the results with a live status line per host. */
#include "config.h"
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "crerr.h"
#include "log.h"
#include "ops.h"
#include "proto.h"
#include "rconn.h"
#include "rollout.h"

#define CLI_CONNECT_TIMEOUT 3.0

char *cli_err_capture;
size_t cli_err_capture_len;

void cli_err(const char *fmt, ...)
{
	va_list ap;

	if (cli_err_capture != NULL && cli_err_capture_len > 0) {
		if (cli_err_capture[0] == '\0') {   /* the first message is the reason */
			va_start(ap, fmt);
			vsnprintf(cli_err_capture, cli_err_capture_len, fmt, ap);
			va_end(ap);
		}
		return;
	}
	fputs("celeryroot: ", stderr);
	va_start(ap, fmt);
	san_vfprintf(stderr, fmt, ap);   /* reasons quote what Redis and hosts said */
	va_end(ap);
	fputc('\n', stderr);
}

/* The operations' lines, from the operation table (ops.h). */
static void usage_ops(FILE *f)
{
	const struct cr_op *op;
	char words[64], names[128];

	for (size_t i = 0; (op = cr_op_at(i)) != NULL; i++) {
		if (op->req == REQ_APT)
			continue;
		snprintf(words, sizeof(words), "%s TARGET", op->name);
		fprintf(f, "  %-25s %s\n", words, op->summary);
	}
	fprintf(f,
		"  job JOB_ID [--wait]       show (or keep waiting for) the results of a job\n"
		"  job JOB_ID --resume|--abort  carry on or stop a rollout (apt --batch ...)\n"
		"  jobs                      recent jobs\n");
	cr_op_names(names, sizeof(names), REQ_APT, 0, "|", "|");
	fprintf(f, "  apt %s\n"
		"                            package operations (see 'celeryroot apt --help')\n", names);
}

/* ping, facts: the operations that are not apt's. */
static int task_command(const char *cmd)
{
	const struct cr_op *op = cr_op_by_name(cmd);
	return op != NULL && op->req != REQ_APT;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: celeryroot COMMAND [options]\n"
		"\n"
		"Fleet administration for Debian and Ubuntu servers over Redis.\n"
		"\n"
		"commands:\n"
		"  hosts                     hosts in the registry, their roles and state\n");
	usage_ops(f);
	fprintf(f,
		"  audit [--host H] [--since T]  what each host's root helper did or refused\n"
		"  acl --daemon H --operator N  Redis ACL rules for each program (see 'celeryroot acl --help')\n"
		"  windows                   maintenance windows in force per host, next openings\n"
		"  beat                      fire the schedules (run one or more, anywhere)\n"
		"  schedule list|add|remove|enable|disable|run-now\n"
		"                            scheduled operations (see 'celeryroot schedule --help')\n"
		"  key generate KEYID        an operator's signing key (see 'celeryroot key --help')\n"
		"  install-unit [--root DIR] systemd units, sysusers, tmpfiles and AppArmor profiles\n"
		"  sandbox create DIR        make a sandbox host root for tests and demos\n"
		"  demo [--keep]             run a private fleet of three sandbox hosts\n"
		"\n"
		"TARGET: one or more of --all, --role ROLE, --host HOST, --one-of ROLE\n"
		"options: --json  --timeout S  --no-wait  --broker URL  --config FILE\n"
		"\n"
		"examples:\n"
		"  celeryroot hosts\n"
		"  celeryroot ping --all\n"
		"  celeryroot facts --role webserver --json\n"
		"  celeryroot ping --host db01 --no-wait && celeryroot job JOB_ID --wait\n"
		"\n"
		"exit codes: 0 ok, 1 usage or validation error (nothing sent), 2 a host failed,\n"
		"3 a host timed out, is queued, deferred or expired (or the broker was lost after\n"
		"sending: follow the job id printed), 4 nothing was sent (broker unreachable or refused),\n"
		"5 a rollout stopped early (budget spent, canary failed, or aborted)\n"
		"broker: --broker, else $CELERYROOT_BROKER_URL, else [broker] of the config, else\n"
		BROKER_DEFAULT_URL " (rediss://...?ssl_ca_certs=FILE for TLS)\n"
		"config: --config, else $CELERYROOT_CONFIG, else ~/.config/celeryroot/celeryroot.conf\n"
		"($XDG_CONFIG_HOME) if present, else " CONFIG_CLI_SYSTEM_PATH " (never the daemon's\n"
		CONFIG_DAEMON_PATH ")\n"
		"signing: every task is signed with $CELERYROOT_SIGNING_KEY, else [cli] signing_key\n");
}

static int parse_seconds(const char *s, double max, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v >= 0 && v <= max))
		return -1;
	*out = v;
	return 0;
}

static const char *apt_option(int c)
{
	return c == 'C' ? "check" : c == 'P' ? "purge" : c == 'S' ? "security" : c == 'U' ? "upgradable" :
	       c == 'N' ? "now" : "max-age";
}

int cli_parse(int argc, char **argv, struct cli_opts *o, int flags, void (*help)(FILE *))
{
	static const struct option lo[] = {
		{ "all", no_argument, 0, 'a' },          { "role", required_argument, 0, 'r' },
		{ "host", required_argument, 0, 'H' },   { "one-of", required_argument, 0, 'o' },
		{ "json", no_argument, 0, 'j' },         { "timeout", required_argument, 0, 't' },
		{ "no-wait", no_argument, 0, 'n' },      { "wait", no_argument, 0, 'w' },
		{ "broker", required_argument, 0, 'b' }, { "config", required_argument, 0, 'c' },
		{ "check", no_argument, 0, 'C' },        { "purge", no_argument, 0, 'P' },
		{ "security", no_argument, 0, 'S' },     { "upgradable", no_argument, 0, 'U' },
		{ "max-age", required_argument, 0, 'M' }, { "now", no_argument, 0, 'N' },
		{ "help", no_argument, 0, 'h' },
		/* rollouts (rollout.h): ro_parse_opt */
		{ "canary", required_argument, 0, 0x101 }, { "batch", required_argument, 0, 0x102 },
		{ "max-failures", required_argument, 0, 0x103 }, { "pause", required_argument, 0, 0x104 },
		{ "wave-timeout", required_argument, 0, 0x105 }, { "detach", no_argument, 0, 0x106 },
		{ "resume", no_argument, 0, 0x107 },      { "abort", no_argument, 0, 0x108 },
		{ 0, 0, 0, 0 }
	};
	static const char *const kinds[] = { ['a'] = "all", ['r'] = "role", ['H'] = "host", ['o'] = "one-of" };
	char err[CR_ERR_MAX];
	int c;

	const int want_target = flags & CLI_TARGET;
	o->timeout_s = -1;
	o->max_age_s = -1;
	o->ro.wave_timeout_s = -1;
	o->tty = isatty(STDOUT_FILENO);
	/* 0, not 1: glibc then starts afresh, forgetting a "+" (stop at the
	 * first word) that an earlier parse asked for (schedule add's). */
	optind = 0;
	opterr = 0;   /* our own one-line messages */
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'a': case 'r': case 'H': case 'o':
			if (!want_target) {
				cli_err("%s takes no target; see '%s --help'", argv[0], argv[0]);
				return -1;
			}
			if (cr_target_add(&o->target, kinds[c], c == 'a' ? "" : optarg, err, sizeof(err)) < 0) {
				cli_err("%s", err);
				return -1;
			}
			break;
		case 'j': o->json = 1; break;
		case 'n': o->no_wait = 1; break;
		case 'w': o->wait = 1; break;
		case 'b': o->broker_url = optarg; break;
		case 'c': o->config_path = optarg; break;
		case 't':
			if (parse_seconds(optarg, 86400, &o->timeout_s) < 0) {
				cli_err("--timeout needs seconds between 0 and 86400, got '%s'", optarg);
				return -1;
			}
			break;
		case 'C': case 'P': case 'S': case 'U': case 'M': case 'N':
			if (!(flags & CLI_APT)) {
				cli_err("%s does not take --%s; see '%s --help'", argv[0], apt_option(c), argv[0]);
				return -1;
			}
			/* A lists age worth refreshing for is at most a year. */
			if (c == 'M' && parse_seconds(optarg, 366.0 * 86400, &o->max_age_s) < 0) {
				cli_err("--max-age needs seconds between 0 and 31622400 (a year), got '%s'", optarg);
				return -1;
			}
			o->check |= c == 'C';
			o->purge |= c == 'P';
			o->security |= c == 'S';
			o->upgradable |= c == 'U';
			o->now |= c == 'N';
			break;
		case 'h': help(stdout); exit(0);
		case 0x101: case 0x102: case 0x103: case 0x104: case 0x105: case 0x106:
			if (!(flags & CLI_APT)) {
				cli_err("%s takes no rollout options (they apply to apt changes); see '%s --help'", argv[0], argv[0]);
				return -1;
			}
			if (ro_parse_opt(c, optarg, &o->ro) < 0)
				return -1;
			break;
		case 0x107: case 0x108:
			if (flags & (CLI_TARGET | CLI_APT)) {
				cli_err("--%s applies to 'celeryroot job JOB_ID' (a rollout); see 'celeryroot job --help'",
					c == 0x107 ? "resume" : "abort");
				return -1;
			}
			ro_parse_opt(c, NULL, &o->ro);
			break;
		default:
			if (optopt)
				snprintf(err, sizeof(err), "-%c", optopt);
			else
				snprintf(err, sizeof(err), "%.100s", argv[optind - 1]);
			cli_err("unknown option '%s'%s; see 'celeryroot %s --help'", err,
				(flags & CLI_APT) ? " (package names never start with '-')" : "", argv[0]);
			return -1;
		}
	}
	if (want_target && cr_target_empty(&o->target)) {
		cli_err("%s needs a TARGET: --all, --role ROLE, --host HOST or --one-of ROLE", argv[0]);
		return -1;
	}
	return optind;
}

redisContext *cli_connect(struct cli_opts *o)
{
	char err[CR_ERR_MAX];
	redisContext *c;

	int must;
	const char *path = cli_config(o->config_path, &must);

	cr_config_defaults(&o->cfg);
	if (cr_config_load(&o->cfg, path, must, err, sizeof(err)) < 0) {
		cli_err("%s", err);
		return NULL;
	}
	if (o->timeout_s < 0)
		o->timeout_s = o->cfg.timeout_s;
	if (cr_broker_from(o->broker_url, &o->cfg, &o->broker, o->url, sizeof(o->url), err, sizeof(err)) < 0) {
		cli_err("%s", err);
		return NULL;
	}
	c = cr_rconn_connect(&o->broker, CLI_CONNECT_TIMEOUT, err, sizeof(err));
	if (c == NULL) {
		char where[CR_ERR_MAX];
		cr_broker_describe(&o->broker, where, sizeof(where));
		cli_err("%s [broker %s; config %s]", err, where, path);
	}
	return c;
}

const char *cli_config(const char *config_path, int *must_exist)
{
	static char buf[PATH_MAX];
	int named = 1;

	if (config_path == NULL)
		config_path = cr_config_cli_path(buf, sizeof(buf), &named);
	if (must_exist)
		*must_exist = named;
	return config_path;
}

int main(int argc, char **argv)
{
	const char *cmd;

	cr_log_init("celeryroot", LOG_L_ERROR, 0);
	san_init();
	if (sodium_init() < 0) {
		fputs("celeryroot: libsodium could not initialise\n", stderr);
		return EXIT_USAGE;
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		printf("celeryroot %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "hosts"))
		return cmd_hosts(argc - 1, argv + 1);
	if (task_command(cmd))
		return cmd_task(cmd, argc - 1, argv + 1);
	if (!strcmp(cmd, "job"))
		return cmd_job(argc - 1, argv + 1);
	if (!strcmp(cmd, "jobs"))
		return cmd_jobs(argc - 1, argv + 1);
	if (!strcmp(cmd, "apt"))
		return cmd_apt(argc - 1, argv + 1);
	if (!strcmp(cmd, "audit"))
		return cmd_audit(argc - 1, argv + 1);
	if (!strcmp(cmd, "acl"))
		return cmd_acl(argc - 1, argv + 1);
	if (!strcmp(cmd, "windows"))
		return cmd_windows(argc - 1, argv + 1);
	if (!strcmp(cmd, "beat"))
		return cmd_beat(argc - 1, argv + 1);
	if (!strcmp(cmd, "schedule"))
		return cmd_schedule(argc - 1, argv + 1);
	if (!strcmp(cmd, "key"))
		return cmd_key(argc - 1, argv + 1);
	if (!strcmp(cmd, "install-unit"))
		return cmd_install_unit(argc - 1, argv + 1);
	if (!strcmp(cmd, "sandbox"))
		return cmd_sandbox(argc - 1, argv + 1);
	if (!strcmp(cmd, "demo"))
		return cmd_demo(argc - 1, argv + 1);
	cli_err("unknown command '%s'; commands: hosts ping facts job jobs apt audit acl key install-unit sandbox demo (see 'celeryroot --help')", cmd);
	return EXIT_USAGE;
}
