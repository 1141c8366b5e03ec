/* Unit tests for frame.c: the privsep framing (DESIGN §4), on buffers and on
 * a real SOCK_SEQPACKET socketpair. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"

#define BUFCAP (FRAME_HDR + FRAME_MAX_PAYLOAD + 1)

static void put_len(uint8_t *p, uint32_t n)
{
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
}

START_TEST(encode_decode)
{
	uint8_t buf[64], type = 0;
	const uint8_t *payload = NULL;
	size_t len = 99;
	long n = cr_frame_encode(4, "{\"id\":1}", 8, buf, sizeof(buf));

	ck_assert_int_eq(n, FRAME_HDR + 8);
	/* Big-endian length of type byte + payload, then the type. */
	ck_assert(memcmp(buf, "\0\0\0\x09\x04", 5) == 0);
	ck_assert_int_eq(cr_frame_decode(buf, (size_t)n, &type, &payload, &len), FRAME_OK);
	ck_assert_uint_eq(type, 4);
	ck_assert_uint_eq(len, 8);
	ck_assert(memcmp(payload, "{\"id\":1}", 8) == 0);
	ck_assert_ptr_eq(payload, buf + FRAME_HDR);

	/* An empty payload is a legal frame. */
	ck_assert_int_eq(cr_frame_encode(2, NULL, 0, buf, sizeof(buf)), FRAME_HDR);
	ck_assert_int_eq(cr_frame_decode(buf, FRAME_HDR, &type, &payload, &len), FRAME_OK);
	ck_assert_uint_eq(type, 2);
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(encode_refusals)
{
	uint8_t buf[16];
	uint8_t *big = calloc(1, FRAME_MAX_PAYLOAD + 1);

	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(cr_frame_encode(4, "0123456789abcdef", 16, buf, sizeof(buf)), -1);   /* no room */
	ck_assert_int_eq(cr_frame_encode(4, "01234567890", 11, buf, sizeof(buf)), 16);       /* exactly fits */
	ck_assert_int_eq(cr_frame_encode(4, big, FRAME_MAX_PAYLOAD + 1, big, SIZE_MAX), -1);
	free(big);
}
END_TEST

START_TEST(decode_refusals)
{
	uint8_t buf[32] = { 0 }, type;
	const uint8_t *payload;
	size_t len;

	/* Shorter than the header. */
	ck_assert_int_eq(cr_frame_decode(buf, 0, &type, &payload, &len), FRAME_TRUNCATED);
	ck_assert_int_eq(cr_frame_decode(buf, 4, &type, &payload, &len), FRAME_TRUNCATED);
	/* Length field 0: not even a type byte. */
	put_len(buf, 0);
	ck_assert_int_eq(cr_frame_decode(buf, 5, &type, &payload, &len), FRAME_BADLEN);
	/* Length says 10 bytes follow, only 5 do. */
	put_len(buf, 10);
	ck_assert_int_eq(cr_frame_decode(buf, 9, &type, &payload, &len), FRAME_TRUNCATED);
	/* Length says 3, the packet carries 6: trailing bytes are not ignored. */
	put_len(buf, 3);
	ck_assert_int_eq(cr_frame_decode(buf, 10, &type, &payload, &len), FRAME_BADLEN);
	/* Oversized length fields are refused before anything trusts them,
	 * even when the packet itself is tiny. */
	put_len(buf, FRAME_MAX_PAYLOAD + 2);
	ck_assert_int_eq(cr_frame_decode(buf, 10, &type, &payload, &len), FRAME_OVERSIZED);
	put_len(buf, 0xffffffffu);
	ck_assert_int_eq(cr_frame_decode(buf, 10, &type, &payload, &len), FRAME_OVERSIZED);
	/* The largest legal length field is not "oversized", only short here. */
	put_len(buf, FRAME_MAX_PAYLOAD + 1);
	ck_assert_int_eq(cr_frame_decode(buf, 10, &type, &payload, &len), FRAME_TRUNCATED);
	/* A matching length decodes. */
	put_len(buf, 3);
	ck_assert_int_eq(cr_frame_decode(buf, 7, &type, &payload, &len), FRAME_OK);
	ck_assert_uint_eq(len, 2);
	ck_assert_str_ne(cr_frame_strerror(FRAME_OVERSIZED), cr_frame_strerror(FRAME_TRUNCATED));
}
END_TEST

static void seqpacket_pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
}

