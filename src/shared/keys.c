/* Key files.  An operator's secret key and its public half are small INI
 * files named after the key id; a daemon trusts the public keys it finds in
 * its trusted_keys directory, each optionally limited to some operations
 * and to hosts of some roles. */
#include "config.h"
#include "crerr.h"
#include "sign.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64.h"
#include "ops.h"

#define KEYFILE_MAX 4096


/* Reads a small file whole; refuses anything that is not a regular file. */
/* What a file must be to be read as a key: a secret one readable only by
 * its owner; a trusted public one writable by no one but root (or us), so
 * that nobody else can swap in a key of their own. */
enum key_file { KEY_FILE_PUBLIC = 0, KEY_FILE_SECRET, KEY_FILE_TRUSTED };

static int owner_ok(const struct stat *sb)
{
	return sb->st_uid == 0 || sb->st_uid == geteuid();
}

static char *read_small(const char *path, int secret, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat sb;
	char *buf = NULL;
	ssize_t n;

	if (fd < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > KEYFILE_MAX) {
		snprintf(err, errlen, "%s is not a key file (a regular file of at most %d bytes)", path, KEYFILE_MAX);
	} else if (secret == KEY_FILE_SECRET && (sb.st_mode & 077)) {
		snprintf(err, errlen, "%s is readable by others: run 'chmod 600 %s'", path, path);
	} else if (secret == KEY_FILE_TRUSTED && (sb.st_mode & 022)) {
		snprintf(err, errlen, "trusted key %s is writable by group or others (mode %04o): run 'chmod go-w %s'", path,
			 (unsigned)(sb.st_mode & 07777), path);
	} else if (secret == KEY_FILE_TRUSTED && !owner_ok(&sb)) {
		snprintf(err, errlen, "trusted key %s belongs to uid %ld: run 'chown root %s'", path, (long)sb.st_uid, path);
	} else if ((buf = calloc(1, KEYFILE_MAX + 1)) != NULL) {
		n = read(fd, buf, KEYFILE_MAX);
		if (n < 0 || memchr(buf, '\0', (size_t)n)) {
			snprintf(err, errlen, "cannot read %s: %s", path, n < 0 ? strerror(errno) : "binary content");
			free(buf);
			buf = NULL;
		}
	}
	close(fd);
	return buf;
}

static int decode_key(const char *b64, unsigned char *out, size_t want)
{
	size_t n = 0;
	unsigned char *raw = cr_b64_decode(b64, strlen(b64), want, &n);
	int ok = raw != NULL && n == want;

	if (ok)
		memcpy(out, raw, want);
	if (raw)
		sodium_memzero(raw, n);
	free(raw);
	return ok;
}

/* ---- secret keys -------------------------------------------------------- */

struct secret_ctx {
	struct signing_key *k;
	int has_id, has_secret, bad;
};

static int on_secret(void *user, const char *section, const char *key, const char *value)
{
	struct secret_ctx *c = user;

	if (section[0] != '\0')
		c->bad = 1;
	else if (!strcmp(key, "id") && cr_valid_key_id(value))
		c->has_id = cr_copy_str(c->k->id, sizeof(c->k->id), value);
	else if (!strcmp(key, "secret"))
		c->has_secret = decode_key(value, c->k->sk, sizeof(c->k->sk));
	else
		c->bad = 1;
	return 1;
}

int cr_key_parse_secret(const char *text, struct signing_key *k)
{
	struct secret_ctx c = { .k = k };
	int rc;

	memset(k, 0, sizeof(*k));
	rc = ini_parse_string(text, on_secret, &c);
	if (rc != 0 || c.bad || !c.has_id || !c.has_secret) {
		sodium_memzero(k, sizeof(*k));
		return -1;
	}
	return 0;
}

int cr_key_load_secret(const char *path, struct signing_key *k, char *err, size_t errlen)
{
	char *text = read_small(path, KEY_FILE_SECRET, err, errlen);
	int rc;

	if (text == NULL)
		return -1;
	rc = cr_key_parse_secret(text, k);
	sodium_memzero(text, KEYFILE_MAX);
	free(text);
	if (rc < 0) {
		snprintf(err, errlen, "%s is not a celeryroot secret key (want 'id = ...' and 'secret = ...'; "
			 "make one with 'celeryroot key generate ID')", path);
		return -1;
	}
	return 0;
}

