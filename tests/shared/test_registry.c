/* Unit tests for registry.c: host records as daemons write them and as the
 * CLI reads them back from Redis (DESIGN §3). */
#include "config.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

static struct host_rec sample(void)
{
	struct host_rec h;

	memset(&h, 0, sizeof(h));
	strcpy(h.hostname, "web01.dc1");
	strcpy(h.roles[0], "webserver");
	strcpy(h.roles[1], "edge_1");
	h.nroles = 2;
	strcpy(h.version, "0.1.0");
	strcpy(h.os, "Debian GNU/Linux 12 (bookworm)");
	strcpy(h.kernel, "6.1.0-13-amd64");
	strcpy(h.state, "running");
	h.started = 1795340000.25;
	h.last_seen = 1795346673.038391;
	h.heartbeat_s = 5;
	h.pid = 4242;
	return h;
}

/* A valid record as JSON, with one key replaced by raw JSON text (or removed
 * when raw is NULL). */
static char *variant(const char *key, const char *raw)
{
	struct host_rec h = sample();
	char *s = cr_registry_encode(&h), *out;
	json_t *o = json_loads(s, 0, NULL);

	free(s);
	ck_assert_ptr_nonnull(o);
	if (raw == NULL) {
		json_object_del(o, key);
	} else {
		json_t *v = json_loads(raw, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		ck_assert_msg(v != NULL, "bad test JSON %s", raw);
		json_object_set_new(o, key, v);
	}
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return out;
}

static void refused(const char *key, const char *raw, const char *why_part)
{
	char *s = variant(key, raw), err[256] = "";
	struct host_rec h;

	ck_assert_msg(cr_registry_decode(s, strlen(s), &h, err, sizeof(err)) == -1, "accepted %s", s);
	ck_assert_msg(err[0] != '\0', "no reason for %s", s);
	if (why_part)
		ck_assert_msg(strstr(err, why_part) != NULL, "reason '%s' lacks '%s'", err, why_part);
	free(s);
}

START_TEST(round_trip)
{
	struct host_rec in = sample(), out;
	char *s = cr_registry_encode(&in), err[256];

	ck_assert_ptr_nonnull(s);
	ck_assert_msg(cr_registry_decode(s, strlen(s), &out, err, sizeof(err)) == 0, "refused %s: %s", s, err);
	ck_assert_str_eq(out.hostname, "web01.dc1");
	ck_assert_int_eq(out.nroles, 2);
	ck_assert_str_eq(out.roles[0], "webserver");
	ck_assert_str_eq(out.roles[1], "edge_1");
	ck_assert_str_eq(out.version, in.version);
	ck_assert_str_eq(out.os, in.os);
	ck_assert_str_eq(out.kernel, in.kernel);
	ck_assert_str_eq(out.state, "running");
	ck_assert_double_eq_tol(out.started, in.started, 1e-6);
	ck_assert_double_eq_tol(out.last_seen, in.last_seen, 1e-6);
	ck_assert_int_eq(out.heartbeat_s, 5);
	ck_assert_int_eq(out.pid, 4242);
	ck_assert(cr_registry_has_role(&out, "edge_1"));
	ck_assert(!cr_registry_has_role(&out, "edge"));
	/* The documented key set, in order. */
	ck_assert_ptr_nonnull(strstr(s, "{\"hostname\":\"web01.dc1\",\"roles\":[\"webserver\",\"edge_1\"],"
					"\"version\":"));
	free(s);

	/* No roles is a valid host. */
	in.nroles = 0;
	s = cr_registry_encode(&in);
	ck_assert_int_eq(cr_registry_decode(s, strlen(s), &out, err, sizeof(err)), 0);
	ck_assert_int_eq(out.nroles, 0);
	free(s);
}
END_TEST

START_TEST(encode_refusals)
{
	struct host_rec h = sample();

	strcpy(h.hostname, "Web01");
	ck_assert_ptr_null(cr_registry_encode(&h));
	h = sample();
	h.nroles = REG_MAX_ROLES + 1;
	ck_assert_ptr_null(cr_registry_encode(&h));
	h.nroles = -1;
	ck_assert_ptr_null(cr_registry_encode(&h));
	h = sample();
	strcpy(h.roles[1], "Bad Role");
	ck_assert_ptr_null(cr_registry_encode(&h));
}
END_TEST

START_TEST(decode_bad_names)
{
	refused("hostname", "\"web01;rm -rf /\"", "hostname");
	refused("hostname", "\"WEB01\"", "hostname");
	refused("hostname", "\"w\\u0435b01\"", "hostname");   /* Cyrillic e */
	refused("hostname", "\"\"", "hostname");
	refused("roles", "[\"web\", \"Bad Role\"]", "role #1");
	refused("roles", "[\"web\", 5]", "role #1");
	refused("roles", "\"web\"", "roles");
	refused("roles", "[\"web\\u0000x\"]", NULL);   /* C would read "web" */
	refused("roles", "[\"r1\",\"r2\",\"r3\",\"r4\",\"r5\",\"r6\",\"r7\",\"r8\",\"r9\",\"r10\","
			 "\"r11\",\"r12\",\"r13\",\"r14\",\"r15\",\"r16\",\"r17\"]", "at most 16");
	/* Strings the CLI prints must not carry terminal escapes. */
	refused("os", "\"Debian\\u001b[2J\"", "'os'");
	refused("kernel", "\"6.1\\nFAKE\"", "'kernel'");
	refused("state", "\"zombie\"", "state");
}
END_TEST

START_TEST(decode_bad_shapes)
{
	char err[256], big[REG_RECORD_MAX + 2];
	struct host_rec h;

	refused("version", NULL, "'version' is missing");
	refused("os", NULL, "'os'");
	refused("roles", NULL, "roles");
	refused("heartbeat_s", NULL, "numeric");
	refused("last_seen", NULL, "numeric");
	refused("pid", "\"4242\"", "numeric");
	refused("pid", "-1", "numeric");
	refused("heartbeat_s", "0", "numeric");
	refused("heartbeat_s", "5.5", "numeric");
	refused("started", "\"yesterday\"", "numeric");
	refused("last_seen", "null", "numeric");
	refused("version", "\"0123456789012345678901234567890123456789\"", "'version'");

	ck_assert_int_eq(cr_registry_decode("[]", 2, &h, err, sizeof(err)), -1);
	ck_assert_int_eq(cr_registry_decode("{", 1, &h, err, sizeof(err)), -1);
	memset(big, ' ', sizeof(big));
	ck_assert_int_eq(cr_registry_decode(big, sizeof(big), &h, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "too large"));
	ck_assert_str_eq(h.hostname, "");
}
END_TEST

/* A newer daemon may add keys: an older CLI still reads the record. */
START_TEST(decode_ignores_unknown_keys)
{
	char *s = variant("uptime_s", "{\"a\": [1, 2]}"), err[256] = "";
	struct host_rec h;

	ck_assert_ptr_nonnull(strstr(s, "uptime_s"));
	ck_assert_msg(cr_registry_decode(s, strlen(s), &h, err, sizeof(err)) == 0, "refused %s: %s", s, err);
	ck_assert_str_eq(h.hostname, "web01.dc1");
	ck_assert_int_eq(h.pid, 4242);
	free(s);
	/* Duplicate keys are still refused: which one would count? */
	ck_assert_int_eq(cr_registry_decode("{\"pid\":1,\"pid\":2}", 19, &h, err, sizeof(err)), -1);
}
END_TEST

/* priv's host key, as HELLO gives it to net: optional, and when present
 * exactly the base64 of 32 bytes (the CLI pins it in known_hosts). */
#define KEY_B64 "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs="

START_TEST(host_key_field)
{
	struct host_rec in = sample(), out;
	char *s, err[256] = "";

	s = cr_registry_encode(&in);
	ck_assert_ptr_null(strstr(s, "host_key"));
	ck_assert_int_eq(cr_registry_decode(s, strlen(s), &out, err, sizeof(err)), 0);
	ck_assert_str_eq(out.host_key, "");
	free(s);
	strcpy(in.host_key, KEY_B64);
	s = cr_registry_encode(&in);
	ck_assert_ptr_nonnull(strstr(s, "\"host_key\":\"" KEY_B64 "\""));
	ck_assert_msg(cr_registry_decode(s, strlen(s), &out, err, sizeof(err)) == 0, "refused %s: %s", s, err);
	ck_assert_str_eq(out.host_key, KEY_B64);
	free(s);
	/* Never published when it would be refused. */
	strcpy(in.host_key, "not base64!");
	ck_assert_ptr_null(cr_registry_encode(&in));

	refused("host_key", "\"3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxg=\"", "host_key");   /* 28 bytes */
	refused("host_key", "\"3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHQ==\"", "host_key");   /* 35 */
	refused("host_key", "\"3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs\"", "host_key");   /* no padding */
	refused("host_key", "\" 3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=\"", "host_key");
	refused("host_key", "\"3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=\\u001b[2J\"", "host_key");
	refused("host_key", "\"3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhv=\"", "host_key");   /* not canonical */
	refused("host_key", "32", "host_key");
	refused("host_key", "null", "host_key");
}
END_TEST

START_TEST(online)
{
	struct host_rec h = sample();
	double t = 1795346673.0;   /* whole seconds: t + 15 - t is exactly 15 */

	h.last_seen = t;
	ck_assert(cr_registry_online(&h, t));
	ck_assert(cr_registry_online(&h, t + 15));        /* 3 intervals of 5 s */
	ck_assert(!cr_registry_online(&h, t + 15.001));
	h.heartbeat_s = 60;
	ck_assert(cr_registry_online(&h, t + 179));
	ck_assert(!cr_registry_online(&h, t + 181));
	/* A zero interval counts as 1 s, not as "always offline". */
	h.heartbeat_s = 0;
	ck_assert(cr_registry_online(&h, t + 3));
	ck_assert(!cr_registry_online(&h, t + 4));
	/* A stopped daemon is offline however fresh its record. */
	h.heartbeat_s = 5;
	strcpy(h.state, "stopped");
	ck_assert(!cr_registry_online(&h, t));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("registry");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, encode_refusals);
	tcase_add_test(tc, decode_bad_names);
	tcase_add_test(tc, decode_bad_shapes);
	tcase_add_test(tc, decode_ignores_unknown_keys);
	tcase_add_test(tc, host_key_field);
	tcase_add_test(tc, online);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
