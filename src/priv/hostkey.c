/* priv's host key (issue 12): an Ed25519 key pair in the host root's state
 * directory (var/lib/celeryroot, priv's own, 0700), created at the first
 * start and loaded at every later one, as root and before priv confines
 * itself:
 *
 *   host.key   id = host / secret = <b64 of 64 bytes>   0600, root's
 *   host.pub   id = host / public = <b64 of 32 bytes>   0644, root's
 *
 * (the INI format of operators' keys, keys.c).  A host.key that others could
 * read, or that is not root's, or that does not parse stops priv: signing
 * with a key someone else may hold would make every record worthless.
 * host.pub is only a copy of the public half for people and tools (the CLI
 * pins the key from the registry): a missing or stale one is written again.
 * Files are written whole (tmp, fsync, rename, fsync of the directory:
 * priv_file.c). */
#include "config.h"
#include "crerr.h"
#include "priv.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64.h"
#include "hostsig.h"
#include "journal.h"
#include "log.h"
#include "priv_file.h"
#include "sign.h"

#define HOSTKEY_FILE_MAX 4096
#define HOSTKEY_ID "host"

static int fill_text(int fd, const void *arg)
{
	const char *text = arg;

	return cr_fd_write_all(fd, text, strlen(text));
}

/* Written whole (priv_file.c), with mode. */
static int write_file(int dirfd, const char *dir, const char *name, const char *text, mode_t mode, char *err,
		      size_t errlen)
{
	int e = priv_file_replace(dirfd, name, mode, fill_text, text);

	if (e != 0)
		return cr_err_fail(err, errlen, "cannot write %s/%s: %s", dir, name, strerror(e));
	return 0;
}

static int write_public(int dirfd, const char *dir, const unsigned char pk[32], char *err, size_t errlen)
{
	char b64[HOSTSIG_PK_B64_MAX], fp[HOSTSIG_FP_MAX], text[512];

	cr_hostsig_pk_encode(pk, b64);
	cr_hostsig_fingerprint(pk, fp);
	snprintf(text, sizeof(text),
		 "# celeryroot host key of this host (public half; %s).\n"
		 "# priv signs every result record and audit line with the secret half (host.key).\n"
		 "id = " HOSTKEY_ID "\npublic = %s\n", fp, b64);
	return write_file(dirfd, dir, "host.pub", text, 0644, err, errlen);
}

static int create(int dirfd, const char *dir, struct host_key *k, char *err, size_t errlen)
{
	char text[512], *sk64;
	int rc;

	crypto_sign_keypair(k->pk, k->sk);
	if ((sk64 = cr_b64_encode(k->sk, sizeof(k->sk))) == NULL)
		return cr_err_fail(err, errlen, "out of memory");
	snprintf(text, sizeof(text),
		 "# celeryroot host key of this host (SECRET: root's alone, 0600; never copy it).\n"
		 "id = " HOSTKEY_ID "\nsecret = %s\n", sk64);
	rc = write_file(dirfd, dir, "host.key", text, 0600, err, errlen);
	sodium_memzero(text, sizeof(text));
	sodium_memzero(sk64, strlen(sk64));
	free(sk64);
	return rc < 0 ? -1 : write_public(dirfd, dir, k->pk, err, errlen);
}

