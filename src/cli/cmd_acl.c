/* celeryroot acl: Redis ACL rules for the three kinds of program that talk
 * to the broker, each with exactly the commands and keys it uses.  Every
 * rule starts from "reset": no command, key or channel is allowed unless
 * listed (so no FLUSHALL, CONFIG, KEYS, DEBUG, ACL, SCRIPT, MODULE...). */
#include "config.h"
#include "cli.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define ACL_MAX_USERS 256
/* kombu's priority sub-lists are QUEUE\x06\x16N: "[^-.a-z0-9]*" matches
 * them and not another host whose name merely starts the same. */
#define SUFFIX "[^-.a-z0-9]*"

/* A daemon's root permissions cover only its queues and its own taken list
 * (LMOVE and BLMOVE name both, and a command's keys must all fall under one
 * set of permissions); everything else is a selector pairing keys with the
 * few commands used on them, so that a stolen daemon password cannot, say,
 * SET the set of hosts (stopping every heartbeat), RPUSH into another
 * host's queue, or touch another host's taken list (net_consumer.c). */
static const char *const daemon_cmds =
	"+ping +role +select +multi +exec +discard +unwatch +publish +lmove +blmove +llen +lindex +lset +lrem +rpush";
static const char *const daemon_sels =
	"\"(~celeryroot:hosts +sadd)\" "
	"\"(%W~celery-task-meta-* +setex)\" "
	"\"(%W~celeryroot:audit +xadd)\"";
static const char *const operator_cmds =
	"+ping +role +wait +select +smembers +mget +get +set +del +multi +exec +discard +zadd +zremrangebyscore +zrevrange "
	"+lpush +subscribe +unsubscribe +xrevrange +xrange +sadd +srem +hset +hmget"
	/* rollouts (rollout.h): state under WATCH, the driver lease, the env hash's TTL */
	" +watch +unwatch +pexpire +expire";
static const char *const beat_cmds =
	"+ping +role +wait +select +smembers +mget +get +set +del +multi +exec +discard +watch +unwatch +pexpire +zadd "
	"+zremrangebyscore +lpush +sadd +hset +hsetnx +hmget"
	/* beat drives detached rollouts */
	" +srem +srandmember";
/* A Python Celery program (README "From Python Celery"): what kombu's
 * Redis transport and Celery's Redis result backend send for send_task and
 * AsyncResult.get, checked against a real client with ACL LOG empty
 * (tests/cli/test_acl_python.py).  kombu counts a queue's priority lists
 * (LLEN) and records its binding (SADD) before it pushes; it never pops,
 * so no unacked, unacked_index or unacked_mutex: it sends, it does not
 * consume.  Results: read, and their channels subscribed. */
static const char *const python_cmds =
	"+ping +select +multi +exec +discard +lpush +get +mget +subscribe +unsubscribe";
static const char *const python_keys =
	"%W~host.* %W~role.* %R~celery-task-meta-* &celery-task-meta-* "
	"\"(%R~host.* %R~role.* +llen)\" \"(~_kombu.binding.host.* ~_kombu.binding.role.* +sadd +smembers)\"";
/* %R~ read only, %W~ write only (Redis 7): the CLI and beat read the
 * registry but cannot forge it, and push to queues they cannot read. */
static const char *const operator_keys =
	"%R~celeryroot:hosts %R~celeryroot:host:* %R~celeryroot:host-windows:* ~celeryroot:jobs ~celeryroot:job:* "
	"%W~host.* %W~role.* %R~celery-task-meta-* %R~celeryroot:audit ~celeryroot:schedules ~celeryroot:schedule:* "
	"~celeryroot:schedule-state:* &celery-task-meta-*"
	" ~celeryroot:rollout:* ~celeryroot:rollouts:active";
static const char *const beat_keys =
	"%R~celeryroot:hosts %R~celeryroot:host:* ~celeryroot:jobs ~celeryroot:job:* %W~host.* %W~role.* "
	"%R~celeryroot:schedules %R~celeryroot:schedule:* ~celeryroot:schedule-state:* ~celeryroot:beat:*"
	" ~celeryroot:rollout:* ~celeryroot:rollouts:active %R~celery-task-meta-*";

struct acl_user {
	char kind[10];
	char name[HOSTNAME_MAX + 32];
	char roles[512];           /* daemon: "webserver,edge" */
	char password[65];
};

