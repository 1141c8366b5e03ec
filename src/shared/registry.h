/* The host registry (DESIGN §3): one JSON record per host under
 * celeryroot:host:<name>, and the set celeryroot:hosts naming them all. */
#ifndef CR_REGISTRY_H
#define CR_REGISTRY_H

#include <stddef.h>

#include "hostsig.h"
#include "names.h"

#define REG_HOSTS_KEY "celeryroot:hosts"
#define REG_HOST_PREFIX "celeryroot:host:"
/* Each host's maintenance windows: [{"name","days","start","duration","zone"}]. */
#define REG_WINDOWS_PREFIX "celeryroot:host-windows:"
#define REG_MAX_ROLES 16
#define REG_RECORD_MAX 8192
/* A host is online while its last heartbeat is younger than this many intervals. */
#define REG_ONLINE_INTERVALS 3

struct host_rec {
	char hostname[HOSTNAME_MAX + 1];
	char roles[REG_MAX_ROLES][ROLE_MAX + 1];
	int nroles;
	char version[32];
	char os[128];
	char kernel[128];
	char state[16];      /* "running" or "stopped" */
	double started;      /* epoch seconds */
	double last_seen;    /* epoch seconds */
	int heartbeat_s;
	long pid;
	/* priv's host public key (base64, 32 bytes: hostsig.h); "" when the
	 * record has none (a daemon from before host keys). */
	char host_key[HOSTSIG_PK_B64_MAX];
};

/* malloc'd JSON; NULL if the record is invalid. */
char *cr_registry_encode(const struct host_rec *h);
/* Strict decode with bounds: -1 and a reason on anything malformed. */
int cr_registry_decode(const char *json, size_t len, struct host_rec *h, char *err, size_t errlen);
int cr_registry_online(const struct host_rec *h, double now);
int cr_registry_has_role(const struct host_rec *h, const char *role);

#endif
