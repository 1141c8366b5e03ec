/* Unit tests for pkgspec.c: the APT package specs that the CLI, net and priv
 * all validate (DESIGN §4, issue 3). */
#include "config.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkgspec.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* spec, then the name, arch and version it must split into. */
static const char *const good[][4] = {
	{ "nginx", "nginx", "", "" },
	{ "libc6:amd64", "libc6", "amd64", "" },
	{ "g++", "g++", "", "" },
	{ "libstdc++6=12.2.0-14", "libstdc++6", "", "12.2.0-14" },
	{ "python3.11", "python3.11", "", "" },
	{ "nginx=1.22.1-9+deb12u1", "nginx", "", "1.22.1-9+deb12u1" },
	{ "foo=1:2.3~rc1-1", "foo", "", "1:2.3~rc1-1" },
	{ "tzdata=2024a-0+deb12u1", "tzdata", "", "2024a-0+deb12u1" },
	{ "0ad", "0ad", "", "" },
	{ "ab", "ab", "", "" },
	{ "00", "00", "", "" },
	{ "libc6:i386", "libc6", "i386", "" },
	{ "libc6:arm64=2.36-9+deb12u4", "libc6", "arm64", "2.36-9+deb12u4" },
	{ "tzdata:all", "tzdata", "all", "" },
	{ "nginx:any", "nginx", "any", "" },
	{ "gcc-12-base:armhf", "gcc-12-base", "armhf", "" },
	{ "libfoo:x32", "libfoo", "x32", "" },
	{ "pkg:musl-linux-amd64", "pkg", "musl-linux-amd64", "" },
	{ "openssl=3.0.11-1~deb12u2", "openssl", "", "3.0.11-1~deb12u2" },
	{ "bash=5.2.15-2+b2", "bash", "", "5.2.15-2+b2" },
	{ "curl=7.88.1", "curl", "", "7.88.1" },
	{ "vim=2:9.0.1378-2", "vim", "", "2:9.0.1378-2" },
	{ "foo=1.0-rc1-2", "foo", "", "1.0-rc1-2" },           /* '-' in upstream: revision follows */
	{ "foo=1:2.0:3-1", "foo", "", "1:2.0:3-1" },           /* ':' in upstream: epoch present */
	{ "foo=1.0~beta1", "foo", "", "1.0~beta1" },
	{ "foo=1.0+dfsg", "foo", "", "1.0+dfsg" },
	{ "foo=0", "foo", "", "0" },
	{ "foo=20240101", "foo", "", "20240101" },
	{ "foo=1.0-1ubuntu0.22.04.1", "foo", "", "1.0-1ubuntu0.22.04.1" },
	{ "foo=1.0-A1", "foo", "", "1.0-A1" },                /* revisions may use upper case */
	{ "foo=1.0A", "foo", "", "1.0A" },
	{ "foo=2147483647:1", "foo", "", "2147483647:1" },
	{ "lib32stdc++6:amd64=12.2.0-14", "lib32stdc++6", "amd64", "12.2.0-14" },
	{ "linux-image-6.1.0-18-amd64", "linux-image-6.1.0-18-amd64", "", "" },
	{ "r-base-core", "r-base-core", "", "" },
	{ "x11-xserver-utils", "x11-xserver-utils", "", "" },
	{ "node-.bin", "node-.bin", "", "" },
};