static void acl_help(FILE *f)
{
	fprintf(f,
		"usage: celeryroot acl [--daemon HOST[=ROLE,...]]... [--operator NAME]... [--beat NAME]...\n"
		"                      [--python NAME]... [--broker URL] [--json]\n"
		"\n"
		"Prints Redis ACL rules (ACL SETUSER ...) for each program, with a fresh\n"
		"random password each, and the broker URL it should use:\n"
		"  daemon    one per host (its celeryrootd): its own host queue, the queues of\n"
		"            its roles, results, its registry entry, the audit stream, nonces\n"
		"  operator  the CLI: registry, jobs, queues (push only), results, audit, schedules\n"
		"  beat      'celeryroot beat': registry, jobs, queues (push only), schedules, its lease\n"
		"  python    a Python Celery program (send_task, AsyncResult.get): queues (push,\n"
		"            count), their kombu bindings, results (read, subscribe)\n"
		"Nothing else: no FLUSHALL, FLUSHDB, CONFIG, KEYS, DEBUG, ACL, SCRIPT or MODULE.\n"
		"The output holds passwords: keep it private.  Load it with\n"
		"  celeryroot acl ... | grep -v '^#' | redis-cli    (then ACL SAVE with an aclfile)\n"
		"and turn the default user off once every program has its own.\n"
		"\n"
		"examples:\n"
		"  celeryroot acl --daemon web01=webserver --daemon db01=database --operator alice\n"
		"  celeryroot acl --beat beat1 --json\n"
		"  celeryroot acl --python ops\n");
}

/* Daemon keys: host.H and role.R (with kombu's priority lists), its taken
 * list, their bindings, and the shared keys every worker uses. */
static void daemon_keys(const struct acl_user *u, char *buf, size_t len)
{
	char roles[512], bindings[2048], nonces[2048], *save = NULL;
	size_t used;

	snprintf(buf, len, "~host.%s ~host.%s" SUFFIX " ~celeryroot:taken:%s", u->name, u->name, u->name);
	snprintf(bindings, sizeof(bindings), "\"(~_kombu.binding.host.%s", u->name);
	cr_copy_str(roles, sizeof(roles), u->roles);
	for (char *r = strtok_r(roles, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
		used = strlen(buf);
		snprintf(buf + used, len - used, " ~role.%s ~role.%s" SUFFIX, r, r);
		used = strlen(bindings);
		snprintf(bindings + used, sizeof(bindings) - used, " ~_kombu.binding.role.%s", r);
	}
	/* Nonces of what is signed for this host or its roles only (netsig.c). */
	snprintf(nonces, sizeof(nonces), "\"(~celeryroot:nonce:host.%s:*", u->name);
	cr_copy_str(roles, sizeof(roles), u->roles);
	save = NULL;
	for (char *r = strtok_r(roles, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
		used = strlen(nonces);
		snprintf(nonces + used, sizeof(nonces) - used, " ~celeryroot:nonce:role.%s:*", r);
	}
	used = strlen(buf);
	snprintf(buf + used, len - used,
		 " &celery-task-meta-* %s +sadd)\" \"(~celeryroot:host:%s ~celeryroot:host-windows:%s +set)\" "
		 "\"(~celeryroot:deferred:%s +watch +zadd +zrem +zscore +zrangebyscore)\" %s +set +get)\" %s",
		 bindings, u->name, u->name, u->name, nonces, daemon_sels);
}

static void rule(const struct acl_user *u, char *buf, size_t len)
{
	char keys[8192];
	const char *cmds = !strcmp(u->kind, "daemon") ? daemon_cmds
			   : !strcmp(u->kind, "beat") ? beat_cmds
			   : !strcmp(u->kind, "python") ? python_cmds : operator_cmds;

	if (!strcmp(u->kind, "daemon"))
		daemon_keys(u, keys, sizeof(keys));
	else
		cr_copy_str(keys, sizeof(keys), !strcmp(u->kind, "beat") ? beat_keys
					       : !strcmp(u->kind, "python") ? python_keys : operator_keys);
	snprintf(buf, len, "ACL SETUSER celeryroot-%s-%s reset on >%s resetchannels -@all %s %s", u->kind, u->name,
		 u->password, cmds, keys);
}

/* "web01=webserver,edge" -> name and roles, each checked. */
static int parse_user(const char *kind, const char *v, struct acl_user *u)
{
	const char *eq = strchr(v, '=');
	char roles[512], *save = NULL;

	memset(u, 0, sizeof(*u));
	cr_copy_str(u->kind, sizeof(u->kind), kind);
	if (eq && strcmp(kind, "daemon") != 0)
		return cli_err("--%s takes a NAME, not roles", kind), -1;
	size_t nlen = eq ? (size_t)(eq - v) : strlen(v);
	if (nlen >= sizeof(u->name))
		return cli_err("--%s: name too long", kind), -1;
	memcpy(u->name, v, nlen);
	u->name[nlen] = '\0';
	if (!(strcmp(kind, "daemon") ? cr_valid_key_id(u->name) : cr_valid_hostname(u->name)))
		return cli_err("--%s: invalid name '%.64s'", kind, u->name), -1;
	if (eq && !cr_copy_str(u->roles, sizeof(u->roles), eq + 1))
		return cli_err("--daemon %s: too many roles", u->name), -1;
	cr_copy_str(roles, sizeof(roles), u->roles);
	size_t nroles = 0;
	for (char *r = strtok_r(roles, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
		if (!cr_valid_role(r))
			return cli_err("--daemon %s: invalid role '%.64s'", u->name, r), -1;
		if (++nroles > REG_MAX_ROLES)
			return cli_err("--daemon %s: more than %d roles", u->name, REG_MAX_ROLES), -1;
	}
	unsigned char raw[24];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(u->password, sizeof(u->password), raw, sizeof(raw));
	return 0;
}

static void print_users(const struct acl_user *u, size_t n, int json, const char *scheme, const char *host_port)
{
	char r[12288];
	json_t *list = json_array();

	for (size_t i = 0; i < n; i++) {
		rule(&u[i], r, sizeof(r));
		char url[512];
		snprintf(url, sizeof(url), "%s://celeryroot-%s-%s:%s@%s", scheme, u[i].kind, u[i].name, u[i].password,
			 host_port);
		char user[HOSTNAME_MAX + 48];
		snprintf(user, sizeof(user), "celeryroot-%s-%s", u[i].kind, u[i].name);
		if (json)
			json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s}", "kind", u[i].kind, "user", user,
							      "rule", r, "url", url));
		else
			printf("# %s %s%s%s: broker URL %s\n%s\n", u[i].kind, u[i].name, u[i].roles[0] ? ", roles " : "",
			       u[i].roles, url, r);
	}
	if (json) {
		json_t *out = json_pack("{s:o}", "users", list);
		san_json_print(stdout, out, JSON_INDENT(2));
		putchar('\n');
		json_decref(out);
	} else {
		json_decref(list);
	}
}

