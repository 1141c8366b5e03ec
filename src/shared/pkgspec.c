#include "config.h"
#include "pkgspec.h"
#include "names.h"

#include <stdio.h>
#include <string.h>

#define SPEC_HINT "expected name[:arch][=version]"
#define NAME_RULE "names are lower-case letters, digits, '+', '-' and '.' (Debian policy)"
#define ARCH_RULE "architectures are lower-case letters, digits and '-', e.g. amd64, arm64, all"
#define VERSION_RULE "versions are [epoch:]upstream[-revision] (Debian version syntax): " \
	"upstream starts with a digit and uses letters, digits, '.', '+', '~' and '-'"
/* How much of a bad input an error message quotes. */
#define QUOTE_MAX 48

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int fail(char *err, size_t errlen, const char *s, const char *why)
{
	char q[QUOTE_MAX + 4];

	if (err == NULL || errlen == 0)
		return -1;
	if (s == NULL) {
		snprintf(err, errlen, "invalid package: %s", why);
		return -1;
	}
	cr_quote_printable(q, sizeof(q), s, QUOTE_MAX);
	snprintf(err, errlen, "invalid package '%s': %s", q, why);
	return -1;
}

/* A byte the spec can never hold, whatever the part. */
static const char *bad_byte(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80)
			return "non-ASCII characters are not allowed (look-alike letters?); " NAME_RULE;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
			return "whitespace is not allowed; give one package per argument";
		if (c < 0x20 || c == 0x7f)
			return "control characters are not allowed";
	}
	return NULL;
}

static const char *check_name(const char *s, size_t len)
{
	if (len < 2)
		return "names are at least 2 characters; " NAME_RULE;
	if (len > PKG_NAME_MAX)
		return "names are at most 128 characters; " NAME_RULE;
	for (size_t i = 0; i < len; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '+' && s[i] != '-' && s[i] != '.')
			return NAME_RULE;
	if (!is_lower_alnum(s[0]))
		return "names start with a lower-case letter or digit; " NAME_RULE;
	return NULL;
}

static const char *check_arch(const char *s, size_t len)
{
	if (len == 0)
		return "the architecture after ':' is empty; " ARCH_RULE;
	if (len > PKG_ARCH_MAX)
		return "architectures are at most 32 characters; " ARCH_RULE;
	if (!is_lower_alnum(s[0]))
		return ARCH_RULE;
	for (size_t i = 1; i < len; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return ARCH_RULE;
	return NULL;
}

/* epoch: 1..10 digits whose value fits dpkg's int. */
static int valid_epoch(const char *s, size_t len)
{
	unsigned long long v = 0;

	if (len == 0 || len > 10)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return 0;
		v = v * 10 + (unsigned long long)(s[i] - '0');
	}
	return v <= 2147483647ULL;
}

/* Debian policy 5.6.12: [epoch:]upstream_version[-debian_revision]. */
static const char *check_version(const char *s, size_t len)
{
	const char *colon, *up = s, *dash = NULL;
	size_t uplen;

	if (len == 0)
		return "the version after '=' is empty; " VERSION_RULE;
	if (len > PKG_VERSION_MAX)
		return "versions are at most 128 characters; " VERSION_RULE;
	colon = memchr(s, ':', len);
	if (colon != NULL) {
		if (!valid_epoch(s, (size_t)(colon - s)))
			return "the epoch before ':' must be a number; " VERSION_RULE;
		up = colon + 1;
	}
	uplen = len - (size_t)(up - s);
	for (size_t i = 0; i < uplen; i++)
		if (up[i] == '-')
			dash = up + i;
	if (dash != NULL) {
		const char *rev = dash + 1;
		size_t revlen = len - (size_t)(rev - s);
		if (revlen == 0)
			return "the debian revision after the last '-' is empty; " VERSION_RULE;
		for (size_t i = 0; i < revlen; i++)
			if (!is_alnum(rev[i]) && rev[i] != '+' && rev[i] != '.' && rev[i] != '~')
				return "the debian revision uses letters, digits, '+', '.' and '~'; " VERSION_RULE;
		uplen = (size_t)(dash - up);
	}
	if (uplen == 0)
		return "the upstream version is empty; " VERSION_RULE;
	if (!is_digit(up[0]))
		return "the upstream version must start with a digit; " VERSION_RULE;
	for (size_t i = 0; i < uplen; i++) {
		char c = up[i];
		if (is_alnum(c) || c == '.' || c == '+' || c == '~' || c == '-')
			continue;
		if (c == ':' && colon != NULL)
			continue;
		return VERSION_RULE;
	}
	return NULL;
}

