/* Unit tests for hostsig.c (host keys' fingerprints, signed result records
 * and signed audit lines) and for cr_record_from_answer (record.c), the record
 * priv signs. */
#include "config.h"

#include <check.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditchain.h"
#include "hostsig.h"
#include "record.h"
#include "sign.h"

static struct host_key key, other;

static void keys_init(void)
{
	unsigned char seed[32];

	if (sodium_init() < 0)
		abort();
	memset(seed, 7, sizeof(seed));
	crypto_sign_seed_keypair(key.pk, key.sk, seed);
	memset(seed, 8, sizeof(seed));
	crypto_sign_seed_keypair(other.pk, other.sk, seed);
}

START_TEST(fingerprint_and_key_text)
{
	unsigned char pk[32], back[32];
	char fp[HOSTSIG_FP_MAX], b64[HOSTSIG_PK_B64_MAX];

	for (int i = 0; i < 32; i++)
		pk[i] = (unsigned char)i;
	/* sha256(bytes 0..31), base64 without padding: what ssh-keygen -l shows. */
	cr_hostsig_fingerprint(pk, fp);
	ck_assert_str_eq(fp, "SHA256:Yw3NKWbEM2aRElRIu7JbT/QSpJxzLbLIq8G4WBvXEN0");
	cr_hostsig_pk_encode(pk, b64);
	ck_assert_str_eq(b64, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
	ck_assert_int_eq(cr_hostsig_pk_decode(b64, back), 0);
	ck_assert_mem_eq(pk, back, 32);
	ck_assert_int_eq(cr_hostsig_pk_decode("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", back), -1);
	ck_assert_int_eq(cr_hostsig_pk_decode("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", back), -1);
	ck_assert_int_eq(cr_hostsig_pk_decode("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh==", back), -1);
	ck_assert_int_eq(cr_hostsig_pk_decode("", back), -1);
	ck_assert_int_eq(cr_hostsig_pk_decode(NULL, back), -1);
}
END_TEST

/* ---- records ------------------------------------------------------------------ */

static json_t *sample_record(void)
{
	json_t *data = json_pack("{s:b, s:{s:{s:s, s:s}}, s:[{s:s}], s:s, s:f, s:s}", "changed", 1, "changes", "ct-app",
				 "old", "1.0", "new", "1.1", "plan", "package", "ct-app", "operation", "install",
				 "cache_age_s", 12.25, "host", "web01");
	json_t *rec = cr_record_from_answer("web01", 1, data);

	json_object_set_new(rec, "task", json_string("t-1"));
	json_object_set_new(rec, "job", json_string("j-1"));
	return rec;
}

/* The result as net publishes it: the payload's fields, duration_s, attest. */
static json_t *published(const json_t *rec, json_t *attest, double duration)
{
	json_t *res = json_deep_copy(rec);

	json_object_set_new(res, "duration_s", json_real(duration));
	json_object_set_new(res, "attest", attest);
	return res;
}

START_TEST(record_round_trip)
{
	struct hostsig_expect want = { "web01", "t-1", "j-1" };
	json_t *rec = sample_record(), *res, *shown = NULL;
	char err[256] = "";

	res = published(rec, cr_hostsig_attest(&key, rec), 1.5);
	ck_assert_msg(cr_hostsig_verify_record(res, key.pk, &want, &shown, err, sizeof(err)) == 0, "%s", err);
	/* What is shown is what was signed, and net's duration. */
	ck_assert_str_eq(json_string_value(json_object_get(shown, "status")), "changed");
	ck_assert_double_eq(json_real_value(json_object_get(shown, "duration_s")), 1.5);
	json_object_del(shown, "duration_s");
	ck_assert(json_equal(shown, rec));
	json_decref(shown);
	/* The payload is the record dumped sorted, compact and ASCII. */
	char *dump = cr_hostsig_dump(rec);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(res, "attest"), "payload")), dump);
	free(dump);
	json_decref(res);
	json_decref(rec);
}
END_TEST