/* A secret key file's text. */
static void key_format_secret(const char *id, const unsigned char sk[64], char *out, size_t len)
{
	char *sk64 = cr_b64_encode(sk, 64);

	snprintf(out, len, "# celeryroot signing key '%s' (SECRET: keep it 0600, never copy it to a server)\n"
		 "id = %s\nsecret = %s\n", id, id, sk64 ? sk64 : "");
	if (sk64)
		sodium_memzero(sk64, strlen(sk64));
	free(sk64);
}

/* ---- public keys -------------------------------------------------------- */

struct public_ctx {
	struct trusted_key *k;
	int has_id, has_pk;
	char why[CR_ERR_MAX];
};

/* "operations =" names rows of the operation table (ops.h). */
static int known_op(const char *s)
{
	return cr_op_by_name(s) != NULL;
}

/* "a, b c" into fixed slots, each checked by ok(); 0 on a bad or extra item. */
static int split_list(const char *v, char *slots, size_t slotlen, int max, int *n, int (*ok)(const char *))
{
	char buf[1024], *save = NULL;

	if (!cr_copy_str(buf, sizeof(buf), v))
		return 0;
	*n = 0;
	for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		if (*n >= max || !ok(t) || !cr_copy_str(slots + (size_t)*n * slotlen, slotlen, t))
			return 0;
		(*n)++;
	}
	return 1;
}

static int on_public(void *user, const char *section, const char *key, const char *value)
{
	struct public_ctx *c = user;
	struct trusted_key *k = c->k;
	char q[40];

	if (c->why[0])
		return 1;
	/* Names quoted in the reason are quoted printable: it reaches the log. */
	cr_quote_printable(q, sizeof(q), section[0] ? section : key, 32);
	if (section[0] != '\0')
		snprintf(c->why, sizeof(c->why), "unexpected section [%s]", q);
	else if (!strcmp(key, "id"))
		c->has_id = cr_valid_key_id(value) && cr_copy_str(k->id, sizeof(k->id), value);
	else if (!strcmp(key, "public"))
		c->has_pk = decode_key(value, k->pk, sizeof(k->pk));
	else if (!strcmp(key, "operations")) {
		if (!split_list(value, &k->ops[0][0], sizeof(k->ops[0]), SIG_OPS_MAX, &k->nops, known_op)) {
			char names[sizeof(c->why) - sizeof("operations: use ")];
			cr_op_names(names, sizeof(names), 0, 0, " ", " ");
			snprintf(c->why, sizeof(c->why), "operations: use %s", names);
		}
	} else if (!strcmp(key, "roles")) {
		if (!split_list(value, &k->roles[0][0], sizeof(k->roles[0]), REG_MAX_ROLES, &k->nroles, cr_valid_role))
			snprintf(c->why, sizeof(c->why), "roles: a list of at most %d valid role names", REG_MAX_ROLES);
	} else
		snprintf(c->why, sizeof(c->why), "unknown key '%s' (allowed: id, public, operations, roles)", q);
	return 1;
}

int cr_key_parse_public(const char *text, const char *file_id, struct trusted_key *k, char *err, size_t errlen)
{
	struct public_ctx c = { .k = k };
	int rc;

	memset(k, 0, sizeof(*k));
	rc = ini_parse_string(text, on_public, &c);
	if (rc != 0 && !c.why[0])
		snprintf(c.why, sizeof(c.why), "syntax error on line %d", rc);
	if (!c.why[0] && (!c.has_id || !c.has_pk))
		snprintf(c.why, sizeof(c.why), "needs 'id = KEYID' and 'public = BASE64' (32 bytes)");
	/* The file name is what an auditor sees in the directory: it must not lie. */
	if (!c.why[0] && file_id && strcmp(file_id, k->id) != 0)
		snprintf(c.why, sizeof(c.why), "its id '%s' differs from its file name", k->id);
	if (c.why[0]) {
		snprintf(err, errlen, "%s", c.why);
		return -1;
	}
	return 0;
}

