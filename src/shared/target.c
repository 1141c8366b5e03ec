#include "config.h"
#include "target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_unique(char (*list)[HOSTNAME_MAX + 1], int *n, const char *v)
{
	for (int i = 0; i < *n; i++)
		if (strcmp(list[i], v) == 0)
			return 0;
	if (*n >= TARGET_MAX_ITEMS)
		return -1;
	cr_copy_str(list[(*n)++], HOSTNAME_MAX + 1, v);
	return 0;
}

static int add_role(char (*list)[ROLE_MAX + 1], int *n, const char *v)
{
	for (int i = 0; i < *n; i++)
		if (strcmp(list[i], v) == 0)
			return 0;
	if (*n >= TARGET_MAX_ITEMS)
		return -1;
	cr_copy_str(list[(*n)++], ROLE_MAX + 1, v);
	return 0;
}

int cr_target_add(struct target_spec *t, const char *kind, const char *value, char *err, size_t errlen)
{
	int rc;

	if (kind == NULL) {
		snprintf(err, errlen, "target kind missing");
		return -1;
	}
	if (strcmp(kind, "all") == 0) {
		t->all = 1;
		return 0;
	}
	if (strcmp(kind, "host") == 0) {
		if (!cr_valid_hostname(value)) {
			snprintf(err, errlen, "invalid host name '%.80s': use lower-case letters, digits, '-' and '.'", value ? value : "");
			return -1;
		}
		rc = add_unique(t->hosts, &t->nhosts, value);
	} else if (strcmp(kind, "role") == 0 || strcmp(kind, "one-of") == 0) {
		if (!cr_valid_role(value)) {
			snprintf(err, errlen, "invalid role '%.80s': use lower-case letters, digits, '-' and '_'", value ? value : "");
			return -1;
		}
		rc = kind[0] == 'r' ? add_role(t->roles, &t->nroles, value) : add_role(t->oneof, &t->noneof, value);
	} else {
		snprintf(err, errlen, "unknown target kind '%.20s' (all, role, host, one-of)", kind);
		return -1;
	}
	if (rc < 0)
		snprintf(err, errlen, "too many targets (at most %d of each kind)", TARGET_MAX_ITEMS);
	return rc;
}

int cr_target_empty(const struct target_spec *t)
{
	return !t->all && t->nroles == 0 && t->nhosts == 0 && t->noneof == 0;
}

static const struct host_rec *find_host(const struct host_rec *hosts, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(hosts[i].hostname, name) == 0)
			return &hosts[i];
	return NULL;
}

static int role_known(const struct host_rec *hosts, size_t n, const char *role)
{
	for (size_t i = 0; i < n; i++)
		if (cr_registry_has_role(&hosts[i], role))
			return 1;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "a, b, c": the sorted, unique names an error message lists. */
static void known_list(const struct host_rec *hosts, size_t n, int roles, char *buf, size_t len)
{
	size_t cap = roles ? n * REG_MAX_ROLES : n, m = 0, used = 0;
	const char **names = calloc(cap ? cap : 1, sizeof(*names));

	buf[0] = '\0';
	if (names == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!roles)
			names[m++] = hosts[i].hostname;
		for (int r = 0; roles && r < hosts[i].nroles; r++)
			names[m++] = hosts[i].roles[r];
	}
	qsort(names, m, sizeof(*names), cmp_str);
	for (size_t i = 0; i < m && used < len; i++) {
		if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", names[i]);
	}
	if (m == 0)
		snprintf(buf, len, "none");
	free(names);
}

static int unknown(const struct host_rec *hosts, size_t n, int role, const char *name, char *err,
		   size_t errlen)
{
	char known[1024];

	if (n == 0) {
		snprintf(err, errlen, "no hosts have registered yet: start celeryrootd on your servers (or run 'celeryroot demo')");
		return -1;
	}
	known_list(hosts, n, role, known, sizeof(known));
	snprintf(err, errlen, "unknown %s '%s'; known %s: %s", role ? "role" : "host", name,
		 role ? "roles" : "hosts", known);
	return -1;
}

static int check_known(const struct target_spec *t, const struct host_rec *hosts, size_t n,
		       char *err, size_t errlen)
{
	if (t->all && n == 0)
		return unknown(hosts, n, 0, "", err, errlen);
	for (int i = 0; i < t->nhosts; i++)
		if (find_host(hosts, n, t->hosts[i]) == NULL)
			return unknown(hosts, n, 0, t->hosts[i], err, errlen);
	for (int i = 0; i < t->nroles; i++)
		if (!role_known(hosts, n, t->roles[i]))
			return unknown(hosts, n, 1, t->roles[i], err, errlen);
	for (int i = 0; i < t->noneof; i++)
		if (!role_known(hosts, n, t->oneof[i]))
			return unknown(hosts, n, 1, t->oneof[i], err, errlen);
	return 0;
}

static int selected(const struct target_spec *t, const struct host_rec *h)
{
	if (t->all)
		return 1;
	for (int i = 0; i < t->nhosts; i++)
		if (strcmp(t->hosts[i], h->hostname) == 0)
			return 1;
	for (int i = 0; i < t->nroles; i++)
		if (cr_registry_has_role(h, t->roles[i]))
			return 1;
	return 0;
}

static int cmp_dest(const void *a, const void *b)
{
	return strcmp(((const struct dest *)a)->host, ((const struct dest *)b)->host);
}

int cr_target_resolve(const struct target_spec *t, const struct host_rec *hosts, size_t nhosts,
		   double now, struct dest **out, size_t *nout, char *err, size_t errlen)
{
	struct dest *d;
	size_t n = 0;

	*out = NULL;
	*nout = 0;
	if (check_known(t, hosts, nhosts, err, errlen) < 0)
		return -1;
	d = calloc(nhosts + (size_t)t->noneof + 1, sizeof(*d));
	if (d == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < nhosts; i++) {
		int dup = 0;
		for (size_t j = 0; j < n; j++)
			dup |= strcmp(d[j].host, hosts[i].hostname) == 0;
		if (dup || !selected(t, &hosts[i]))
			continue;
		cr_copy_str(d[n].host, sizeof(d[n].host), hosts[i].hostname);
		snprintf(d[n].queue, sizeof(d[n].queue), "host.%s", hosts[i].hostname);
		d[n].online = cr_registry_online(&hosts[i], now);
		n++;
	}
	qsort(d, n, sizeof(*d), cmp_dest);
	for (int r = 0; r < t->noneof; r++, n++) {
		cr_copy_str(d[n].role, sizeof(d[n].role), t->oneof[r]);
		snprintf(d[n].queue, sizeof(d[n].queue), "role.%s", t->oneof[r]);
		for (size_t i = 0; i < nhosts; i++)
			d[n].online |= cr_registry_has_role(&hosts[i], t->oneof[r]) && cr_registry_online(&hosts[i], now);
	}
	*out = d;
	*nout = n;
	return 0;
}

void cr_target_describe(const struct target_spec *t, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	if (t->all)
		used += (size_t)snprintf(buf, len, "--all");
	for (int i = 0; i < t->nroles && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s--role %s", used ? " " : "", t->roles[i]);
	for (int i = 0; i < t->nhosts && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s--host %s", used ? " " : "", t->hosts[i]);
	for (int i = 0; i < t->noneof && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s--one-of %s", used ? " " : "", t->oneof[i]);
}
