/* Unit tests for target.c: --all, --role, --host and --one-of resolved over a
 * fixed registry (DESIGN §3). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target.h"

#define NOW 1795346673.0

/* web02 before web01 and db01 last: resolution must sort, not keep order. */
static struct host_rec fleet[4];

static void add_host(int i, const char *name, const char *roles, double age, const char *state)
{
	char buf[128], *save = NULL;
	struct host_rec *h = &fleet[i];

	memset(h, 0, sizeof(*h));
	strcpy(h->hostname, name);
	strcpy(buf, roles);
	for (char *r = strtok_r(buf, ",", &save); r; r = strtok_r(NULL, ",", &save))
		strcpy(h->roles[h->nroles++], r);
	strcpy(h->state, state);
	h->heartbeat_s = 5;
	h->last_seen = NOW - age;
}

static void setup(void)
{
	add_host(0, "web02", "webserver,edge", 1, "running");
	add_host(1, "web01", "webserver", 60, "running");     /* stale heartbeat */
	add_host(2, "db01", "database", 2, "running");
	add_host(3, "cache01", "cache", 1, "stopped");
}

static struct target_spec *spec(const char *kind, const char *value)
{
	struct target_spec *t = calloc(1, sizeof(*t));
	char err[256];

	ck_assert_ptr_nonnull(t);
	if (kind)
		ck_assert_msg(cr_target_add(t, kind, value, err, sizeof(err)) == 0, "refused: %s", err);
	return t;
}

static void add(struct target_spec *t, const char *kind, const char *value)
{
	char err[256];

	ck_assert_msg(cr_target_add(t, kind, value, err, sizeof(err)) == 0, "refused: %s", err);
}

/* "queue/online queue/online ..." for compact assertions. */
static void resolve_str(const struct target_spec *t, size_t nhosts, char *out, size_t len)
{
	struct dest *d;
	size_t n, used = 0;
	char err[512];

	ck_assert_msg(cr_target_resolve(t, fleet, nhosts, NOW, &d, &n, err, sizeof(err)) == 0, "refused: %s", err);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s/%d", i ? " " : "", d[i].queue, d[i].online);
	free(d);
}

START_TEST(resolve_all)
{
	struct target_spec *t = spec("all", "");
	char got[512];

	resolve_str(t, 4, got, sizeof(got));
	ck_assert_str_eq(got, "host.cache01/0 host.db01/1 host.web01/0 host.web02/1");
	free(t);
}
END_TEST

START_TEST(resolve_role_and_host)
{
	struct target_spec *t = spec("role", "webserver");
	struct dest *d;
	size_t n;
	char got[512], err[256];

	resolve_str(t, 4, got, sizeof(got));
	ck_assert_str_eq(got, "host.web01/0 host.web02/1");
	/* Union with a host, and a host already covered by the role only once. */
	add(t, "host", "db01");
	add(t, "host", "web02");
	resolve_str(t, 4, got, sizeof(got));
	ck_assert_str_eq(got, "host.db01/1 host.web01/0 host.web02/1");
	ck_assert_int_eq(cr_target_resolve(t, fleet, 4, NOW, &d, &n, err, sizeof(err)), 0);
	ck_assert_str_eq(d[0].host, "db01");
	ck_assert_str_eq(d[0].role, "");
	free(d);
	free(t);

	t = spec("host", "web02");
	resolve_str(t, 4, got, sizeof(got));
	ck_assert_str_eq(got, "host.web02/1");
	free(t);
}
END_TEST

