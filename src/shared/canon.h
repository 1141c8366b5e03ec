/* Canonical JSON for signatures: the bytes Python's
 * json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
 * gives, so that a Python client and the daemons sign and check the very
 * same bytes.  Only what tasks carry is signable: objects, arrays, strings,
 * integers, booleans and null; a real number is refused, because two
 * languages never agree on how to print one. */
#ifndef CR_CANON_H
#define CR_CANON_H

#include <jansson.h>
#include <stddef.h>

/* Nesting deeper than this is refused (no task needs more than 3). */
#define CANON_MAX_DEPTH 16
/* The canonical form of one signed task never needs more. */
#define CANON_MAX_LEN (256 * 1024)

/* Returns a malloc'd NUL-terminated string (*len set), or NULL with a
 * one-line reason in err. */
char *cr_canon_dump(json_t *v, size_t *len, char *err, size_t errlen);
/* What a signature covers: domain (a "celeryroot-...-vN\n" line, so that
 * one kind of signature can never pass for another) followed by v's
 * canonical form.  malloc'd (not terminated; *len set), or NULL with a
 * reason in err. */
unsigned char *cr_canon_signed(const char *domain, json_t *v, size_t *len, char *err, size_t errlen);

#endif
