/* known_hosts: the host keys the operator has seen (see known_hosts.h). */
#include "config.h"
#include "known_hosts.h"
#include "crerr.h"
#include "hostsig.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64.h"
#include "cli.h"
#include "registry.h"
#include "timeutil.h"

#define KH_FILE_MAX (4 * 1024 * 1024)
#define KH_LINE_MAX 512
#define KEY_FILE_MAX 4096
#define REG_KEYS_READ_S 3.0

const char *kh_state_name(enum kh_state s)
{
	static const char *const names[] = { "none", "new", "known", "CHANGED" };
	return names[s];
}

void kh_fingerprint(const unsigned char pk[HOST_KEY_LEN], char out[FINGERPRINT_MAX])
{
	cr_hostsig_fingerprint(pk, out);
}

/* $CELERYROOT_KNOWN_HOSTS, else the config directory's known_hosts. */
static int kh_path(char *buf, size_t len)
{
	const char *env = getenv("CELERYROOT_KNOWN_HOSTS");
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (env && env[0])
		return snprintf(buf, len, "%s", env) < (int)len ? 0 : -1;
	if (xdg && xdg[0] == '/')
		return snprintf(buf, len, "%s/celeryroot/known_hosts", xdg) < (int)len ? 0 : -1;
	if (home && home[0] == '/')
		return snprintf(buf, len, "%s/.config/celeryroot/known_hosts", home) < (int)len ? 0 : -1;
	return -1;
}

static int add_entry(struct known_hosts *kh, const struct kh_entry *e)
{
	struct kh_entry *ne = realloc(kh->e, (kh->n + 1) * sizeof(*ne));

	if (ne == NULL)
		return -1;
	kh->e = ne;
	kh->e[kh->n++] = *e;
	return 0;
}

/* Nobody else may write the file: they could plant keys. */
static int file_ok(int fd, const char *path, char *err, size_t errlen)
{
	struct stat sb;

	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > KH_FILE_MAX)
		return snprintf(err, errlen, "%s is not a known_hosts file (a regular file of at most %d bytes)", path,
				KH_FILE_MAX), -1;
	if (sb.st_mode & 022)
		return snprintf(err, errlen, "%s is writable by group or others: run 'chmod 600 %s'", path, path), -1;
	if (sb.st_uid != geteuid() && sb.st_uid != 0)
		return snprintf(err, errlen, "%s belongs to uid %ld: run 'chown %ld %s'", path, (long)sb.st_uid,
				(long)geteuid(), path), -1;
	return 0;
}

static int parse_all(struct known_hosts *kh, FILE *f, char *err, size_t errlen)
{
	char line[KH_LINE_MAX];
	int no = 0;

	while (fgets(line, sizeof(line), f) != NULL) {
		struct kh_entry e;
		const unsigned char *had;
		no++;
		if (strchr(line, '\n') == NULL && !feof(f))
			return snprintf(err, errlen, "%s:%d: line too long", kh->path, no), -1;
		line[strcspn(line, "\n")] = '\0';
		if (line[strspn(line, " \t\r")] == '\0' || line[strspn(line, " \t")] == '#')
			continue;
		if (!kh_parse_line(line, e.host, e.pk))
			return snprintf(err, errlen, "%s:%d: not 'HOST ed25519 BASE64' (fix or remove the line)", kh->path,
					no), -1;
		if ((had = kh_find(kh, e.host)) != NULL && memcmp(had, e.pk, HOST_KEY_LEN) != 0)
			return snprintf(err, errlen, "%s:%d: %s is listed again with another key (keep one line)", kh->path,
					no, e.host), -1;
		if (had == NULL && add_entry(kh, &e) < 0)
			return snprintf(err, errlen, "out of memory"), -1;
	}
	return 0;
}

