/* Host keys as the operator knows them, the way ssh keeps known_hosts.
 *
 * Each host's root helper signs its result records and audit lines with
 * its own Ed25519 key, and publishes the public half in its registry
 * record ("host_key").  The registry is Redis, which others can write, so
 * the CLI does not simply believe it: the first key it sees for a host is
 * recorded in known_hosts (trust on first use, with a note on stderr), and
 * from then on that host's records are checked against the recorded key.
 * A different key in the registry later is refused loudly, never adopted:
 * 'celeryroot hosts trust HOST' accepts it once someone has checked it.
 *
 * The file: $CELERYROOT_KNOWN_HOSTS, else ~/.config/celeryroot/known_hosts
 * ($XDG_CONFIG_HOME/celeryroot/known_hosts), mode 0600, one line per host:
 *   HOST ed25519 BASE64-OF-32-BYTES
 * '#' starts a comment line. */
#ifndef CR_CLI_KNOWN_HOSTS_H
#define CR_CLI_KNOWN_HOSTS_H

#include <hiredis/hiredis.h>
#include <limits.h>
#include <stddef.h>

#include "hostcheck.h"
#include "names.h"

/* "SHA256:" and 43 characters of unpadded base64. */
#define FINGERPRINT_MAX 64

enum kh_state {
	KH_NONE,      /* neither the registry nor known_hosts has a key for it */
	KH_NEW,       /* the registry has one; known_hosts does not yet */
	KH_KNOWN,     /* both, and they are the same */
	KH_CHANGED,   /* known_hosts has one; the registry has another, or none */
};
const char *kh_state_name(enum kh_state s);

struct kh_entry {
	char host[HOSTNAME_MAX + 1];
	unsigned char pk[HOST_KEY_LEN];
};

struct known_hosts {
	char path[PATH_MAX];
	size_t n;
	struct kh_entry *e;
	char warned[8][HOSTNAME_MAX + 1];   /* CHANGED said once per host per run */
	int nwarned;
};

/* "SHA256:" + unpadded base64 of SHA-256(pk), as ssh shows keys. */
void kh_fingerprint(const unsigned char pk[HOST_KEY_LEN], char out[FINGERPRINT_MAX]);
/* Reads the file (a missing one is empty): -1 with a reason when it cannot
 * be trusted (writable by others, another owner's, malformed). */
int kh_load(struct known_hosts *kh, char *err, size_t errlen);
void kh_free(struct known_hosts *kh);
const unsigned char *kh_find(const struct known_hosts *kh, const char *host);
enum kh_state kh_state(const struct known_hosts *kh, const char *host, const struct reg_key *rk);
/* Records host's key (pk), or forgets it (pk NULL), rewriting the file
 * under a lock; -1 with a reason. */
int kh_set(struct known_hosts *kh, const char *host, const unsigned char *pk, char *err, size_t errlen);
/* Trust on first use: with no key recorded for host and one in rk, records
 * it and says so on stderr (when the file cannot be written, says so and
 * uses the key for this run, as ssh does); with a recorded key that rk
 * contradicts, says loudly (once) that it changed (rk NULL: the registry
 * was not read).  The key to check host's records with is copied to pk: 1,
 * or 0 when there is none. */
int kh_use(struct known_hosts *kh, const char *host, const struct reg_key *rk, unsigned char pk[HOST_KEY_LEN]);

/* The registry keys of n hosts, with one MGET: 0, or -1 (broker error; the
 * keys are then all absent). */
int reg_keys_fetch(redisContext *c, const char *const *hosts, size_t n, struct reg_key *out);
/* A key file (INI: "public = BASE64", as host.pub and operator keys): 0. */
int kh_read_pub(const char *path, unsigned char pk[HOST_KEY_LEN], char *err, size_t errlen);

#endif