START_TEST(resolve_one_of)
{
	struct target_spec *t = spec("one-of", "webserver");
	struct dest *d;
	size_t n;
	char got[512], err[256];

	ck_assert_int_eq(cr_target_resolve(t, fleet, 4, NOW, &d, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(d[0].queue, "role.webserver");
	ck_assert_str_eq(d[0].host, "");
	ck_assert_str_eq(d[0].role, "webserver");
	ck_assert_int_eq(d[0].online, 1);   /* web02 is fresh even though web01 is not */
	free(d);
	free(t);

	/* The only cache host is stopped: the work queue has no live consumer. */
	t = spec("one-of", "cache");
	add(t, "host", "db01");
	resolve_str(t, 4, got, sizeof(got));
	ck_assert_str_eq(got, "host.db01/1 role.cache/0");
	free(t);
}
END_TEST

START_TEST(unknown_names)
{
	struct target_spec *t = spec("host", "web03");
	struct dest stale, *d = &stale;
	size_t n = 7;
	char err[512];

	ck_assert_int_eq(cr_target_resolve(t, fleet, 4, NOW, &d, &n, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unknown host 'web03'; known hosts: cache01, db01, web01, web02");
	ck_assert_ptr_null(d);
	ck_assert_uint_eq(n, 0);
	free(t);

	t = spec("role", "mail");
	ck_assert_int_eq(cr_target_resolve(t, fleet, 4, NOW, &d, &n, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unknown role 'mail'; known roles: cache, database, edge, webserver");
	free(t);

	t = spec("one-of", "mail");
	ck_assert_int_eq(cr_target_resolve(t, fleet, 4, NOW, &d, &n, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown role 'mail'"));
	free(t);
}
END_TEST

START_TEST(empty_registry)
{
	static const char *const kinds[] = { "all", "host", "role", "one-of" };
	struct dest *d;
	size_t n;
	char err[512];

	for (size_t i = 0; i < 4; i++) {
		struct target_spec *t = spec(kinds[i], "web01");
		ck_assert_int_eq(cr_target_resolve(t, fleet, 0, NOW, &d, &n, err, sizeof(err)), -1);
		ck_assert_str_eq(err, "no hosts have registered yet: start celeryrootd on your servers "
				      "(or run 'celeryroot demo')");
		free(t);
	}
}
END_TEST

START_TEST(add_refusals)
{
	static const char *const bad_hosts[] = { "Web01;rm", "", "web 01", "w\xd0\xb5" "b01", "-web",
						  "web01.", "$(reboot)" };
	struct target_spec *t = spec(NULL, NULL);
	char err[256];

	for (size_t i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++)
		ck_assert_msg(cr_target_add(t, "host", bad_hosts[i], err, sizeof(err)) == -1, "accepted #%zu", i);
	ck_assert_int_eq(cr_target_add(t, "host", "Web01;rm", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "invalid host name 'Web01;rm': use lower-case letters, digits, '-' and '.'");
	ck_assert_int_eq(cr_target_add(t, "host", NULL, err, sizeof(err)), -1);
	ck_assert_int_eq(cr_target_add(t, "role", "Web", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "invalid role 'Web'"));
	ck_assert_int_eq(cr_target_add(t, "one-of", "a.b", err, sizeof(err)), -1);
	ck_assert_int_eq(cr_target_add(t, "group", "web", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown target kind"));
	ck_assert_int_eq(cr_target_add(t, NULL, "web", err, sizeof(err)), -1);
	ck_assert(cr_target_empty(t));
	free(t);
}
END_TEST

START_TEST(dedupe_limits_describe)
{
	struct target_spec *t = spec(NULL, NULL);
	char err[256], name[32], desc[256];

	add(t, "host", "web01");
	add(t, "host", "web01");
	add(t, "role", "webserver");
	add(t, "role", "webserver");
	add(t, "one-of", "database");
	ck_assert_int_eq(t->nhosts, 1);
	ck_assert_int_eq(t->nroles, 1);
	ck_assert(!cr_target_empty(t));
	cr_target_describe(t, desc, sizeof(desc));
	ck_assert_str_eq(desc, "--role webserver --host web01 --one-of database");
	add(t, "all", NULL);
	cr_target_describe(t, desc, sizeof(desc));
	ck_assert_str_eq(desc, "--all --role webserver --host web01 --one-of database");
	/* A short buffer is cut, never overrun. */
	memset(desc, 'Z', sizeof(desc));
	cr_target_describe(t, desc, 10);
	ck_assert_str_eq(desc, "--all --r");
	ck_assert_int_eq(desc[10], 'Z');

	for (int i = 1; i < TARGET_MAX_ITEMS; i++) {
		snprintf(name, sizeof(name), "h%d", i);
		add(t, "host", name);
	}
	ck_assert_int_eq(t->nhosts, TARGET_MAX_ITEMS);
	ck_assert_int_eq(cr_target_add(t, "host", "one-too-many", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "too many"));
	add(t, "host", "h7");   /* a duplicate at the limit is still fine */
	free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("target");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, resolve_all);
	tcase_add_test(tc, resolve_role_and_host);
	tcase_add_test(tc, resolve_one_of);
	tcase_add_test(tc, unknown_names);
	tcase_add_test(tc, empty_registry);
	tcase_add_test(tc, add_refusals);
	tcase_add_test(tc, dedupe_limits_describe);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
