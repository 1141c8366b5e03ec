/* celeryrootd: started as root, it creates a socketpair and forks.  The
 * parent stays root as priv; the child execs the net program,
 * celeryroot-net (src/net/net_main.c, found by netexec.c), handing it the
 * configuration priv has read, and net drops to an unprivileged user with
 * no capabilities, enters its seccomp allowlist and talks to Redis. */
#include "config.h"

#include <errno.h>
#include <sodium.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crerr.h"
#include "crconfig.h"
#include "hostsig.h"
#include "log.h"
#include "names.h"
#include "netboot.h"
#include "netexec.h"
#include "nonces.h"
#include "priv.h"
#include "sign.h"
#include "clock.h"
#include "timeutil.h"
#include "winconf.h"

#if defined(__SANITIZE_ADDRESS__)
#define MAIN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MAIN_ASAN 1
#endif
#endif
#ifdef MAIN_ASAN
/* Sanitizer builds only.  LeakSanitizer stops the world at exit with ptrace
 * from a cloned thread: priv's denylist refuses ptrace and net's allowlist
 * kills on clone, so it cannot work in either.  The daemons' leaks are
 * checked under valgrind instead (tools/hardening-check.sh valgrind);
 * ASAN_OPTIONS still overrides this default. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif

struct dopts {
	const char *config_path;    /* --config */
	const char *conf;           /* the file read: --config, else the default */
	int conf_legacy;            /* the default is missing, the CLI's file was read */
	const char *broker_url;
	int foreground;
	int priv_fd;            /* test hook: serve priv alone on an inherited fd */
	int debug;
	int nroles_cli;
	char roles_cli[REG_MAX_ROLES][ROLE_MAX + 1];
	const char *hostname, *sandbox, *user;
};

/* --broker's URL may hold a password, and every user on the host can read
 * our command line (ps, /proc/PID/cmdline): we keep a copy and overwrite
 * the argument in place with its masked form (or stars, when that would
 * not fit). */
static const char *hide_url_arg(char *arg)
{
	static char keep[1024];   /* static: kept for the process's life, never freed */
	size_t len = strlen(arg);
	char masked[1024];

	if (len >= sizeof(keep)) {
		fprintf(stderr, "celeryrootd: --broker URL is too long (at most 511 characters)\n");
		exit(1);
	}
	memcpy(keep, arg, len + 1);
	cr_broker_mask(arg, masked, sizeof(masked));
	if (strcmp(masked, arg) != 0) {
		if (strlen(masked) <= len)
			memcpy(arg, masked, strlen(masked) + 1);
		else
			memset(arg, '*', len);
		memset(arg + strlen(arg), '\0', len - strlen(arg));
	}
	return keep;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: celeryrootd --hostname NAME [--role ROLE]... [--sandbox DIR] [--broker URL]\n"
		"                   [--user USER] [--config FILE] [--foreground] [--debug]\n"
		"\n"
		"The Celeryroot worker: a root helper (priv) and an unprivileged Redis client\n"
		"(net) that consumes host.NAME and role.ROLE for each role.\n"
		"\n"
		"  --hostname NAME  name this host registers as (default: the system host name)\n"
		"  --role ROLE      a role this host serves; repeat for several\n"
		"  --sandbox DIR    act on the host root DIR (see 'celeryroot sandbox create')\n"
		"                   instead of /\n"
		"  --broker URL     redis://[[user]:password@]host[:port][/db], or rediss://\n"
		"                   (TLS; ?ssl_ca_certs=...&ssl_certfile=...&ssl_keyfile=...)\n"
		"  --user USER      user net runs as (default _celeryroot)\n"
		"  --config FILE    configuration (default " CONFIG_DAEMON_PATH "; the CLI\n"
		"                   reads its own, never this one)\n"
		"  --foreground     stay in the foreground and log to stderr\n"
		"\n"
		"examples:\n"
		"  celeryrootd --hostname web01 --role webserver --foreground\n"
		"  celeryrootd --hostname db01 --role database --broker redis://redis.example:6379/0\n");
}

