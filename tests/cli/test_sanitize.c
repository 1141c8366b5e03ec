/* Unit tests for the CLI's sanitiser (src/cli/sanitize.c): what reaches the
 * terminal is printable, escapes are never cut in half, widths count
 * columns, and --json output is pure ASCII without control bytes. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sanitize.h"

static char out[512];

static const char *safe(const char *s, int maxcols, int *cols)
{
	int c = san_str(out, sizeof(out), s, maxcols);
	if (cols)
		*cols = c;
	return out;
}

/* No byte a terminal acts on: C0 but the newline, DEL, or (in UTF-8) the
 * two-byte forms of C1 (0xc2 0x80-0x9f). */
static void assert_inert(const char *s, size_t n, int allow_newline)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n' && allow_newline)
			continue;
		ck_assert_msg(c >= 0x20 && c != 0x7f, "control byte 0x%02x at %zu in '%s'", c, i, s);
		if (c == 0xc2 && i + 1 < n)
			ck_assert_msg((unsigned char)s[i + 1] < 0x80 || (unsigned char)s[i + 1] > 0x9f, "C1 at %zu", i);
	}
}

START_TEST(plain_text_unchanged)
{
	int cols;

	ck_assert_str_eq(safe("web01 unchanged", 0, &cols), "web01 unchanged");
	ck_assert_int_eq(cols, 15);
	ck_assert_str_eq(safe("", 0, &cols), "");
	ck_assert_int_eq(cols, 0);
	ck_assert_str_eq(safe("back\\slash", 0, NULL), "back\\slash");
}
END_TEST

START_TEST(controls_are_escaped)
{
	/* OSC 0 (title) and OSC 52 (clipboard), CSI, a newline, DEL. */
	ck_assert_str_eq(safe("\033]0;owned\007", 0, NULL), "\\x1b]0;owned\\x07");
	ck_assert_str_eq(safe("\033]52;c;ZXZpbA==\033\\", 0, NULL), "\\x1b]52;c;ZXZpbA==\\x1b\\");
	ck_assert_str_eq(safe("a\nb\rc\td", 0, NULL), "a\\nb\\rc\\td");
	ck_assert_str_eq(safe("x\177y", 0, NULL), "x\\x7fy");
	ck_assert_str_eq(safe("\033[32munchanged\033[0m", 0, NULL), "\\x1b[32munchanged\\x1b[0m");
	/* C1 as UTF-8 (CSI is U+009B), bidi overrides, a zero-width space. */
	ck_assert_str_eq(safe("\xc2\x9b" "2J", 0, NULL), "\\u009b2J");
	ck_assert_str_eq(safe("abc\xe2\x80\xae" "fed", 0, NULL), "abc\\u202efed");
	ck_assert_str_eq(safe("a\xe2\x80\x8b" "b", 0, NULL), "a\\u200bb");
}
END_TEST

START_TEST(invalid_utf8_is_escaped_bytewise)
{
	ck_assert_str_eq(safe("\xff", 0, NULL), "\\xff");
	ck_assert_str_eq(safe("\xc0\xaf", 0, NULL), "\\xc0\\xaf");             /* overlong '/' */
	ck_assert_str_eq(safe("\xed\xa0\x80", 0, NULL), "\\xed\\xa0\\x80");   /* a surrogate */
	ck_assert_str_eq(safe("ok\xe2\x82", 0, NULL), "ok\\xe2\\x82");         /* cut short */
	/* A raw C1 byte (0x9b: an 8-bit CSI) is invalid UTF-8 on its own. */
	ck_assert_str_eq(safe("\x9b" "2J", 0, NULL), "\\x9b2J");
}
END_TEST

START_TEST(widths_count_columns)
{
	int cols;

	safe("h\xc3\xa9llo", 0, &cols);                     /* é: 2 bytes, 1 column */
	ck_assert_int_eq(cols, 5);
	ck_assert_int_eq(san_width("\xe6\x97\xa5\xe6\x9c\xac"), 4);   /* 日本: 2 wide characters */
	ck_assert_int_eq(san_width("e\xcc\x81"), 1);              /* e + combining acute */
	ck_assert_int_eq(san_width("\033"), 4);                   /* shown as \x1b */
}
END_TEST