int cr_pkgspec_parse(const char *s, struct pkgspec *out, char *err, size_t errlen)
{
	const char *why, *eq, *colon, *ver = NULL, *arch = NULL;
	size_t len, namelen, archlen = 0, verlen = 0;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (s == NULL)
		return fail(err, errlen, NULL, "no package given; " SPEC_HINT);
	len = strnlen(s, PKG_SPEC_MAX + 1);
	if (len == 0)
		return fail(err, errlen, s, "empty; " SPEC_HINT);
	if (len > PKG_SPEC_MAX)
		return fail(err, errlen, s, "too long; names are at most 128 characters, "
			    "architectures 32 and versions 128");
	if ((why = bad_byte(s, len)) != NULL)
		return fail(err, errlen, s, why);
	if (s[0] == '-')
		return fail(err, errlen, s, "must not start with '-' (options are not accepted); " NAME_RULE);

	/* The version is everything after the first '='; it may hold ':' itself. */
	eq = memchr(s, '=', len);
	namelen = eq != NULL ? (size_t)(eq - s) : len;
	if (eq != NULL) {
		ver = eq + 1;
		verlen = len - namelen - 1;
	}
	colon = memchr(s, ':', namelen);
	if (colon != NULL) {
		arch = colon + 1;
		archlen = namelen - (size_t)(arch - s);
		namelen = (size_t)(colon - s);
	}

	if ((why = check_name(s, namelen)) != NULL)
		return fail(err, errlen, s, why);
	if (arch != NULL && (why = check_arch(arch, archlen)) != NULL)
		return fail(err, errlen, s, why);
	if (ver != NULL && (why = check_version(ver, verlen)) != NULL)
		return fail(err, errlen, s, why);

	if (out != NULL) {
		memcpy(out->name, s, namelen);
		if (arch != NULL)
			memcpy(out->arch, arch, archlen);
		if (ver != NULL)
			memcpy(out->version, ver, verlen);
	}
	return 0;
}

static int same_spec(const struct pkgspec *a, const struct pkgspec *b)
{
	return strcmp(a->name, b->name) == 0 && strcmp(a->arch, b->arch) == 0 &&
	       strcmp(a->version, b->version) == 0;
}

/* Every list refusal leaves *n at 0: nothing from a refused list is used. */
#define LIST_FAIL(...) do { \
		*n = 0; \
		if (err != NULL && errlen > 0) \
			snprintf(err, errlen, __VA_ARGS__); \
		return -1; \
	} while (0)

int cr_pkgspec_parse_list(json_t *list, struct pkgspec *out, size_t cap, size_t *n, char *err,
		       size_t errlen)
{
	size_t max = cap < PKG_SPECS_MAX ? cap : PKG_SPECS_MAX, count, i;
	size_t dummy;
	json_t *e;

	if (n == NULL)
		n = &dummy;
	*n = 0;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (!json_is_array(list))
		LIST_FAIL("packages must be a JSON list of strings");
	count = json_array_size(list);
	if (count > max)
		LIST_FAIL("too many packages (%zu): at most %zu per request", count, max);
	if (count > 0 && out == NULL)
		LIST_FAIL("no room for %zu packages", count);
	json_array_foreach(list, i, e) {
		const char *s = json_string_value(e);

		if (s == NULL)
			LIST_FAIL("package #%zu of %zu is not a string", i + 1, count);
		if (strlen(s) != json_string_length(e))
			LIST_FAIL("package #%zu of %zu contains a NUL byte", i + 1, count);
		if (cr_pkgspec_parse(s, &out[i], err, errlen) < 0) {
			*n = 0;
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			if (same_spec(&out[j], &out[i])) {
				char spec[PKG_SPEC_MAX + 1];

				*n = 0;
				if (err != NULL && errlen > 0) {
					cr_pkgspec_format(&out[i], spec, sizeof(spec));
					snprintf(err, errlen, "duplicate package '%s': entries #%zu and #%zu "
						 "are the same; give each package once", spec, j + 1, i + 1);
				}
				return -1;
			}
		}
	}
	*n = count;
	return 0;
}

void cr_pkgspec_format(const struct pkgspec *p, char *buf, size_t len)
{
	int w;

	if (buf == NULL || len == 0)
		return;
	if (p == NULL) {
		buf[0] = '\0';
		return;
	}
	w = snprintf(buf, len, "%s%s%s%s%s", p->name, p->arch[0] ? ":" : "", p->arch,
		     p->version[0] ? "=" : "", p->version);
	if (w < 0 || (size_t)w >= len)
		buf[0] = '\0';
}
