/* celeryroot key: an operator's signing key (Ed25519, libsodium). */
#include "config.h"
#include "cli.h"
#include "known_hosts.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void key_help(FILE *f)
{
	fprintf(f,
		"usage: celeryroot key generate KEYID [--dir DIR] [--force] [--json]\n"
		"       celeryroot key fingerprint FILE.pub...\n"
		"\n"
		"Makes an Ed25519 signing key for one operator: DIR/KEYID.key (secret, 0600)\n"
		"and DIR/KEYID.pub.  DIR defaults to ~/.config/celeryroot.  Servers that\n"
		"trust KEYID.pub (in their trusted_keys directory) run what it signs, and\n"
		"nothing unsigned (unless require_signed = false).  KEYID is [a-z0-9][a-z0-9._-]*,\n"
		"usually the operator's name; it is written in every audit record.\n"
		"\n"
		"'fingerprint' prints the SHA256 fingerprint of a public key file, as\n"
		"'celeryroot hosts' shows host keys: run it on a server on its host key\n"
		"(/var/lib/celeryroot/host.pub) to check what known_hosts recorded.\n"
		"\n"
		"examples:\n"
		"  celeryroot key generate alice\n"
		"  celeryroot key generate deploy-bot --dir /etc/celeryroot/keys\n"
		"  celeryroot key fingerprint /var/lib/celeryroot/host.pub\n");
}

/* mkdir -p, 0700: the secret key goes there. */
static int make_dir(const char *dir)
{
	char buf[PATH_MAX];

	if (!cr_copy_str(buf, sizeof(buf), dir))
		return -1;
	for (char *s = strchr(buf + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return mkdir(buf, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

static int default_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (xdg && xdg[0] == '/')
		return snprintf(buf, len, "%s/celeryroot", xdg) < (int)len ? 0 : -1;
	if (home && home[0] == '/')
		return snprintf(buf, len, "%s/.config/celeryroot", home) < (int)len ? 0 : -1;
	return -1;
}

static void report(const char *dir, const char *id, int json)
{
	if (json) {
		char sec[PATH_MAX + 80], pub[PATH_MAX + 80];
		snprintf(sec, sizeof(sec), "%s/%s.key", dir, id);
		snprintf(pub, sizeof(pub), "%s/%s.pub", dir, id);
		json_t *o = json_pack("{s:s, s:s, s:s}", "key", id, "secret", sec, "public", pub);
		san_json_print(stdout, o, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
		return;
	}
	printf("Made key '%s': %s/%s.key (secret, keep it here) and %s/%s.pub.\n"
	       "Next:\n"
	       "  1. on each server: copy %s.pub into /etc/celeryroot/trusted-keys/ (optionally\n"
	       "     limit it there with 'operations =' and 'roles =') and restart celeryrootd:\n"
	       "     from then on the host runs only signed tasks (unless its config says\n"
	       "     'require_signed = false' under [daemon]);\n"
	       "  2. here: set 'signing_key = %s/%s.key' under [cli] in the config, or\n"
	       "     export CELERYROOT_SIGNING_KEY=%s/%s.key\n",
	       id, dir, id, dir, id, id, dir, id, dir, id);
}

/* key fingerprint FILE...: one "FILE SHA256:..." line each. */
static int fingerprints(int argc, char **argv)
{
	int rc = EXIT_OK;

	if (argc < 2) {
		cli_err("key fingerprint needs one or more public key files (KEYID.pub, host.pub)");
		return EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		unsigned char pk[HOST_KEY_LEN];
		char fp[FINGERPRINT_MAX], err[PATH_MAX + 300];
		if (kh_read_pub(argv[i], pk, err, sizeof(err)) < 0) {
			cli_err("%s", err);
			rc = EXIT_USAGE;
			continue;
		}
		kh_fingerprint(pk, fp);
		san_printf("%s %s\n", fp, argv[i]);
	}
	return rc;
}

int cmd_key(int argc, char **argv)
{
	static const struct option opts[] = { { "dir", required_argument, NULL, 'd' },
					      { "force", no_argument, NULL, 'f' },
					      { "json", no_argument, NULL, 'j' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	char dir[PATH_MAX] = "", err[PATH_MAX + 200];
	int force = 0, json = 0, c;

	if (argc >= 2 && !strcmp(argv[1], "fingerprint"))
		return fingerprints(argc - 1, argv + 1);
	if (argc < 2 || strcmp(argv[1], "generate") != 0) {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			key_help(stdout);
			return EXIT_OK;
		}
		key_help(stderr);
		return EXIT_USAGE;
	}
	argc--, argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			key_help(stdout);
			return EXIT_OK;
		}
		if (c == 'd' && !cr_copy_str(dir, sizeof(dir), optarg)) {
			cli_err("--dir: path too long");
			return EXIT_USAGE;
		}
		force |= c == 'f';
		json |= c == 'j';
		if (c == '?')
			return EXIT_USAGE;
	}
	if (optind != argc - 1) {
		cli_err("key generate needs exactly one KEYID (e.g. your name); see 'celeryroot key --help'");
		return EXIT_USAGE;
	}
	if (dir[0] == '\0' && default_dir(dir, sizeof(dir)) < 0) {
		cli_err("no HOME to keep the key in: give --dir DIR");
		return EXIT_USAGE;
	}
	if (make_dir(dir) < 0) {
		cli_err("cannot create %s: %s", dir, strerror(errno));
		return EXIT_USAGE;
	}
	if (cr_key_generate(dir, argv[optind], force, err, sizeof(err)) < 0) {
		cli_err("%s", err);
		return EXIT_USAGE;
	}
	report(dir, argv[optind], json);
	return EXIT_OK;
}