START_TEST(cuts_at_characters_never_inside_escapes)
{
	int cols;

	ck_assert_str_eq(safe("abcdef", 3, &cols), "abc");
	ck_assert_int_eq(cols, 3);
	ck_assert_str_eq(safe("ab\033cd", 5, &cols), "ab");   /* "\x1b" would need 4 more */
	ck_assert_str_eq(safe("a\xe6\x97\xa5" "b", 2, &cols), "a");   /* the wide one does not fit */
	ck_assert_int_eq(cols, 1);
	/* A buffer too small: whole characters only, always terminated. */
	char small[6];
	san_str(small, sizeof(small), "\033\033\033", 0);
	ck_assert_str_eq(small, "\\x1b");
}
END_TEST

/* Formats from the tests' own literals, each with two %s. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static char *printed(const char *fmt, const char *a, const char *b)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	san_fprintf(f, fmt, a, b);
	fclose(f);
	return buf;
}
#pragma GCC diagnostic pop

START_TEST(printf_pads_and_cuts_by_columns)
{
	char *s = printed("[%-6s|%4s]", "\xe6\x97\xa5\xe6\x9c\xac", "\xc3\xa9");
	ck_assert_str_eq(s, "[\xe6\x97\xa5\xe6\x9c\xac  |   \xc3\xa9]");
	free(s);
	s = printed("[%.3s|%-5.2s]", "abcdef", "\033x");
	ck_assert_str_eq(s, "[abc|     ]");   /* "\x1b" is 4 columns: none of it fits in 2 */
	free(s);
	s = printed("%s\n%s", "row\n\033[1Afake", "ok");
	ck_assert_str_eq(s, "row\\n\\x1b[1Afake\nok");   /* the format's own newline stays */
	free(s);
}
END_TEST

START_TEST(printf_other_conversions)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	san_fprintf(f, "%d|%5.1f|%zu|%lld|%-4s|%%|%c|%7.3fs|%-*s|%x|%ld", -3, 2.25, (size_t)7, 1234567890123LL, "ab",
		    'z', 0.5, 3, "w", 255u, -9L);
	fclose(f);
	ck_assert_str_eq(buf, "-3|  2.2|7|1234567890123|ab  |%|z|  0.500s|w  |ff|-9");
	free(buf);
}
END_TEST

START_TEST(json_output_is_inert_ascii)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "os", "Evil\033]0;owned\007 \xc2\x9b OS", "del", "a\177b",
			      "name", "caf\xc3\xa9 \xe6\x97\xa5");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	san_json_print(f, o, JSON_INDENT(2));
	fclose(f);
	assert_inert(buf, len, 1);
	for (size_t i = 0; i < len; i++)
		ck_assert_msg((unsigned char)buf[i] < 0x80, "non-ASCII byte at %zu", i);
	/* ... and it still says the same. */
	json_t *back = json_loads(buf, 0, NULL);
	ck_assert_ptr_nonnull(back);
	ck_assert(json_equal(back, o));
	json_decref(back);
	json_decref(o);
	free(buf);
}
END_TEST

START_TEST(everything_shown_is_inert)
{
	/* Every byte value, alone and after a lead byte. */
	char in[3] = { 0 }, shown[64];

	for (int a = 1; a < 256; a++) {
		for (int b = 0; b < 256; b += 17) {
			in[0] = (char)a;
			in[1] = (char)b;
			san_str(shown, sizeof(shown), in, 0);
			assert_inert(shown, strlen(shown), 0);
		}
	}
}
END_TEST

static Suite *sanitize_suite(void)
{
	Suite *s = suite_create("sanitize");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, plain_text_unchanged);
	tcase_add_test(tc, controls_are_escaped);
	tcase_add_test(tc, invalid_utf8_is_escaped_bytewise);
	tcase_add_test(tc, widths_count_columns);
	tcase_add_test(tc, cuts_at_characters_never_inside_escapes);
	tcase_add_test(tc, printf_pads_and_cuts_by_columns);
	tcase_add_test(tc, printf_other_conversions);
	tcase_add_test(tc, json_output_is_inert_ascii);
	tcase_add_test(tc, everything_shown_is_inert);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	/* Widths of non-ASCII characters need a UTF-8 locale. */
	setenv("LC_ALL", "C.UTF-8", 1);
	san_init();
	sr = srunner_create(sanitize_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
