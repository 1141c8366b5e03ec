/* [window NAME] sections (see winconf.h). */
#include "config.h"
#include "crerr.h"
#include "winconf.h"

#include <ini.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define SECTION "window "

struct ctx {
	struct host_window *v;
	size_t max, n;
	char why[CR_ERR_MAX];
};

static struct host_window *entry(struct ctx *x, const char *name)
{
	for (size_t i = 0; i < x->n; i++)
		if (!strcmp(x->v[i].name, name))
			return &x->v[i];
	if (x->n >= x->max || !cr_copy_str(x->v[x->n].name, sizeof(x->v[x->n].name), name))
		return NULL;
	memset(&x->v[x->n].w, 0, sizeof(x->v[x->n].w));
	cr_copy_str(x->v[x->n].zone, sizeof(x->v[x->n].zone), "UTC");
	return &x->v[x->n++];
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	struct ctx *x = user;
	struct host_window *w;
	char *dst = NULL;
	size_t len = 0;

	if (x->why[0] || strncmp(section, SECTION, strlen(SECTION)) != 0)
		return 1;
	if ((w = entry(x, section + strlen(SECTION))) == NULL) {
		snprintf(x->why, sizeof(x->why), "[%.80s]: more than %zu windows, or the name is too long", section, x->max);
		return 1;
	}
#define FIELD(k) if (!strcmp(key, #k)) dst = w->k, len = sizeof(w->k)
	FIELD(days);
	FIELD(start);
	FIELD(duration);
	FIELD(zone);
	FIELD(roles);
	FIELD(hosts);
#undef FIELD
	if (dst == NULL)
		snprintf(x->why, sizeof(x->why), "[%.80s]: unknown key '%.40s' (allowed: days, start, duration, zone, roles, hosts)",
			 section, key);
	else if (!cr_copy_str(dst, len, value))
		snprintf(x->why, sizeof(x->why), "[%.80s]: %s is too long", section, key);
	return 1;
}

static int listed(const char *list, const char *name)
{
	char buf[512], *save = NULL;

	if (!cr_copy_str(buf, sizeof(buf), list))
		return 0;
	for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save))
		if (!strcmp(t, name))
			return 1;
	return 0;
}

static int applies(const struct host_window *w, const char *host, const char (*roles)[ROLE_MAX + 1], int nroles)
{
	if (host == NULL || listed(w->hosts, host))
		return 1;
	for (int i = 0; i < nroles; i++)
		if (listed(w->roles, roles[i]))
			return 1;
	return 0;
}

int cr_winconf_load(const char *path, const char *hostname, const char (*roles)[ROLE_MAX + 1], int nroles,
		 struct host_window *out, size_t max, size_t *n, char *err, size_t errlen)
{
	struct ctx x = { out, max, 0, "" };
	char why[CR_ERR_MAX];
	int rc = ini_parse(path, on_entry, &x);
	size_t kept = 0;

	*n = 0;
	if (rc == -1)
		return 0;
	if (rc != 0 || x.why[0])
		return snprintf(err, errlen, "%s: %s", path, x.why[0] ? x.why : "syntax error"), -1;
	for (size_t i = 0; i < x.n; i++) {
		struct host_window *w = &out[i];
		if (w->roles[0] == '\0' && w->hosts[0] == '\0')
			return snprintf(err, errlen, "%s: [window %s] needs roles = ... or hosts = ...", path, w->name), -1;
		if (cr_window_parse(w->days, w->start, w->duration, w->zone, &w->w, why, sizeof(why)) < 0)
			return snprintf(err, errlen, "%s: [window %s]: %s", path, w->name, why), -1;
		if (applies(w, hostname, roles, nroles) && kept != i)
			out[kept++] = *w;
		else if (applies(w, hostname, roles, nroles))
			kept++;
	}
	*n = kept;
	return 0;
}