static void refused_record(json_t *res, const unsigned char *pk, const struct hostsig_expect *want, const char *why)
{
	char err[256] = "";
	json_t *shown = (json_t *)1;

	ck_assert_int_eq(cr_hostsig_verify_record(res, pk, want, &shown, err, sizeof(err)), -1);
	ck_assert_ptr_null(shown);
	ck_assert_msg(strstr(err, why) != NULL, "reason '%s' lacks '%s'", err, why);
	json_decref(res);
}

START_TEST(record_forgeries_refused)
{
	struct hostsig_expect want = { "web01", "t-1", "j-1" };
	json_t *rec = sample_record(), *a, *res;
	char *p;

	/* A record altered after signing, in its payload. */
	res = published(rec, cr_hostsig_attest(&key, rec), 1);
	a = json_object_get(res, "attest");
	p = strdup(json_string_value(json_object_get(a, "payload")));
	*strstr(p, "1.1") = '9';
	json_object_set_new(a, "payload", json_string(p));
	free(p);
	refused_record(res, key.pk, &want, "bad signature");
	/* Signed by another key (another host's). */
	refused_record(published(rec, cr_hostsig_attest(&other, rec), 1), key.pk, &want, "bad signature");
	/* No attest: an old daemon, or a result written by a Redis writer. */
	refused_record(published(rec, json_null(), 1), key.pk, &want, "unsigned");
	/* Another task's or host's signed record, replayed here. */
	refused_record(published(rec, cr_hostsig_attest(&key, rec), 1), key.pk,
		       &(struct hostsig_expect){ "web01", "t-2", "j-1" }, "task 't-1'");
	refused_record(published(rec, cr_hostsig_attest(&key, rec), 1), key.pk,
		       &(struct hostsig_expect){ "db01", NULL, NULL }, "host 'web01'");
	refused_record(published(rec, cr_hostsig_attest(&key, rec), 1), key.pk,
		       &(struct hostsig_expect){ NULL, NULL, "" }, "job 'j-1'");
	/* Malformed attests. */
	res = published(rec, cr_hostsig_attest(&key, rec), 1);
	json_object_set_new(json_object_get(res, "attest"), "v", json_integer(2));
	refused_record(res, key.pk, &want, "version");
	res = published(rec, cr_hostsig_attest(&key, rec), 1);
	json_object_set_new(json_object_get(res, "attest"), "alg", json_string("none"));
	refused_record(res, key.pk, &want, "algorithm");
	res = published(rec, cr_hostsig_attest(&key, rec), 1);
	json_object_set_new(json_object_get(res, "attest"), "sig", json_string("AAAA"));
	refused_record(res, key.pk, &want, "bad signature");
	res = published(rec, cr_hostsig_attest(&key, rec), 1);
	json_object_del(json_object_get(res, "attest"), "payload");
	refused_record(res, key.pk, &want, "malformed");
	/* A signed audit line is not a result record, though its key signed it. */
	json_t *line = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "host", "web01", "task", "t-1", "job", "j-1",
				 "outcome", "changed", "seq", (json_int_t)3, "prev", "00");
	ck_assert_int_eq(cr_hostsig_sign_line(&key, line), 0);
	json_t *sig = json_object_get(line, "sig");
	json_incref(sig);
	json_object_del(line, "sig");
	char *text = cr_hostsig_dump(line);
	res = published(line, json_pack("{s:i, s:s, s:s, s:o}", "v", 1, "alg", "ed25519", "payload", text, "sig", sig), 1);
	refused_record(res, key.pk, &want, "not a result record");
	free(text);
	json_decref(line);
	json_decref(rec);
}
END_TEST

