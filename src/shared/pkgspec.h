/* APT package specs, "name[:arch][=version]", validated the same way by the
 * CLI, by net and again by priv (DESIGN §4).  Only Debian policy names,
 * lower-case architectures and Debian version syntax get through: nothing
 * that apt-get or a shell could read as an option, a path, a pattern or a
 * command.  Nothing here allocates. */
#ifndef CR_PKGSPEC_H
#define CR_PKGSPEC_H

#include <jansson.h>
#include <stddef.h>

#define PKG_NAME_MAX 128
#define PKG_ARCH_MAX 32
#define PKG_VERSION_MAX 128
#define PKG_SPECS_MAX 100
/* Longest whole spec: name ':' arch '=' version. */
#define PKG_SPEC_MAX (PKG_NAME_MAX + 1 + PKG_ARCH_MAX + 1 + PKG_VERSION_MAX)

struct pkgspec {
	char name[PKG_NAME_MAX + 1];
	char arch[PKG_ARCH_MAX + 1];        /* empty when absent */
	char version[PKG_VERSION_MAX + 1];  /* empty when absent */
};

/* Parses and validates one spec.  0 on success (out filled, when not NULL);
 * -1 with a one-line reason in err that quotes the (truncated, escaped) input
 * and says what is allowed. */
int cr_pkgspec_parse(const char *s, struct pkgspec *out, char *err, size_t errlen);

/* Parses a JSON array of spec strings into out[0..*n).  At most
 * min(cap, PKG_SPECS_MAX) entries; non-strings, strings with NUL bytes and
 * exact duplicates are refused.  0 on success, -1 (and *n = 0) with a reason
 * in err otherwise.  An empty array is valid; callers decide if it is enough. */
int cr_pkgspec_parse_list(json_t *list, struct pkgspec *out, size_t cap, size_t *n, char *err,
		       size_t errlen);

/* Writes "name[:arch][=version]".  When it does not fit, buf gets "" rather
 * than a truncated spec that would name a different package or version. */
void cr_pkgspec_format(const struct pkgspec *p, char *buf, size_t len);

#endif