START_TEST(socket_round_trip)
{
	int sv[2];
	uint8_t *buf = malloc(BUFCAP), type = 0;
	uint8_t *big = malloc(FRAME_MAX_PAYLOAD);
	const uint8_t *payload;
	size_t len;

	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(big);
	seqpacket_pair(sv);
	ck_assert_int_eq(cr_frame_send(sv[0], 6, "{\"id\":7}", 8), FRAME_OK);
	ck_assert_int_eq(cr_frame_send(sv[0], 2, NULL, 0), FRAME_OK);
	ck_assert_int_eq(cr_frame_recv(sv[1], buf, BUFCAP, &type, &payload, &len), FRAME_OK);
	ck_assert_uint_eq(type, 6);
	ck_assert_uint_eq(len, 8);
	ck_assert(memcmp(payload, "{\"id\":7}", 8) == 0);
	/* One packet per frame: the second frame is not glued to the first. */
	ck_assert_int_eq(cr_frame_recv(sv[1], buf, BUFCAP, &type, &payload, &len), FRAME_OK);
	ck_assert_uint_eq(type, 2);
	ck_assert_uint_eq(len, 0);

	/* The maximum payload goes through whole. */
	memset(big, 'x', FRAME_MAX_PAYLOAD);
	big[FRAME_MAX_PAYLOAD - 1] = 'y';
	ck_assert_int_eq(cr_frame_send(sv[1], 5, big, FRAME_MAX_PAYLOAD), FRAME_OK);
	ck_assert_int_eq(cr_frame_recv(sv[0], buf, BUFCAP, &type, &payload, &len), FRAME_OK);
	ck_assert_uint_eq(len, FRAME_MAX_PAYLOAD);
	ck_assert_int_eq(payload[FRAME_MAX_PAYLOAD - 1], 'y');
	ck_assert_int_eq(cr_frame_send(sv[1], 5, big, FRAME_MAX_PAYLOAD + 1), FRAME_OVERSIZED);
	close(sv[0]);
	close(sv[1]);
	free(big);
	free(buf);
}
END_TEST

/* A hostile peer writes raw packets, bypassing cr_frame_send. */
START_TEST(socket_hostile)
{
	int sv[2];
	size_t rawlen = FRAME_HDR + FRAME_MAX_PAYLOAD + 100;
	uint8_t *raw = calloc(1, rawlen), *buf = malloc(BUFCAP), type;
	const uint8_t *payload;
	size_t len;

	ck_assert_ptr_nonnull(raw);
	ck_assert_ptr_nonnull(buf);
	seqpacket_pair(sv);
	/* Larger than any legal frame, with an honest length field: MSG_TRUNC. */
	put_len(raw, (uint32_t)(rawlen - 4));
	raw[4] = 4;
	ck_assert_int_eq(send(sv[0], raw, rawlen, 0), (ssize_t)rawlen);
	ck_assert_int_eq(cr_frame_recv(sv[1], buf, BUFCAP, &type, &payload, &len), FRAME_OVERSIZED);
	/* Bigger than the caller's buffer, however honest: MSG_TRUNC, not a
	 * misleading "truncated" from whatever part fitted. */
	put_len(raw, 96);
	ck_assert_int_eq(send(sv[0], raw, 100, 0), 100);
	ck_assert_int_eq(cr_frame_recv(sv[1], buf, 64, &type, &payload, &len), FRAME_OVERSIZED);
	/* A small packet with a lying length field. */
	put_len(raw, 0x7fffffff);
	ck_assert_int_eq(send(sv[0], raw, 16, 0), 16);
	ck_assert_int_eq(cr_frame_recv(sv[1], buf, BUFCAP, &type, &payload, &len), FRAME_OVERSIZED);
	put_len(raw, 100);
	ck_assert_int_eq(send(sv[0], raw, 16, 0), 16);
	ck_assert_int_eq(cr_frame_recv(sv[1], buf, BUFCAP, &type, &payload, &len), FRAME_TRUNCATED);
	ck_assert_int_eq(send(sv[0], raw, 3, 0), 3);
	ck_assert_int_eq(cr_frame_recv(sv[1], buf, BUFCAP, &type, &payload, &len), FRAME_TRUNCATED);
	/* The stream is still usable after refusals: the caller decides to die. */
	ck_assert_int_eq(cr_frame_send(sv[0], 4, "{}", 2), FRAME_OK);
	ck_assert_int_eq(cr_frame_recv(sv[1], buf, BUFCAP, &type, &payload, &len), FRAME_OK);
	ck_assert_uint_eq(len, 2);
	close(sv[0]);
	close(sv[1]);
	free(raw);
	free(buf);
}
END_TEST

START_TEST(socket_eof)
{
	int sv[2];
	uint8_t buf[64], type;
	const uint8_t *payload;
	size_t len;

	seqpacket_pair(sv);
	ck_assert_int_eq(cr_frame_send(sv[0], 4, "{}", 2), FRAME_OK);
	close(sv[0]);
	/* What was sent before the close is still delivered, then EOF. */
	ck_assert_int_eq(cr_frame_recv(sv[1], buf, sizeof(buf), &type, &payload, &len), FRAME_OK);
	ck_assert_int_eq(cr_frame_recv(sv[1], buf, sizeof(buf), &type, &payload, &len), FRAME_EOF);
	/* Sending to a closed peer is EOF too, not SIGPIPE. */
	ck_assert_int_eq(cr_frame_send(sv[1], 4, "{}", 2), FRAME_EOF);
	close(sv[1]);
	/* A bad descriptor is an I/O error. */
	ck_assert_int_eq(cr_frame_recv(sv[1], buf, sizeof(buf), &type, &payload, &len), FRAME_IO);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, encode_decode);
	tcase_add_test(tc, encode_refusals);
	tcase_add_test(tc, decode_refusals);
	tcase_add_test(tc, socket_round_trip);
	tcase_add_test(tc, socket_hostile);
	tcase_add_test(tc, socket_eof);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
