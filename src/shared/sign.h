/* Signed tasks (Ed25519 through libsodium).  An operator signs, per host
 * message, a canonical form of what the task will do and where:
 *
 *   "celeryroot-task-v1\n" + canon({"args", "expires", ["for",] "job", "key",
 *                                    "kwargs", "nonce", "target", "task", "v"})
 *
 * and the message carries {"v", "key", "nonce", "expires", "target", "job",
 * ["for",] "sig"} in its celeryroot_sig header.  "for" is there only when
 * beat fires a schedule: {"schedule": NAME, "key": KEYID}, the schedule and
 * the operator key that signed its definition ("key" is absent for a
 * schedule from the config file); a task without it signs and checks as
 * before (contrib/celeryroot_sign.py).  net checks it before anything reaches
 * priv; priv, which holds the same trusted keys, checks it again on the
 * claims net forwards, so a compromised net cannot forge a request. */
#ifndef CR_SIGN_H
#define CR_SIGN_H

#include <jansson.h>
#include <stddef.h>

#include "names.h"
#include "registry.h"

#define SIG_HEADER "celeryroot_sig"
#define SIG_VERSION 1
#define KEY_ID_MAX 64
#define SIG_NONCE_HEX 32
/* A signed task can be valid for at most this long (the nonce is kept as
 * long as that, to refuse replays). */
#define SIG_MAX_LIFETIME (31 * 86400)
#define KEYRING_MAX 64
#define SIG_OPS_MAX 16
/* A schedule's name in "for": [a-z0-9][a-z0-9._-]{0,62}. */
#define SIG_SCHEDULE_MAX 63

struct sig_claims {
	char key[KEY_ID_MAX + 1];
	char nonce[SIG_NONCE_HEX + 1];
	long long expires;                 /* epoch seconds */
	char target[HOSTNAME_MAX + 8];     /* host.<h> or role.<r> */
	char job[TASK_ID_MAX + 1];         /* may be empty */
	char task[TASK_NAME_MAX + 1];
	json_t *args;                      /* owned */
	json_t *kwargs;                    /* owned */
	char for_schedule[SIG_SCHEDULE_MAX + 1];   /* "" unless fired by beat for a schedule */
	char for_key[KEY_ID_MAX + 1];      /* the key that signed the schedule; "" for a config one */
	unsigned char sig[64];
};

struct trusted_key {
	char id[KEY_ID_MAX + 1];
	unsigned char pk[32];
	int nops;                          /* 0: every operation */
	char ops[SIG_OPS_MAX][16];
	int nroles;                        /* 0: hosts of any role */
	char roles[REG_MAX_ROLES][ROLE_MAX + 1];
};

struct keyring {
	int n;
	struct trusted_key k[KEYRING_MAX];
};

struct signing_key {
	char id[KEY_ID_MAX + 1];
	unsigned char sk[64];
};

/* Key id: [a-z0-9][a-z0-9._-]{0,63}, also the file name of its key files. */
int cr_valid_key_id(const char *s);

/* keys.c: key files (INI: id, secret / id, public, operations, roles). */
int cr_key_generate(const char *dir, const char *id, int force, char *err, size_t errlen);
int cr_key_load_secret(const char *path, struct signing_key *k, char *err, size_t errlen);
/* The text of a secret key file, already read (priv's host key: its file's
 * owner and mode are checked by priv).  0, or -1 (k zeroed). */
int cr_key_parse_secret(const char *text, struct signing_key *k);
int cr_key_parse_public(const char *text, const char *file_id, struct trusted_key *k, char *err, size_t errlen);
/* Loads every *.pub in dir; a bad file is an error (never silently skipped). */
int cr_keyring_load(const char *dir, struct keyring *kr, char *err, size_t errlen);
const struct trusted_key *cr_keyring_find(const struct keyring *kr, const char *id);

/* sign.c */
/* The operation a task name stands for: "install" for celeryroot.apt.install. */
const char *cr_sig_operation(const char *task);
/* Builds the header object for one message (new reference), or NULL. */
json_t *cr_sig_make_header(const struct signing_key *k, const char *task, json_t *args, json_t *kwargs,
			const char *target, const char *job, long long expires, char *err, size_t errlen);
/* The same for a task beat fires for a schedule (for_key NULL or "": a
 * schedule from the config file). */
json_t *cr_sig_make_header_for(const struct signing_key *k, const char *task, json_t *args, json_t *kwargs,
			    const char *target, const char *job, long long expires, const char *for_schedule,
			    const char *for_key, char *err, size_t errlen);
/* Header (from a message) plus the message's task, args and kwargs -> claims. */
int cr_sig_claims_from_header(json_t *hdr, const char *task, json_t *args, json_t *kwargs,
			   struct sig_claims *c, char *err, size_t errlen);
/* The full claims as net forwards them to priv, and back. */
json_t *cr_sig_claims_to_json(const struct sig_claims *c);
int cr_sig_claims_from_json(json_t *o, struct sig_claims *c, char *err, size_t errlen);
void cr_sig_claims_free(struct sig_claims *c);

/* Who checks: this host's name and roles, and the time now. */
struct sig_host {
	const char *hostname;
	const char (*roles)[ROLE_MAX + 1];
	int nroles;
	double now;
};
/* Every check but replay: known key, valid signature, not expired (nor
 * valid for longer than SIG_MAX_LIFETIME), meant for this host, and within
 * the key's operations and roles.  -1 with the reason. */
int cr_sig_verify(const struct keyring *kr, const struct sig_claims *c, const struct sig_host *h,
	       char *err, size_t errlen);

#endif
