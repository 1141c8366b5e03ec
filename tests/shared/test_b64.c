/* Unit tests for b64.c (RFC 4648 with padding, bounded decoding). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"

static void round_trip(const unsigned char *in, size_t len)
{
	char *enc = cr_b64_encode(in, len);
	unsigned char *dec;
	size_t outlen = 12345;

	ck_assert_ptr_nonnull(enc);
	ck_assert_uint_eq(strlen(enc), (len + 2) / 3 * 4);
	dec = cr_b64_decode(enc, strlen(enc), len, &outlen);
	ck_assert_ptr_nonnull(dec);
	ck_assert_uint_eq(outlen, len);
	ck_assert(memcmp(dec, in, len) == 0);
	ck_assert_int_eq(dec[len], 0);   /* NUL-terminated for convenience */
	free(enc);
	free(dec);
}

START_TEST(known_vectors)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const coded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };

	for (size_t i = 0; i < 7; i++) {
		char *e = cr_b64_encode((const unsigned char *)plain[i], strlen(plain[i]));
		ck_assert_ptr_nonnull(e);
		ck_assert_str_eq(e, coded[i]);
		free(e);
		round_trip((const unsigned char *)plain[i], strlen(plain[i]));
	}
}
END_TEST

START_TEST(binary_round_trip)
{
	unsigned char all[256];

	for (size_t i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)i;
	for (size_t len = 0; len <= sizeof(all); len += 17)
		round_trip(all, len);
	round_trip(all, sizeof(all));
}
END_TEST

START_TEST(celery_body)
{
	/* The body of the captured Celery message. */
	const char *b = "W1tbIm5naW54Il1dLCB7ImNoZWNrIjogZmFsc2V9LCB7ImNhbGxiYWNrcyI6IG51bGwsICJlcnJiYWNrcyI6IG51bGwsICJjaGFpbiI6IG51bGwsICJjaG9yZCI6IG51bGx9XQ==";
	size_t n;
	unsigned char *d = cr_b64_decode(b, strlen(b), 1024, &n);

	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq((char *)d, "[[[\"nginx\"]], {\"check\": false}, {\"callbacks\": null, \"errbacks\": null, "
				    "\"chain\": null, \"chord\": null}]");
	ck_assert_uint_eq(n, strlen((char *)d));
	free(d);
}
END_TEST

START_TEST(refusals)
{
	static const char *const bad[] = {
		"Zm9v!", "Zm9v YmFy", "Zm9vYg=", "Zm9vYg", "Zm9vY===", "Zg==Zg==", "Zm9v\n", "Z", "=", "Zm-v", "Zm_v",
		"\xd0\xb5\xd0\xb5",
	};
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned char *d = cr_b64_decode(bad[i], strlen(bad[i]), 1024, &n);
		ck_assert_msg(d == NULL, "accepted bad base64 #%zu", i);
	}
}
END_TEST

START_TEST(max_bound)
{
	size_t n;
	unsigned char *d;

	/* "foobar" is 6 bytes: a bound of 6 passes, 5 refuses. */
	d = cr_b64_decode("Zm9vYmFy", 8, 6, &n);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(n, 6);
	free(d);
	ck_assert_ptr_null(cr_b64_decode("Zm9vYmFy", 8, 5, &n));
	/* "fooba" (5 bytes, one pad) with a bound of 5 passes, 4 refuses. */
	d = cr_b64_decode("Zm9vYmE=", 8, 5, &n);
	ck_assert_ptr_nonnull(d);
	free(d);
	ck_assert_ptr_null(cr_b64_decode("Zm9vYmE=", 8, 4, &n));
	/* A huge claimed length is refused before anything is allocated. */
	ck_assert_ptr_null(cr_b64_decode("Zm9v", (size_t)1 << 40, 1024, &n));
}
END_TEST

static Suite *b64_suite(void)
{
	Suite *s = suite_create("b64");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, known_vectors);
	tcase_add_test(tc, binary_round_trip);
	tcase_add_test(tc, celery_body);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, max_bound);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(b64_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