/* Option injection, shell syntax, paths, patterns, look-alikes, bad parts. */
static const char *const hostile[] = {
	"-oAPT::Get::Force=1",
	"--allow-downgrades",
	"--allow-unauthenticated",
	"-y",
	"-",
	"nginx;rm -rf /",
	"$(reboot)",
	"`id`",
	"nginx curl",
	"Nginx",
	"NGINX",
	"ng\xd1\x96nx",                /* Cyrillic і */
	"ngi\xc3\xb1x",                /* ñ */
	"",
	"a",
	"nginx:",
	"nginx=",
	"nginx:=1.0",
	"nginx=abc",
	"nginx=1.0 ",
	" nginx",
	"nginx\n",
	"nginx\r",
	"nginx\tcurl",
	"nginx\x7f",
	"nginx\x1b[31m",
	"../../etc/passwd",
	"/etc/passwd",
	"./foo.deb",
	"nginx=1:",
	"nginx=:1.0",
	"nginx=a:1.0",
	"nginx=1.0:2",                 /* ':' without an epoch */
	"nginx=99999999999:1.0",       /* epoch overflows */
	"nginx=1.0-",
	"nginx=-1",
	"nginx=1.0-1_2",
	"nginx=1.0_1",
	"nginx=1.0=2",
	"nginx:AMD64",
	"nginx:amd64:i386",
	"nginx:-amd64",
	"nginx:amd_64",
	"nginx=1.0;id",
	"*",
	"nginx*",
	"nginx?",
	"ngin[x]",
	"nginx|true",
	"nginx&",
	">x",
	"nginx>x",
	"nginx=$(id)",
	"nginx=1.0`id`",
	"nginx/stable",
	"nginx/bookworm-backports",
	"nginx^",
	"~nginx",
	"?name(nginx)",
	"nginx'",
	"nginx\"",
	"nginx\\",
	"nginx#",
	"nginx%",
	"nginx,curl",
	"nginx_1",
	"+nginx",
	".nginx",
	"nginx@1",
	"nginx!",
	"{nginx}",
	"nginx(1)",
	"nginx=1.0\xc2\xa0",           /* no-break space */
	"nginx=\xef\xbc\x91.0",        /* fullwidth digit one */
};

START_TEST(good_specs)
{
	for (size_t i = 0; i < N(good); i++) {
		struct pkgspec p;
		char err[256] = "untouched";

		ck_assert_msg(cr_pkgspec_parse(good[i][0], &p, err, sizeof(err)) == 0,
			      "refused good spec '%s': %s", good[i][0], err);
		ck_assert_str_eq(err, "");
		ck_assert_str_eq(p.name, good[i][1]);
		ck_assert_str_eq(p.arch, good[i][2]);
		ck_assert_str_eq(p.version, good[i][3]);
	}
	ck_assert_uint_ge(N(good), 30);
}
END_TEST

START_TEST(hostile_specs)
{
	for (size_t i = 0; i < N(hostile); i++) {
		struct pkgspec p;
		char err[512] = "";

		memset(&p, 'X', sizeof(p));
		ck_assert_msg(cr_pkgspec_parse(hostile[i], &p, err, sizeof(err)) < 0,
			      "accepted hostile spec #%zu", i);
		ck_assert_msg(strncmp(err, "invalid package", 15) == 0, "no reason for #%zu: '%s'", i, err);
		/* One printable ASCII line, whatever the input held. */
		for (const char *c = err; *c; c++)
			ck_assert_msg(*c >= 0x20 && *c < 0x7f, "unprintable byte in reason for #%zu", i);
		/* A refused spec leaves nothing usable behind. */
		ck_assert_str_eq(p.name, "");
		ck_assert_str_eq(p.arch, "");
		ck_assert_str_eq(p.version, "");
	}
	ck_assert_uint_ge(N(hostile), 30);
	ck_assert_int_lt(cr_pkgspec_parse(NULL, NULL, NULL, 0), 0);
}
END_TEST