/* Reads name whole after checking what it is; NULL with a reason. */
static char *read_checked(int dirfd, const char *dir, const char *name, int secret, char *err, size_t errlen)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	struct stat sb;
	char *buf = NULL;
	ssize_t n;

	if (fd < 0) {
		cr_err_fail(err, errlen, "cannot read %s/%s: %s", dir, name, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > HOSTKEY_FILE_MAX)
		cr_err_fail(err, errlen, "%s/%s is not a key file (a regular file of at most %d bytes)", dir, name,
			 HOSTKEY_FILE_MAX);
	else if (sb.st_uid != geteuid())
		cr_err_fail(err, errlen, "%s/%s belongs to uid %ld, not root: run 'chown root %s/%s'", dir, name,
			 (long)sb.st_uid, dir, name);
	else if (secret && (sb.st_mode & 077))
		cr_err_fail(err, errlen, "%s/%s is readable by others (mode %04o): run 'chmod 600 %s/%s'", dir, name,
			 (unsigned)(sb.st_mode & 07777), dir, name);
	else if (!secret && (sb.st_mode & 022))
		cr_err_fail(err, errlen, "%s/%s is writable by group or others (mode %04o): run 'chmod 644 %s/%s'", dir,
			 name, (unsigned)(sb.st_mode & 07777), dir, name);
	else if ((buf = calloc(1, HOSTKEY_FILE_MAX + 1)) == NULL)
		cr_err_fail(err, errlen, "out of memory");
	else if ((n = read(fd, buf, HOSTKEY_FILE_MAX)) < 0 || memchr(buf, '\0', (size_t)n)) {
		cr_err_fail(err, errlen, "cannot read %s/%s: %s", dir, name, n < 0 ? strerror(errno) : "binary content");
		free(buf);
		buf = NULL;
	}
	close(fd);
	return buf;
}

/* host.key: parsed, named "host", and a whole key (the secret half gives
 * back the same pair). */
static int load_secret(int dirfd, const char *dir, struct host_key *k, char *err, size_t errlen)
{
	struct signing_key sk;
	unsigned char seed[32], pk[32], again[64];
	char *text = read_checked(dirfd, dir, "host.key", 1, err, errlen);
	int ok;

	if (text == NULL)
		return -1;
	ok = cr_key_parse_secret(text, &sk) == 0 && strcmp(sk.id, HOSTKEY_ID) == 0;
	sodium_memzero(text, HOSTKEY_FILE_MAX);
	free(text);
	if (ok) {
		crypto_sign_ed25519_sk_to_seed(seed, sk.sk);
		crypto_sign_seed_keypair(pk, again, seed);
		ok = sodium_memcmp(again, sk.sk, sizeof(again)) == 0;
		memcpy(k->sk, sk.sk, sizeof(k->sk));
		memcpy(k->pk, pk, sizeof(k->pk));
	}
	sodium_memzero(&sk, sizeof(sk));
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(again, sizeof(again));
	if (!ok)
		return cr_err_fail(err, errlen, "%s/host.key is not a celeryroot host key (want 'id = host' and the "
			       "64-byte 'secret' it was written with)", dir);
	return 0;
}

/* host.pub says the same public key, or is written again. */
static int check_public(int dirfd, const char *dir, const struct host_key *k, char *err, size_t errlen)
{
	struct trusted_key pub;
	char why[CR_ERR_MAX];
	char *text;
	struct stat sb;

	if (fstatat(dirfd, "host.pub", &sb, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
		info_f("%s/host.pub was missing: written again from host.key", dir);
		return write_public(dirfd, dir, k->pk, err, errlen);
	}
	if ((text = read_checked(dirfd, dir, "host.pub", 0, err, errlen)) == NULL)
		return -1;
	int same = cr_key_parse_public(text, HOSTKEY_ID, &pub, why, sizeof(why)) == 0 && memcmp(pub.pk, k->pk, 32) == 0;
	free(text);
	if (same)
		return 0;
	error_f("%s/host.pub does not hold host.key's public half; written again", dir);
	return write_public(dirfd, dir, k->pk, err, errlen);
}

int priv_hostkey_load(const char *root, struct host_key *k, int *created, char *err, size_t errlen)
{
	struct journal j;
	char dir[PATH_MAX];
	struct stat sb;
	int rc;

	*created = 0;
	if (priv_journal_open(&j, root, err, errlen) < 0)
		return -1;
	snprintf(dir, sizeof(dir), "%.*s", (int)(strlen(j.dir) - strlen("/changes")), j.dir);
	if (fstatat(j.statefd, "host.key", &sb, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
		rc = create(j.statefd, dir, k, err, errlen);
		*created = rc == 0;
	} else {
		rc = load_secret(j.statefd, dir, k, err, errlen);
		if (rc == 0)
			rc = check_public(j.statefd, dir, k, err, errlen);
	}
	priv_journal_close(&j);
	if (rc < 0)
		sodium_memzero(k, sizeof(*k));
	return rc;
}