START_TEST(record_from_answers)
{
	json_t *rec;

	/* A failed apt change keeps its data; its own fields come out of it. */
	rec = cr_record_from_answer("db01", 1, json_pack("{s:s, s:b, s:{}, s:{s:[], s:{}}, s:s, s:s}", "error", "dpkg failed",
						      "changed", 1, "changes", "rollback", "removed", "restored",
						      "dpkg_error", "preinst", "host", "db01"));
	ck_assert_str_eq(json_string_value(json_object_get(rec, "status")), "failed");
	ck_assert_str_eq(json_string_value(json_object_get(rec, "error")), "dpkg failed");
	ck_assert(json_is_false(json_object_get(rec, "changed")));
	ck_assert(json_is_object(json_object_get(rec, "rollback")));
	ck_assert_ptr_null(json_object_get(rec, "duration_s"));
	json_t *d = json_object_get(rec, "data");
	ck_assert_str_eq(json_string_value(json_object_get(d, "dpkg_error")), "preinst");
	ck_assert_ptr_null(json_object_get(d, "error"));
	ck_assert_ptr_null(json_object_get(d, "rollback"));
	json_decref(rec);
	/* A failed facts says nothing else. */
	rec = cr_record_from_answer("db01", 0, json_pack("{s:s, s:s}", "error", "no os-release", "host", "db01"));
	ck_assert(json_is_null(json_object_get(rec, "data")));
	ck_assert_str_eq(json_string_value(json_object_get(rec, "status")), "failed");
	json_decref(rec);
	/* A read-only answer: unchanged, everything in data. */
	rec = cr_record_from_answer("db01", 0, json_pack("{s:b, s:I}", "pong", 1, "priv_pid", (json_int_t)42));
	ck_assert_str_eq(json_string_value(json_object_get(rec, "status")), "unchanged");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(rec, "data"), "priv_pid")), 42);
	ck_assert(json_is_object(json_object_get(rec, "changes")));
	ck_assert(json_is_null(json_object_get(rec, "error")));
	json_decref(rec);
	ck_assert_ptr_null(cr_record_from_answer("db01", 0, json_string("not an object")));
}
END_TEST

/* ---- audit lines ------------------------------------------------------------------ */

/* Every field priv's audit lines carry (audit.c), with reals, unicode and
 * control characters, and the fields other writers add. */
static json_t *full_line(void)
{
	json_t *line = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:[s, s], s:b, s:b, s:s, s:{s:{s:s, s:s, s:{s:s, s:s}}, s:{s:n, s:n, s:s}},"
		" s:{s:[s], s:{s:s}, s:b, s:n}, s:s, s:s, s:{s:b, s:b, s:{}}, s:{s:s, s:I, s:i, s:b}}",
		"time", "2026-03-29T01:00:00.123Z", "host", "web01", "job", "j-1", "task", "t-1", "operation", "install",
		"packages", "ct-app=1.1", "ct-lib:amd64", "check", 0, "now", 1, "outcome", "failed", "changes", "ct-app",
		"old", "1.0", "new", "1.1", "state", "old", "installed", "new", "half-configured", "ct-conf", "old",
		"new", "config", "purged", "rollback", "removed", "ct-lib", "restored", "ct-app", "1.0", "ok", 1,
		"error", "error", "dpkg: \xc3\xa9rror \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x94\x92 \x1b]0;x\x07 \"q\" \\ /\n\t",
		"key", "alice", "repaired", "ran", 1, "ok", 1, "changes", "interrupted", "started",
		"2026-03-29T00:59:00.000Z", "pid", (json_int_t)4242, "attempt", 2, "before_lost", 1);

	json_object_set_new(line, "schedule", json_string("nightly"));
	json_object_set_new(line, "schedule_key", json_string("bob"));
	json_object_set_new(line, "coalesced", json_integer(1234));
	json_object_set_new(line, "reals", json_pack("[f, f, f, f, f, f]", 0.1, 1e300, -0.0, 3.141592653589793, 12.25,
						    5e-324));
	json_object_set_new(line, "seq", json_integer(7));
	json_object_set_new(line, "prev", json_string("ab12"));
	return line;
}

