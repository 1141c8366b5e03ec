/* Target resolution (DESIGN §3): --all, --role R, --host H and --one-of R are
 * resolved against the registry to one destination queue each.  Pure code:
 * no Redis here, so it can be tested and reused by beat. */
#ifndef CR_TARGET_H
#define CR_TARGET_H

#include <stddef.h>

#include "celery.h"
#include "registry.h"

#define TARGET_MAX_ITEMS 256

struct target_spec {
	int all;
	int nroles, nhosts, noneof;
	char roles[TARGET_MAX_ITEMS][ROLE_MAX + 1];
	char hosts[TARGET_MAX_ITEMS][HOSTNAME_MAX + 1];
	char oneof[TARGET_MAX_ITEMS][ROLE_MAX + 1];
};

struct dest {
	char queue[CELERY_QUEUE_MAX + 1];  /* host.<h> or role.<r> */
	char host[HOSTNAME_MAX + 1];       /* empty for a --one-of destination */
	char role[ROLE_MAX + 1];           /* set for --one-of */
	int online;                        /* host (or, for one-of, any host of the role) online */
};

/* Adds one item, validating its name; -1 with a reason if invalid or too many. */
int cr_target_add(struct target_spec *t, const char *kind, const char *value, char *err,
	       size_t errlen);
int cr_target_empty(const struct target_spec *t);
/* Resolves to destinations, host destinations sorted by name and deduplicated.
 * Unknown hosts or roles: -1 and an err that lists the known ones.  *out is
 * malloc'd. */
int cr_target_resolve(const struct target_spec *t, const struct host_rec *hosts, size_t nhosts,
		   double now, struct dest **out, size_t *nout, char *err, size_t errlen);
/* A one-line description ("--role webserver --host db01"), for job records. */
void cr_target_describe(const struct target_spec *t, char *buf, size_t len);

#endif