START_TEST(lengths)
{
	char s[PKG_SPEC_MAX + 64], err[512];
	struct pkgspec p;

	/* Name: 128 is fine, 129 is not. */
	memset(s, 'a', 128);
	s[128] = '\0';
	ck_assert_int_eq(cr_pkgspec_parse(s, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(p.name), 128);
	s[128] = 'a';
	s[129] = '\0';
	ck_assert_int_lt(cr_pkgspec_parse(s, &p, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "at most 128"));
	/* The quote is cut, not the whole 129 characters. */
	ck_assert_ptr_nonnull(strstr(err, "..."));
	ck_assert_uint_lt(strlen(err), 200);

	/* Arch: 32 is fine, 33 is not. */
	memcpy(s, "nginx:", 6);
	memset(s + 6, 'a', 32);
	s[38] = '\0';
	ck_assert_int_eq(cr_pkgspec_parse(s, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(p.arch), 32);
	s[38] = 'a';
	s[39] = '\0';
	ck_assert_int_lt(cr_pkgspec_parse(s, &p, err, sizeof(err)), 0);

	/* Version: 128 is fine, 129 is not. */
	memcpy(s, "nginx=", 6);
	memset(s + 6, '1', 128);
	s[134] = '\0';
	ck_assert_int_eq(cr_pkgspec_parse(s, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(p.version), 128);
	s[134] = '1';
	s[135] = '\0';
	ck_assert_int_lt(cr_pkgspec_parse(s, &p, err, sizeof(err)), 0);

	/* The longest whole spec parses; one more byte anywhere does not. */
	memset(s, 'a', 128);
	s[128] = ':';
	memset(s + 129, 'b', 32);
	s[161] = '=';
	memset(s + 162, '2', 128);
	s[290] = '\0';
	ck_assert_uint_eq(strlen(s), PKG_SPEC_MAX);
	ck_assert_int_eq(cr_pkgspec_parse(s, &p, err, sizeof(err)), 0);
	s[290] = '2';
	s[291] = '\0';
	ck_assert_int_lt(cr_pkgspec_parse(s, &p, err, sizeof(err)), 0);

	/* A very long hostile string is refused without reading past the bound. */
	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	ck_assert_int_lt(cr_pkgspec_parse(s, &p, err, sizeof(err)), 0);
}
END_TEST

START_TEST(error_messages)
{
	char err[512], small[16];
	struct pkgspec p;

	ck_assert_int_lt(cr_pkgspec_parse("Nginx", &p, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "invalid package 'Nginx': names are lower-case letters, digits, "
			 "'+', '-' and '.' (Debian policy)");

	/* Non-ASCII bytes and control characters are quoted as '?'. */
	ck_assert_int_lt(cr_pkgspec_parse("ng\xd1\x96nx", &p, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "'ng??nx'"));
	ck_assert_ptr_nonnull(strstr(err, "non-ASCII"));
	ck_assert_int_lt(cr_pkgspec_parse("nginx\n", &p, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "'nginx?'"));
	ck_assert_int_lt(cr_pkgspec_parse("nginx\x7f", &p, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "control"));

	ck_assert_int_lt(cr_pkgspec_parse("--allow-downgrades", &p, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "'-'"));
	ck_assert_int_lt(cr_pkgspec_parse("nginx curl", &p, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "whitespace"));
	ck_assert_int_lt(cr_pkgspec_parse("nginx=abc", &p, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "start with a digit"));
	ck_assert_int_lt(cr_pkgspec_parse("nginx:", &p, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "architecture after ':' is empty"));
	ck_assert_int_lt(cr_pkgspec_parse("nginx=", &p, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "version after '=' is empty"));
	ck_assert_int_lt(cr_pkgspec_parse("nginx:AMD64", &p, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "architectures are lower-case"));
	ck_assert_int_lt(cr_pkgspec_parse("", &p, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	ck_assert_int_lt(cr_pkgspec_parse(NULL, &p, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "no package"));

	/* A short buffer gets a terminated, truncated reason; a NULL one is fine. */
	ck_assert_int_lt(cr_pkgspec_parse("Nginx", &p, small, sizeof(small)), 0);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	ck_assert_int_lt(cr_pkgspec_parse("Nginx", &p, NULL, 0), 0);
	ck_assert_int_eq(cr_pkgspec_parse("nginx", NULL, NULL, 0), 0);
}
END_TEST

static json_t *list_of(size_t count)
{
	json_t *a = json_array();
	char name[32];

	for (size_t i = 0; i < count; i++) {
		snprintf(name, sizeof(name), "pkg%zu", i);
		json_array_append_new(a, json_string(name));
	}
	return a;
}

START_TEST(list_cases)
{
	static struct pkgspec out[PKG_SPECS_MAX + 10];
	char err[512];
	size_t n = 99;
	json_t *a;

	/* Exactly 100 are accepted, in order. */
	a = list_of(PKG_SPECS_MAX);
	ck_assert_int_eq(cr_pkgspec_parse_list(a, out, N(out), &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, PKG_SPECS_MAX);
	ck_assert_str_eq(out[0].name, "pkg0");
	ck_assert_str_eq(out[99].name, "pkg99");
	/* ... but not when the caller has room for fewer. */
	ck_assert_int_lt(cr_pkgspec_parse_list(a, out, 10, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(strstr(err, "at most 10"));
	json_decref(a);

	/* 101 are refused, however big the caller's array. */
	a = list_of(PKG_SPECS_MAX + 1);
	n = 99;
	ck_assert_int_lt(cr_pkgspec_parse_list(a, out, N(out), &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_str_eq(err, "too many packages (101): at most 100 per request");
	json_decref(a);

	/* Empty is valid: whether a request needs packages is the caller's call. */
	a = json_array();
	ck_assert_int_eq(cr_pkgspec_parse_list(a, out, N(out), &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 0);
	json_decref(a);

	/* Non-string entries. */
	a = json_pack("[s, i]", "nginx", 3);
	ck_assert_int_lt(cr_pkgspec_parse_list(a, out, N(out), &n, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "package #2 of 2 is not a string");
	json_decref(a);
	a = json_pack("[s, n]", "nginx");
	ck_assert_int_lt(cr_pkgspec_parse_list(a, out, N(out), &n, err, sizeof(err)), 0);
	json_decref(a);
	a = json_pack("[[s]]", "nginx");
	ck_assert_int_lt(cr_pkgspec_parse_list(a, out, N(out), &n, err, sizeof(err)), 0);
	json_decref(a);

	/* A NUL inside a JSON string must not hide a tail. */
	a = json_array();
	json_array_append_new(a, json_stringn("nginx\0;id", 9));
	ck_assert_int_lt(cr_pkgspec_parse_list(a, out, N(out), &n, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "NUL"));
	json_decref(a);

	/* Not an array at all. */
	a = json_string("nginx");
	ck_assert_int_lt(cr_pkgspec_parse_list(a, out, N(out), &n, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "list"));
	json_decref(a);
	a = json_pack("{s:s}", "pkg", "nginx");
	ck_assert_int_lt(cr_pkgspec_parse_list(a, out, N(out), &n, err, sizeof(err)), 0);
	json_decref(a);
	ck_assert_int_lt(cr_pkgspec_parse_list(NULL, out, N(out), &n, err, sizeof(err)), 0);

	/* A hostile entry anywhere refuses the whole list, with its reason. */
	a = json_pack("[s, s, s]", "nginx", "curl", "--allow-downgrades");
	n = 99;
	ck_assert_int_lt(cr_pkgspec_parse_list(a, out, N(out), &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(strstr(err, "'--allow-downgrades'"));
	json_decref(a);

	/* Exact duplicates are refused; different arch or version is not a duplicate. */
	a = json_pack("[s, s, s]", "nginx", "curl", "nginx");
	ck_assert_int_lt(cr_pkgspec_parse_list(a, out, N(out), &n, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "duplicate package 'nginx'"));
	ck_assert_ptr_nonnull(strstr(err, "#1 and #3"));
	json_decref(a);
	a = json_pack("[s, s]", "libc6:amd64=2.36-9", "libc6:amd64=2.36-9");
	ck_assert_int_lt(cr_pkgspec_parse_list(a, out, N(out), &n, err, sizeof(err)), 0);
	json_decref(a);
	a = json_pack("[s, s, s]", "libc6", "libc6:i386", "libc6=2.36-9");
	ck_assert_int_eq(cr_pkgspec_parse_list(a, out, N(out), &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(out[1].arch, "i386");
	ck_assert_str_eq(out[2].version, "2.36-9");
	json_decref(a);
}
END_TEST

START_TEST(format_round_trip)
{
	char buf[PKG_SPEC_MAX + 1], small[8];
	struct pkgspec p, q;

	for (size_t i = 0; i < N(good); i++) {
		ck_assert_int_eq(cr_pkgspec_parse(good[i][0], &p, NULL, 0), 0);
		cr_pkgspec_format(&p, buf, sizeof(buf));
		ck_assert_str_eq(buf, good[i][0]);
		ck_assert_int_eq(cr_pkgspec_parse(buf, &q, NULL, 0), 0);
		ck_assert_int_eq(memcmp(&p, &q, sizeof(p)), 0);
	}

	/* Too small a buffer gives "", never a shorter spec that means something else. */
	ck_assert_int_eq(cr_pkgspec_parse("nginx=1.22.1-9", &p, NULL, 0), 0);
	memcpy(small, "junk", 5);
	cr_pkgspec_format(&p, small, sizeof(small));
	ck_assert_str_eq(small, "");
	cr_pkgspec_format(&p, buf, 0);
	cr_pkgspec_format(NULL, buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
}
END_TEST

static Suite *pkgspec_suite(void)
{
	Suite *s = suite_create("pkgspec");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, good_specs);
	tcase_add_test(tc, hostile_specs);
	tcase_add_test(tc, lengths);
	tcase_add_test(tc, error_messages);
	tcase_add_test(tc, list_cases);
	tcase_add_test(tc, format_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pkgspec_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