int kh_load(struct known_hosts *kh, char *err, size_t errlen)
{
	FILE *f;
	int fd, rc;

	memset(kh, 0, sizeof(*kh));
	if (kh_path(kh->path, sizeof(kh->path)) < 0)
		return snprintf(err, errlen, "no place for known_hosts: set CELERYROOT_KNOWN_HOSTS or HOME"), -1;
	fd = open(kh->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return snprintf(err, errlen, "cannot read %s: %s", kh->path, strerror(errno)), -1;
	if (file_ok(fd, kh->path, err, errlen) < 0 || (f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return -1;
	}
	rc = parse_all(kh, f, err, errlen);
	fclose(f);
	if (rc < 0)
		kh_free(kh);
	return rc;
}

void kh_free(struct known_hosts *kh)
{
	free(kh->e);
	kh->e = NULL;
	kh->n = 0;
}

const unsigned char *kh_find(const struct known_hosts *kh, const char *host)
{
	for (size_t i = 0; i < kh->n; i++)
		if (!strcmp(kh->e[i].host, host))
			return kh->e[i].pk;
	return NULL;
}

enum kh_state kh_state(const struct known_hosts *kh, const char *host, const struct reg_key *rk)
{
	const unsigned char *known = kh_find(kh, host);

	if (known == NULL)
		return rk->present ? KH_NEW : KH_NONE;
	return rk->present && memcmp(known, rk->pk, HOST_KEY_LEN) == 0 ? KH_KNOWN : KH_CHANGED;
}

/* ---- writing ------------------------------------------------------------------ */

/* mkdir -p of the file's directory (0700), and a lock on that directory
 * that every writer takes: the fd to close, or -1. */
static int lock_dir(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	char *slash;
	int fd;

	if (!cr_copy_str(dir, sizeof(dir), path) || (slash = strrchr(dir, '/')) == NULL)
		cr_copy_str(dir, sizeof(dir), ".");
	else
		*(slash == dir ? slash + 1 : slash) = '\0';
	for (char *s = strchr(dir + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(dir, 0700);
		*s = '/';
	}
	mkdir(dir, 0700);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		snprintf(err, errlen, "cannot lock %s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The whole file, through a temporary one and rename(): never half written. */
static int write_all(const struct known_hosts *kh, char *err, size_t errlen)
{
	char tmp[PATH_MAX + 32];
	FILE *f;
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", kh->path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fprintf(f, "# celeryroot known host keys: HOST ed25519 BASE64 (see 'celeryroot hosts --help')\n");
	for (size_t i = 0; i < kh->n; i++) {
		char *b = cr_b64_encode(kh->e[i].pk, HOST_KEY_LEN);
		fprintf(f, "%s ed25519 %s\n", kh->e[i].host, b ? b : "");
		free(b);
	}
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, kh->path) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", kh->path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int kh_set(struct known_hosts *kh, const char *host, const unsigned char *pk, char *err, size_t errlen)
{
	struct known_hosts cur;
	int lock = lock_dir(kh->path, err, errlen), rc = -1;

	if (lock < 0)
		return -1;
	/* Read again under the lock: another celeryroot may have added hosts. */
	if (kh_load(&cur, err, errlen) == 0) {
		size_t o = 0;
		for (size_t i = 0; i < cur.n; i++)
			if (strcmp(cur.e[i].host, host) != 0)
				cur.e[o++] = cur.e[i];
		cur.n = o;
		struct kh_entry e;
		memset(&e, 0, sizeof(e));
		cr_copy_str(e.host, sizeof(e.host), host);
		if (pk)
			memcpy(e.pk, pk, HOST_KEY_LEN);
		if (pk == NULL || add_entry(&cur, &e) == 0)
			rc = write_all(&cur, err, errlen);
		if (rc == 0) {
			kh_free(kh);
			kh->e = cur.e;
			kh->n = cur.n;
			cur.e = NULL;
		}
		kh_free(&cur);
	}
	close(lock);
	return rc;
}

/* Said once per host and run, ssh-style: what, why, and what to do. */
static void warn_changed(struct known_hosts *kh, const char *host, const unsigned char *known,
			 const struct reg_key *rk)
{
	char was[FINGERPRINT_MAX], now[FINGERPRINT_MAX] = "none";

	for (int i = 0; i < kh->nwarned; i++)
		if (!strcmp(kh->warned[i], host))
			return;
	if (kh->nwarned < (int)(sizeof(kh->warned) / sizeof(kh->warned[0])))
		cr_copy_str(kh->warned[kh->nwarned++], sizeof(kh->warned[0]), host);
	kh_fingerprint(known, was);
	if (rk->present)
		kh_fingerprint(rk->pk, now);
	cli_err("@@@ WARNING: THE HOST KEY OF %s HAS CHANGED @@@", host);
	cli_err("%s: known_hosts (%s) holds %s, but the registry now says %s%s.", host, kh->path, was,
		rk->present ? "" : "it has no key", rk->present ? now : "");
	cli_err("%s: either %s was reinstalled with a new host key, or someone who can write to Redis is "
		"impersonating it.  Its records are checked against the key in known_hosts, so anything "
		"signed with another key is shown as forged.", host, host);
	cli_err("%s: check the fingerprint on %s itself ('celeryroot key fingerprint /var/lib/celeryroot/host.pub'), "
		"then accept it with: celeryroot hosts trust %s", host, host, host);
}

int kh_use(struct known_hosts *kh, const char *host, const struct reg_key *rk, unsigned char pk[HOST_KEY_LEN])
{
	const unsigned char *known = kh_find(kh, host);
	char fp[FINGERPRINT_MAX], err[PATH_MAX + 128];

	if (known != NULL) {
		if (rk != NULL && (!rk->present || memcmp(known, rk->pk, HOST_KEY_LEN) != 0))
			warn_changed(kh, host, known, rk);
		memcpy(pk, known, HOST_KEY_LEN);
		return 1;
	}
	if (rk == NULL || !rk->present)
		return 0;
	kh_fingerprint(rk->pk, fp);
	/* As ssh does when it cannot add a host: said, and used for this run. */
	if (kh_set(kh, host, rk->pk, err, sizeof(err)) < 0) {
		cli_err("%s: cannot record its host key %s (%s): trusting it for this run only", host, fp, err);
		memcpy(pk, rk->pk, HOST_KEY_LEN);
		return 1;
	}
	cli_err("%s: new host, key %s recorded in %s (trust on first use; compare it with "
		"'celeryroot key fingerprint /var/lib/celeryroot/host.pub' on %s)", host, fp, kh->path, host);
	memcpy(pk, rk->pk, HOST_KEY_LEN);
	return 1;
}

/* ---- the registry's keys ----------------------------------------------------------- */

int reg_keys_fetch(redisContext *c, const char *const *hosts, size_t n, struct reg_key *out)
{
	const char **argv = calloc(n + 1, sizeof(*argv));
	char (*keys)[sizeof(REG_HOST_PREFIX) + HOSTNAME_MAX] = calloc(n ? n : 1, sizeof(*keys));
	char err[CR_ERR_MAX];
	redisReply *r = NULL;
	int rc = -1;

	memset(out, 0, n * sizeof(*out));
	if (argv && keys && n > 0 && c != NULL && !c->err) {
		argv[0] = "MGET";
		for (size_t i = 0; i < n; i++) {
			snprintf(keys[i], sizeof(keys[i]), REG_HOST_PREFIX "%s", hosts[i]);
			argv[i + 1] = keys[i];
		}
		r = link_cmd(c, (int)n + 1, argv, cr_now_mono() + REG_KEYS_READ_S, err, sizeof(err));
		if (r == NULL)
			link_poison(c, err);   /* a late reply would answer the next command */
	}
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && i < n; i++)
		if (r->element[i]->type == REDIS_REPLY_STRING)
			reg_key_parse(r->element[i]->str, r->element[i]->len, &out[i]);
	rc = r && r->type == REDIS_REPLY_ARRAY ? 0 : n == 0 ? 0 : -1;
	if (r)
		freeReplyObject(r);
	free(argv);
	free(keys);
	return rc;
}

int kh_read_pub(const char *path, unsigned char pk[HOST_KEY_LEN], char *err, size_t errlen)
{
	char text[KEY_FILE_MAX + 1], why[256];
	struct trusted_key k;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n = fd < 0 ? -1 : read(fd, text, KEY_FILE_MAX);

	if (fd >= 0)
		close(fd);
	if (n < 0)
		return snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno)), -1;
	text[n] = '\0';
	if (cr_key_parse_public(text, NULL, &k, why, sizeof(why)) < 0)
		return snprintf(err, errlen, "%s: %s", path, why), -1;
	memcpy(pk, k.pk, HOST_KEY_LEN);
	return 0;
}