int cmd_acl(int argc, char **argv)
{
	struct acl_user *u = calloc(ACL_MAX_USERS, sizeof(*u));
	size_t n = 0;
	int json = 0, rc = EXIT_OK;
	const char *broker = NULL;

	for (int i = 1; u && i < argc && rc == EXIT_OK; i++) {
		const char *k = argv[i];
		if (!strcmp(k, "--help") || !strcmp(k, "-h")) {
			acl_help(stdout);
			free(u);
			return EXIT_OK;
		}
		if (!strcmp(k, "--json")) {
			json = 1;
		} else if (!strcmp(k, "--broker") && i + 1 < argc) {
			broker = argv[++i];
		} else if ((!strcmp(k, "--daemon") || !strcmp(k, "--operator") || !strcmp(k, "--beat") ||
			    !strcmp(k, "--python")) && i + 1 < argc &&
			   n < ACL_MAX_USERS) {
			rc = parse_user(k + 2, argv[++i], &u[n]) < 0 ? EXIT_USAGE : EXIT_OK;
			n++;
		} else {
			cli_err("unexpected '%s'; see 'celeryroot acl --help'", k);
			rc = EXIT_USAGE;
		}
	}
	if (u && rc == EXIT_OK && n == 0) {
		cli_err("name at least one user: --daemon HOST[=ROLE,...], --operator NAME, --beat NAME or --python NAME");
		rc = EXIT_USAGE;
	}
	if (u && rc == EXIT_OK) {
		/* The URLs point where this CLI's broker is (--broker, env, config). */
		struct cr_config cfg;
		struct broker_addr b;
		char url[512], err[256], where[400] = "127.0.0.1:6379/0";
		int tls = 0;
		cr_config_defaults(&cfg);
		if (cr_config_load(&cfg, cli_config(NULL, NULL), 0, err, sizeof(err)) == 0 &&
		    cr_broker_from(broker, &cfg, &b, url, sizeof(url), err, sizeof(err)) == 0) {
			snprintf(where, sizeof(where), strchr(b.host, ':') ? "[%s]:%d/%d" : "%s:%d/%d", b.host, b.port, b.db);
			/* Over TLS the same CA; client certificates are each program's own. */
			tls = b.tls.on;
			if (tls && b.tls.ca_certs[0])
				snprintf(where + strlen(where), sizeof(where) - strlen(where), "?ssl_ca_certs=%.200s",
					 b.tls.ca_certs);
		}
		print_users(u, n, json, tls ? "rediss" : "redis", where);
	}
	if (u)
		sodium_memzero(u, ACL_MAX_USERS * sizeof(*u));
	free(u);
	return u ? rc : EXIT_USAGE;
}