static void parse_args(int argc, char **argv, struct dopts *o)
{
	static const struct option lo[] = {
		{ "hostname", required_argument, 0, 'H' }, { "role", required_argument, 0, 'r' },
		{ "sandbox", required_argument, 0, 's' },  { "broker", required_argument, 0, 'b' },
		{ "user", required_argument, 0, 'u' },     { "config", required_argument, 0, 'c' },
		{ "foreground", no_argument, 0, 'f' },     { "debug", no_argument, 0, 'd' },
		{ "priv-fd", required_argument, 0, 'P' },  { "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, 'V' },        { 0, 0, 0, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "H:r:s:b:u:c:fdh", lo, NULL)) != -1) {
		switch (c) {
		case 'H': o->hostname = optarg; break;
		case 's': o->sandbox = optarg; break;
		case 'b': o->broker_url = hide_url_arg(optarg); break;
		case 'u': o->user = optarg; break;
		case 'c': o->config_path = optarg; break;
		case 'f': o->foreground = 1; break;
		case 'd': o->debug = 1; break;
		case 'P': o->priv_fd = atoi(optarg); break;
		case 'V': printf("celeryrootd %s\n", PACKAGE_VERSION); exit(0);
		case 'h': usage(stdout); exit(0);
		case 'r':
			if (o->nroles_cli >= REG_MAX_ROLES || !cr_valid_role(optarg)) {
				fprintf(stderr, "celeryrootd: invalid role '%s' (lower-case letters, digits, '-', '_'; at most %d roles)\n",
					optarg, REG_MAX_ROLES);
				exit(1);
			}
			cr_copy_str(o->roles_cli[o->nroles_cli++], ROLE_MAX + 1, optarg);
			break;
		default: usage(stderr); exit(1);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "celeryrootd: unexpected argument '%s'\n", argv[optind]);
		exit(1);
	}
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("celeryrootd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Command line over config file; the result is validated as a whole. */
static void merge_config(struct cr_config *cfg, struct dopts *o)
{
	char err[CR_ERR_MAX], host[HOSTNAME_MAX + 1];

	cr_config_defaults(cfg);
	cfg->password_file_strict = 1;
	o->conf = o->config_path ? o->config_path : cr_config_daemon_path(&o->conf_legacy);
	if (cr_config_load(cfg, o->conf, o->config_path != NULL, err, sizeof(err)) < 0 ||
	    cr_config_file_safe(cfg, o->conf, err, sizeof(err)) < 0)
		die("%s", err);
	if (o->hostname)
		cr_copy_str(cfg->hostname, sizeof(cfg->hostname), o->hostname);
	if (cfg->hostname[0] == '\0' && gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		cr_copy_str(cfg->hostname, sizeof(cfg->hostname), host);
	}
	if (!cr_valid_hostname(cfg->hostname))
		die("invalid host name '%s': use lower-case letters, digits, '-' and '.' (--hostname)",
		    cfg->hostname);
	if (o->nroles_cli > 0) {
		memcpy(cfg->roles, o->roles_cli, sizeof(cfg->roles));
		cfg->nroles = o->nroles_cli;
	}
	if (o->user)
		cr_copy_str(cfg->user, sizeof(cfg->user), o->user);
	if (o->sandbox && (o->sandbox[0] != '/' || !cr_copy_str(cfg->sandbox, sizeof(cfg->sandbox), o->sandbox)))
		die("--sandbox needs an absolute path, got '%s'", o->sandbox);
}

static void check_root(const char *root)
{
	char status[PATH_MAX + 32];
	struct stat sb;

	snprintf(status, sizeof(status), "%s/var/lib/dpkg/status", strcmp(root, "/") ? root : "");
	if (stat(status, &sb) != 0)
		die("%s has no dpkg database (var/lib/dpkg/status): create a sandbox with 'celeryroot sandbox create DIR'",
		    root);
}

/* The trusted keys, read once as root before the fork: net's sandbox
 * cannot open files, and priv never rereads them from a path net names. */
static struct keyring keys;

/* A host that trusts any key requires signatures unless its config says
 * require_signed = false: trusting a key and running unsigned tasks anyway
 * is rarely what was meant. */
static void load_keys(struct cr_config *cfg)
{
	struct stat sb;
	char err[CR_ERR_MAX];

	if (cfg->require_signed != 1 && stat(cfg->trusted_keys, &sb) != 0 && errno == ENOENT) {
		cfg->require_signed = 0;
		return;
	}
	if (cr_keyring_load(cfg->trusted_keys, &keys, err, sizeof(err)) < 0)
		die("%s", err);
	if (cfg->require_signed == 1 && keys.n == 0)
		die("require_signed = true but %s holds no trusted key (KEYID.pub): copy in one made with "
		    "'celeryroot key generate', or set require_signed = false", cfg->trusted_keys);
	if (cfg->require_signed < 0)
		cfg->require_signed = keys.n > 0;
	info_f("%d trusted key(s) from %s; unsigned tasks are %s", keys.n, cfg->trusted_keys,
	       cfg->require_signed ? "refused" : keys.n > 0 ? "accepted (require_signed = false)" : "accepted");
}

/* This host's maintenance windows, read before the fork like the keys. */
static struct host_window windows[WINCONF_MAX];
static size_t nwindows;

static void load_windows(const struct cr_config *cfg, const char *path)
{
	char err[CR_ERR_MAX];

	if (cr_winconf_load(path, cfg->hostname, cfg->roles, cfg->nroles, windows, WINCONF_MAX, &nwindows, err,
			 sizeof(err)) < 0)
		die("%s", err);
	/* net evaluates them with no file access (see tzpin.c). */
	for (size_t i = 0; i < nwindows; i++)
		if (cr_tz_pin(windows[i].w.zone) < 0)
			die("%s: [window %s]: zone %s has no POSIX rule in its tzdata file; use another zone", path,
			    windows[i].name, windows[i].w.zone);
	if (nwindows > 0)
		info_f("%zu maintenance window(s) apply to this host: disruptive operations wait for them", nwindows);
}

static void priv_init(struct priv_ctx *p, const struct cr_config *cfg, int fd, pid_t net)
{
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	p->root = cfg->sandbox[0] ? cfg->sandbox : "/";
	p->hostname = cfg->hostname;
	p->roles = cfg->roles;
	p->nroles = cfg->nroles;
	p->net_pid = net;
	p->lock_timeout_s = cfg->lock_timeout_s;
	p->audit_log = cfg->audit_log;
	p->audit_max_bytes = cfg->audit_max_bytes;
	p->audit_keep = cfg->audit_keep;
	p->audit_actions = cfg->audit_changes_per_minute;
	p->allow_unauthenticated = cfg->allow_unauthenticated;
	p->apt_cache_idle_s = cfg->apt_cache_idle_s;
	/* Tests only: audit windows shorter than a minute. */
	const char *w = getenv(AUDIT_WINDOW_ENV);
	if (w && atof(w) >= 1 && atof(w) <= AUDIT_WINDOW_S)
		p->audit_window_s = atof(w);
	p->keys = &keys;
	p->require_signed = cfg->require_signed;
	p->windows = windows;
	p->nwindows = nwindows;
}

/* priv's host key: loaded (or created) by priv itself, after the fork, so
 * that net never holds the secret half, not even in a copy of memory. */
static struct host_key hostkey;

static int load_hostkey(struct priv_ctx *p)
{
	char err[CR_ERR_MAX], fp[HOSTSIG_FP_MAX];
	int created;

	if (priv_hostkey_load(p->root, &hostkey, &created, err, sizeof(err)) < 0) {
		error_f("cannot use the host key: %s", err);
		return -1;
	}
	cr_hostsig_fingerprint(hostkey.pk, fp);
	info_f("host key %s (%s)", fp, created ? "created now" : "loaded");
	p->hostkey = &hostkey;
	return 0;
}

/* priv's nonce file, read before the sandbox like the host key: without
 * it a restart would reopen every replay, so priv does not start. */
static int load_nonces(struct priv_ctx *p)
{
	char err[CR_ERR_MAX];
	long loaded, dropped;

	if (priv_nonces_open(&p->nonces, p->root, cr_now_wall(), &loaded, &dropped, err, sizeof(err)) < 0) {
		error_f("cannot use the nonce file: %s", err);
		return -1;
	}
	if (loaded > 0 || dropped > 0)
		info_f("nonce file: %ld signed request(s) still within their lifetime%s", loaded,
		       dropped > 0 ? "; expired or unreadable lines dropped" : "");
	return 0;
}

/* The environment wins over the config (as for the CLI); a daemon that
 * does not use the broker its config names says so, once, at the start. */
static void note_env_broker(const struct dopts *o, const struct cr_config *cfg, const char *used)
{
	const char *env = getenv("CELERYROOT_BROKER_URL");
	char configured[512];

	if (o->broker_url != NULL || env == NULL || env[0] == '\0')
		return;
	cr_broker_mask(cfg->broker_url, configured, sizeof(configured));
	error_f("warning: $CELERYROOT_BROKER_URL (%s) overrides the broker url of %s (%s); unset it to use the "
		"configured one", used, o->conf, configured);
}

/* What net is handed (src/shared/netboot.h): big, so static. */
static struct netboot boot;
/* TLS: the CA, client certificate and key, read here as root (the key is
 * root-only) and handed to net, which never opens them. */
static struct cr_tls_pem tls_pem;

/* Before anything is sent: a bad or unreadable file stops the daemon with
 * the file's name, rather than net failing at every reconnect. */
static void load_tls(const struct broker_addr *b, const char *url)
{
	char err[CR_ERR_MAX];

	if (!b->tls.on) {
		info_f("broker %s as '%s', clear text (no TLS)", url, b->user[0] ? b->user : "default");
		return;
	}
	if (cr_tls_pem_load(&b->tls, &tls_pem, err, sizeof(err)) < 0 || cr_tls_check(&b->tls, &tls_pem, err, sizeof(err)) < 0)
		die("%s", err);
	info_f("broker %s as '%s', TLS: certificate %s%s%s%s", url, b->user[0] ? b->user : "default",
	       b->tls.verify ? "checked against " : "NOT checked (ssl_cert_reqs=none)",
	       b->tls.verify ? (b->tls.ca_certs[0] ? b->tls.ca_certs : "the system bundle") : "",
	       b->tls.certfile[0] ? ", client certificate " : "", b->tls.certfile);
}

/* Forks and execs net with the socketpair and a sealed copy of what it
 * needs; the copy is gone from priv again once net has it. */
static pid_t start_net(const char *prog, const struct cr_config *cfg, const struct broker_addr *b,
		       int fd, const struct dopts *o)
{
	boot.priv_pid = getpid();
	boot.log_level = o->debug ? LOG_L_DEBUG : LOG_L_INFO;
	boot.use_syslog = !o->foreground;
	boot.cfg = *cfg;
	boot.broker = *b;
	boot.keys = keys;
	boot.nwindows = (uint32_t)nwindows;
	memcpy(boot.windows, windows, sizeof(boot.windows));
	int bootfd = cr_netboot_write(&boot, b->tls.on ? &tls_pem : NULL);
	sodium_memzero(&boot, sizeof(boot));
	cr_tls_pem_free(&tls_pem);
	if (bootfd < 0)
		die("cannot hand net its configuration (memfd): %s", strerror(errno));
	pid_t net = netexec_start(prog, fd, bootfd);
	int err = errno;
	close(bootfd);
	if (net < 0)
		die("fork: %s", strerror(err));
	return net;
}

static int run_priv(struct cr_config *cfg, int fd, pid_t net)
{
	struct priv_ctx p;
	int status = 0, rc;

	priv_init(&p, cfg, fd, net);
	cr_log_set_prog("priv");
	prctl(PR_SET_NAME, "celeryroot-priv", 0, 0, 0);
	if (load_hostkey(&p) < 0 || load_nonces(&p) < 0 || priv_sandbox_apply() < 0) {
		kill(net, SIGTERM);
		return 1;
	}
	rc = priv_serve(&p);
	priv_nonces_close(p.nonces);
	if (net > 0) {
		kill(net, SIGTERM);
		while (waitpid(net, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = 1;
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct dopts o = { 0 };
	struct cr_config cfg;
	struct broker_addr broker;
	char err[CR_ERR_MAX], url[512], netprog[PATH_MAX];
	int sv[2];

	o.priv_fd = -1;
	parse_args(argc, argv, &o);
	if (sodium_init() < 0)
		die("%s", "libsodium could not initialise");
	merge_config(&cfg, &o);
	cr_log_init("celeryrootd", o.debug ? LOG_L_DEBUG : LOG_L_INFO, !o.foreground);
	if (o.conf_legacy)
		error_f("warning: %s is missing, reading %s instead: rename it ('mv %s %s'); the CLI reads "
			"celeryroot.conf, and should not find the daemon's credentials there", CONFIG_DAEMON_PATH,
			CONFIG_CLI_SYSTEM_PATH, CONFIG_CLI_SYSTEM_PATH, CONFIG_DAEMON_PATH);
	if (geteuid() != 0)
		die("%s", "must be started as root (it keeps root only in the small priv helper and drops net to --user); to try it out as a user, see 'celeryroot demo'");
	check_root(cfg.sandbox[0] ? cfg.sandbox : "/");
	if (priv_apparmor_check(cfg.apparmor) < 0)
		die("AppArmor confinement is required ([daemon] apparmor = require) and missing; see the log line above");
	if (o.priv_fd >= 0) {
		struct priv_ctx p;
		load_keys(&cfg);
		load_windows(&cfg, o.conf);
		cr_clock_init();
		priv_init(&p, &cfg, o.priv_fd, 0);
		cr_log_set_prog("priv");
		int rc = load_hostkey(&p) < 0 || load_nonces(&p) < 0 || priv_sandbox_apply() < 0 ? 1 : priv_serve(&p);
		priv_nonces_close(p.nonces);
		return rc;
	}
	if (netexec_find(netprog, sizeof(netprog), err, sizeof(err)) < 0)
		die("%s", err);
	load_keys(&cfg);
	load_windows(&cfg, o.conf);
	cr_clock_init();
	if (cr_broker_from(o.broker_url, &cfg, &broker, url, sizeof(url), err, sizeof(err)) < 0 ||
	    cr_broker_resolve(&broker, err, sizeof(err)) < 0)
		die("%s", err);
	note_env_broker(&o, &cfg, url);
	load_tls(&broker, url);
	if (broker.nsentinels > 0)
		info_f("broker %s: Sentinel, master '%s' via %d sentinel(s)", url, broker.master_name, broker.nsentinels);
	if (!o.foreground && daemon(0, 0) < 0)
		die("cannot detach: %s", strerror(errno));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair: %s", strerror(errno));
	pid_t net = start_net(netprog, &cfg, &broker, sv[1], &o);
	close(sv[1]);
	info_f("started: host %s, root %s, net pid %ld (%s)", cfg.hostname,
	       cfg.sandbox[0] ? cfg.sandbox : "/", (long)net, netprog);
	return run_priv(&cfg, sv[0], net);
}
