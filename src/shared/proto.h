/* The fixed request schema between net and priv (DESIGN §4).  Payloads are
 * JSON objects; the decoder accepts exactly the keys each type allows, with
 * the right types and bounds, and nothing else.  priv decodes every request
 * with these functions: net is treated as hostile. */
#ifndef CR_PROTO_H
#define CR_PROTO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "names.h"
#include "pkgspec.h"
#include "sign.h"

/* The APT operations priv performs are the REQ_APT rows of ops.h's table. */

enum proto_type {
	/* requests: even */
	REQ_HELLO = 2,
	REQ_PING = 4,
	REQ_FACTS = 6,
	REQ_APT = 8,
	/* answers: odd */
	ANS_PROGRESS = 3,
	ANS_REPLY = 5,
	ANS_REFUSED = 7,
	/* An audit line priv wrote on its own (a minute's summary of coalesced
	 * refusals or of reads), for net to copy to the stream; id is 0. */
	ANS_AUDIT = 9,
};

#define PROTO_ERR_MAX 512
/* upgrade --exclude: how many names, each "name[:arch]". */
#define CR_EXCLUDE_MAX 32
#define CR_EXCLUDE_NAME_MAX (PKG_NAME_MAX + 1 + PKG_ARCH_MAX)

struct proto_req {
	uint8_t type;
	uint32_t id;                    /* net's request id, echoed in answers */
	char job[TASK_ID_MAX + 1];      /* empty when the task came without a job */
	char task[TASK_ID_MAX + 1];
	/* REQ_APT only */
	char op[16];
	size_t npkgs;
	struct pkgspec pkgs[PKG_SPECS_MAX];
	int upgradable, security, check, purge;
	int now;                        /* run outside maintenance windows (audited) */
	int allow_downgrade;            /* install may downgrade (apt-get's --allow-downgrades) */
	int allow_essential;            /* may remove Essential / Priority: required packages */
	int allow_removals;             /* may remove packages the task did not name */
	int conffile_new;               /* dpkg takes the package's conffiles (--force-confnew) */
	double max_age;                 /* seconds; -1 when not given */
	int full;                       /* upgrade: apt's full-upgrade, which may remove */
	size_t nexclude;                /* upgrade: names kept at their installed version */
	char exclude[CR_EXCLUDE_MAX][CR_EXCLUDE_NAME_MAX + 1];
	/* PING, FACTS, APT: a signed task's claims as net forwards them
	 * (sign.h), NULL when unsigned.  Owned: cr_proto_req_clear() frees it. */
	json_t *sig;
	char key[KEY_ID_MAX + 1];       /* set by priv once the signature checked out */
	/* and, for a task beat fired for a schedule (sign.h "for"), which one
	 * and the key that signed it: set by priv with key, for the audit */
	char schedule[SIG_SCHEDULE_MAX + 1];
	char schedule_key[KEY_ID_MAX + 1];
};

/* Encodes a request as a JSON payload (malloc'd, *len set); NULL on bad input. */
char *cr_proto_req_encode(const struct proto_req *r, size_t *len);
void cr_proto_req_clear(struct proto_req *r);
/* The APT request's yes/no options from a JSON object (a frame, or a task's
 * kwargs: the same names), absent meaning no; checked by the caller. */
void cr_proto_apt_flags(struct proto_req *r, const json_t *o);
/* Reads an exclude list (a JSON array of 1..CR_EXCLUDE_MAX distinct
 * package names, "name[:arch]", no version) into r; -1, r untouched, when
 * it is anything else.  r NULL: only checks. */
int cr_proto_exclude_parse(const json_t *v, struct proto_req *r);
/* Strictly decodes a request of the given frame type.  -1 with a one-line
 * reason in err (and r->id set when it could be read) on anything unexpected. */
int cr_proto_req_decode(uint8_t type, const uint8_t *payload, size_t len, struct proto_req *r,
		     char *err, size_t errlen);

struct proto_ans {
	uint8_t type;
	uint32_t id;
	json_t *data;       /* REPLY: the result data object (owned) */
	int percent;        /* PROGRESS: 0..100 */
	char pkg[128];      /* PROGRESS: current package, may be empty */
	char text[256];     /* PROGRESS text, or REFUSED reason */
	/* REFUSED: the audit line priv wrote for the refusal (owned), NULL
	 * when it wrote none (coalesced, or not an audited kind); AUDIT: the line. */
	json_t *audit;
};

char *cr_proto_ans_encode(const struct proto_ans *a, size_t *len);
int cr_proto_ans_decode(uint8_t type, const uint8_t *payload, size_t len, struct proto_ans *a,
		     char *err, size_t errlen);
void cr_proto_ans_free(struct proto_ans *a);
const char *cr_proto_type_name(uint8_t type);

#endif
