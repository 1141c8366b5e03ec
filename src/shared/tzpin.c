/* Zones pinned to their POSIX rule, for net: it evaluates maintenance
 * windows under a seccomp filter that lets it open no file, so glibc could
 * not read /usr/share/zoneinfo there.  Before the sandbox, the daemon pins
 * each zone its windows use to the rule in the TZif file's footer (RFC 8536
 * §3.3: the rule for times after the last transition), which tzset()
 * understands without any file.  Windows only look forward, so past
 * transitions the rule does not describe do not matter. */
#include "config.h"
#include "tzone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZIF_MAX (1L << 20)

static struct {
	char name[TZ_NAME_MAX + 1];
	char rule[TZ_RULE_MAX + 1];
} pins[TZ_PIN_MAX];
static int npins;

const char *cr_tz_pinned(const char *name)
{
	for (int i = 0; name && i < npins; i++)
		if (strcmp(pins[i].name, name) == 0)
			return pins[i].rule;
	return NULL;
}

/* The footer rule of a TZif (version 2 or later) file held in buf. */
static int footer_rule(const char *buf, size_t len, char *rule, size_t rulelen)
{
	size_t end, start;

	if (len < 6 || memcmp(buf, "TZif", 4) != 0 || buf[4] < '2' || buf[len - 1] != '\n')
		return -1;
	end = len - 1;
	for (start = end; start > 0 && buf[start - 1] != '\n'; start--)
		if (end - start > TZ_RULE_MAX)
			return -1;
	if (start == 0 || start == end)
		return -1;   /* no footer, or an empty rule (no POSIX form) */
	for (size_t i = start; i < end; i++)
		if (buf[i] < 0x21 || buf[i] > 0x7e)
			return -1;
	if (end - start >= rulelen)
		return -1;
	memcpy(rule, buf + start, end - start);
	rule[end - start] = '\0';
	return rule[0] == ':' ? -1 : 0;
}

/* A rule as tzset() takes it without a file: printable ASCII, no ':'
 * (which would name a file), at most TZ_RULE_MAX bytes. */
static int rule_ok(const char *rule)
{
	size_t n = strnlen(rule, TZ_RULE_MAX + 1);

	if (n == 0 || n > TZ_RULE_MAX || rule[0] == ':')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (rule[i] < 0x21 || rule[i] > 0x7e)
			return 0;
	return 1;
}

int cr_tz_pin_count(void)
{
	return npins;
}

int cr_tz_pin_get(int i, const char **name, const char **rule)
{
	if (i < 0 || i >= npins)
		return -1;
	*name = pins[i].name;
	*rule = pins[i].rule;
	return 0;
}

int cr_tz_pin_rule(const char *name, const char *rule)
{
	const char *had = cr_tz_pinned(name);

	if (had != NULL)
		return strcmp(had, rule) == 0 ? 0 : -1;
	if (name == NULL || rule == NULL || strcmp(name, "UTC") == 0 || !rule_ok(rule) ||
	    npins >= TZ_PIN_MAX || strnlen(name, TZ_NAME_MAX + 1) > TZ_NAME_MAX)
		return -1;
	snprintf(pins[npins].name, sizeof(pins[npins].name), "%s", name);
	snprintf(pins[npins].rule, sizeof(pins[npins].rule), "%s", rule);
	npins++;
	return 0;
}

int cr_tz_pin(const char *name)
{
	char path[sizeof(TZ_DIR) + 2 + TZ_NAME_MAX], *buf;
	size_t len;
	FILE *f;
	int rc = -1;

	if (cr_tz_pinned(name) != NULL || (name && strcmp(name, "UTC") == 0))
		return 0;
	if (!cr_tz_valid(name) || npins >= TZ_PIN_MAX)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", TZ_DIR, name);
	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	if ((buf = malloc(TZIF_MAX)) != NULL) {
		len = fread(buf, 1, TZIF_MAX, f);
		if (len < TZIF_MAX && footer_rule(buf, len, pins[npins].rule, sizeof(pins[npins].rule)) == 0) {
			snprintf(pins[npins].name, sizeof(pins[npins].name), "%s", name);
			npins++;
			rc = 0;
		}
		free(buf);
	}
	fclose(f);
	return rc;
}