static int load_one(const char *dir, const char *name, struct keyring *kr, char *err, size_t errlen)
{
	char path[4096], id[KEY_ID_MAX + 1], why[256];
	size_t n = strlen(name);
	char *text;

	if (n > 4 && n - 4 <= KEY_ID_MAX) {
		memcpy(id, name, n - 4);
		id[n - 4] = '\0';
	}
	if (n <= 4 || n - 4 > KEY_ID_MAX || !cr_valid_key_id(id)) {
		snprintf(err, errlen, "%s/%s: a trusted key file is named KEYID.pub", dir, name);
		return -1;
	}
	if (kr->n >= KEYRING_MAX) {
		snprintf(err, errlen, "%s: more than %d trusted keys", dir, KEYRING_MAX);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((text = read_small(path, KEY_FILE_TRUSTED, err, errlen)) == NULL)
		return -1;
	int rc = cr_key_parse_public(text, id, &kr->k[kr->n], why, sizeof(why));
	free(text);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	kr->n++;
	return 0;
}

static int ends_with_pub(const char *s)
{
	size_t n = strlen(s);
	return n > 4 && !strcmp(s + n - 4, ".pub");
}

/* Nobody but root (or us) may add or swap keys in the directory. */
static int keyring_dir_ok(DIR *d, const char *dir, char *err, size_t errlen)
{
	struct stat sb;

	if (fstat(dirfd(d), &sb) < 0)
		return snprintf(err, errlen, "cannot stat %s: %s", dir, strerror(errno)), -1;
	if (sb.st_mode & 022)
		return snprintf(err, errlen, "the trusted keys directory %s is writable by group or others (mode %04o): "
				"run 'chmod go-w %s'", dir, (unsigned)(sb.st_mode & 07777), dir), -1;
	if (!owner_ok(&sb))
		return snprintf(err, errlen, "the trusted keys directory %s belongs to uid %ld: run 'chown root %s'", dir,
				(long)sb.st_uid, dir), -1;
	return 0;
}

int cr_keyring_load(const char *dir, struct keyring *kr, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;

	memset(kr, 0, sizeof(*kr));
	if (d == NULL) {
		snprintf(err, errlen, "cannot read the trusted keys directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (keyring_dir_ok(d, dir, err, errlen) < 0) {
		closedir(d);
		return -1;
	}
	while (rc == 0 && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && ends_with_pub(e->d_name))
			rc = load_one(dir, e->d_name, kr, err, errlen);
	closedir(d);
	return rc;
}

/* ---- generation --------------------------------------------------------- */

static int write_new(const char *path, const char *text, mode_t mode, int force, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (force ? O_TRUNC : O_EXCL), mode);
	size_t len = strlen(text);

	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s%s", path, strerror(errno),
			 errno == EEXIST ? " (use --force to replace it)" : "");
		return -1;
	}
	if (fchmod(fd, mode) < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return close(fd);
}

int cr_key_generate(const char *dir, const char *id, int force, char *err, size_t errlen)
{
	unsigned char pk[32], sk[64];
	char path[4096], text[512];
	char *pk64;
	int rc = -1;

	if (!cr_valid_key_id(id)) {
		snprintf(err, errlen, "invalid key id '%.80s': use [a-z0-9][a-z0-9._-]{0,63}, e.g. your name", id);
		return -1;
	}
	crypto_sign_keypair(pk, sk);
	pk64 = cr_b64_encode(pk, sizeof(pk));
	if (pk64) {
		snprintf(path, sizeof(path), "%s/%s.key", dir, id);
		key_format_secret(id, sk, text, sizeof(text));
		rc = write_new(path, text, 0600, force, err, errlen);
		sodium_memzero(text, sizeof(text));
	}
	sodium_memzero(sk, sizeof(sk));
	if (rc == 0) {
		char names[256];
		cr_op_names(names, sizeof(names), 0, 0, " ", " ");
		snprintf(path, sizeof(path), "%s/%s.pub", dir, id);
		snprintf(text, sizeof(text),
			 "# celeryroot public key '%s': copy it into the trusted_keys directory of each server\n"
			 "# (default /etc/celeryroot/trusted-keys/); uncomment to limit what it may sign.\n"
			 "id = %s\npublic = %s\n"
			 ";operations = %s\n"
			 ";roles = webserver database\n", id, id, pk64, names);
		rc = write_new(path, text, 0644, force, err, errlen);
	}
	free(pk64);
	return rc;
}