START_TEST(line_round_trip)
{
	json_t *line = full_line(), *read, *restream;
	char err[256] = "", *written, *copied;

	ck_assert_int_eq(cr_hostsig_sign_line(&key, line), 0);
	ck_assert_ptr_nonnull(json_object_get(line, "sig"));
	/* The line as priv writes it to its file. */
	written = cr_hostsig_dump(line);
	for (const char *c = written; *c; c++)
		ck_assert_msg((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f, "raw byte %02x in the line", *c);
	/* Read back from the file: it verifies. */
	read = json_loads(written, JSON_REJECT_DUPLICATES, NULL);
	ck_assert_ptr_nonnull(read);
	ck_assert_msg(cr_hostsig_verify_line(read, key.pk, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cr_hostsig_verify_line(read, other.pk, err, sizeof(err)), -1);
	/* net re-dumps the object it got from priv for the stream: the same bytes. */
	copied = cr_hostsig_dump(read);
	ck_assert_str_eq(copied, written);
	restream = json_loads(copied, JSON_REJECT_DUPLICATES, NULL);
	ck_assert_int_eq(cr_hostsig_verify_line(restream, key.pk, err, sizeof(err)), 0);
	/* Reals keep their exact value through the round trip. */
	ck_assert(json_equal(json_object_get(read, "reals"), json_object_get(line, "reals")));
	json_decref(restream);
	free(copied);

	/* Any field altered, added or removed: refused. */
	static const char *const fields[] = { "error", "outcome", "seq", "prev", "reals", "changes", "key", "schedule" };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *t = json_deep_copy(read);
		json_object_set_new(t, fields[i], json_string("x"));
		ck_assert_msg(cr_hostsig_verify_line(t, key.pk, err, sizeof(err)) == -1, "altered %s passed", fields[i]);
		json_object_del(t, fields[i]);
		ck_assert_msg(cr_hostsig_verify_line(t, key.pk, err, sizeof(err)) == -1, "removed %s passed", fields[i]);
		json_decref(t);
	}
	json_t *t = json_deep_copy(read);
	json_object_set_new(t, "by", json_string("net"));
	ck_assert_int_eq(cr_hostsig_verify_line(t, key.pk, err, sizeof(err)), -1);
	json_object_del(t, "sig");
	ck_assert_int_eq(cr_hostsig_verify_line(t, key.pk, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unsigned"));
	json_decref(t);

	/* Signing again (a journaled line written later with new seq and prev)
	 * replaces the old sig. */
	json_object_set_new(line, "seq", json_integer(8));
	ck_assert_int_eq(cr_hostsig_sign_line(&key, line), 0);
	ck_assert_int_eq(cr_hostsig_verify_line(line, key.pk, err, sizeof(err)), 0);
	json_decref(read);
	free(written);
	json_decref(line);
}
END_TEST

/* The chain covers the written line, signature included. */
START_TEST(line_in_the_chain)
{
	struct audit_verify v;
	struct audit_head h;
	json_t *line = full_line();
	char *text;

	cr_auditchain_genesis(&h);
	json_object_set_new(line, "seq", json_integer(1));
	json_object_set_new(line, "prev", json_string(h.hash));
	ck_assert_int_eq(cr_hostsig_sign_line(&key, line), 0);
	text = cr_hostsig_dump(line);
	cr_auditchain_verify_init(&v);
	ck_assert_int_eq(cr_auditchain_verify_line(&v, text, strlen(text)), 0);
	cr_auditchain_hash(text, strlen(text), h.hash);
	ck_assert_str_eq(v.head.hash, h.hash);
	free(text);
	json_decref(line);
}
END_TEST

/* priv's host.pub is read with the operators' key parser (keys.c); a name
 * it quotes in a refusal reaches the log, printable only (fuzz_hostsig
 * found a control byte quoted raw). */
START_TEST(key_file_refusals_are_printable)
{
	static const char *const bad[] = { "id = host\np\x1cublic = AAAA\n", "[\x1b]2J]\nid = host\n",
					   "id = host\n\xc3\xa9 = x\n" };
	struct trusted_key k;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(cr_key_parse_public(bad[i], "host", &k, err, sizeof(err)), -1);
		for (const char *c = err; *c; c++)
			ck_assert_msg(*c >= 0x20 && *c < 0x7f, "byte 0x%02x in '%s'", (unsigned char)*c, err);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hostsig");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	keys_init();
	tcase_add_test(tc, fingerprint_and_key_text);
	tcase_add_test(tc, record_round_trip);
	tcase_add_test(tc, record_forgeries_refused);
	tcase_add_test(tc, record_from_answers);
	tcase_add_test(tc, line_round_trip);
	tcase_add_test(tc, line_in_the_chain);
	tcase_add_test(tc, key_file_refusals_are_printable);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
