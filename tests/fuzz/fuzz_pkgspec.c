/* The package-spec validator (src/shared/pkgspec.c) that the CLI, net and
 * priv all apply: each input is one spec (cr_pkgspec_parse) and, when it is
 * JSON, a list of them (cr_pkgspec_parse_list, as in a task's arguments). */
#include "config.h"

#include <jansson.h>

#include "fuzz.h"
#include "pkgspec.h"

static int in(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"
#define VERSION_CHARS LOWER_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ.+~-:"

/* DESIGN §4: ^[a-z0-9][a-z0-9+.-]+$, an optional :arch and =version, and
 * nothing apt-get or a shell could read as an option, path or pattern. */
static void check_spec(const char *s, const struct pkgspec *p)
{
	char again[PKG_SPEC_MAX + 1];
	struct pkgspec q;
	char err[256];

	FUZZ_ASSERT(strlen(p->name) >= 2 && in(p->name[0], LOWER_DIGITS), "name '%s'", p->name);
	for (const char *c = p->name; *c; c++)
		FUZZ_ASSERT(in(*c, LOWER_DIGITS "+.-"), "name '%s'", p->name);
	for (const char *c = p->arch; *c; c++)
		FUZZ_ASSERT(in(*c, LOWER_DIGITS "-") && p->arch[0] != '-', "arch '%s'", p->arch);
	FUZZ_ASSERT(p->version[0] == '\0' || in(p->version[0], "0123456789"), "version '%s'", p->version);
	for (const char *c = p->version; *c; c++)
		FUZZ_ASSERT(in(*c, VERSION_CHARS), "version '%s'", p->version);
	/* What was accepted is exactly what gets formatted and sent on. */
	cr_pkgspec_format(p, again, sizeof(again));
	FUZZ_ASSERT(strcmp(again, s) == 0, "'%s' formats as '%s'", s, again);
	FUZZ_ASSERT(cr_pkgspec_parse(again, &q, err, sizeof(err)) == 0 && !memcmp(&q, p, sizeof(q)),
		    "'%s' does not parse back the same", again);
}

static void check_list(const uint8_t *data, size_t size)
{
	static struct pkgspec out[PKG_SPECS_MAX];
	json_t *list = json_loadb((const char *)data, size, 0, NULL);
	char err[512] = "";
	size_t n = 99999, i;
	json_t *e;

	if (list == NULL)
		return;
	if (cr_pkgspec_parse_list(list, out, PKG_SPECS_MAX, &n, err, sizeof(err)) == 0) {
		FUZZ_ASSERT(json_is_array(list) && n == json_array_size(list), "%zu of %zu", n,
			    json_array_size(list));
		json_array_foreach(list, i, e)
			check_spec(json_string_value(e), &out[i]);
	} else {
		FUZZ_ASSERT(n == 0 && err[0] != '\0', "refused list: n %zu, reason '%s'", n, err);
		FUZZ_ASSERT(fuzz_printable(err), "reason quotes raw input: '%s'", err);
	}
	json_decref(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkgspec p;
	char err[512] = "";
	char *s = fuzz_cstr(data, size);

	if (cr_pkgspec_parse(s, &p, err, sizeof(err)) == 0) {
		check_spec(s, &p);
		FUZZ_ASSERT(err[0] == '\0', "error '%s' for an accepted spec", err);
	} else {
		FUZZ_ASSERT(err[0] != '\0' && fuzz_printable(err), "reason '%s'", err);
	}
	free(s);
	check_list(data, size);
	return 0;
}
