/* Shared by the libFuzzer targets in this directory (one file per parser).
 * Besides what ASan and UBSan catch, each target checks the parser's own
 * promises on every input; a broken promise aborts, which libFuzzer reports
 * as a crash and saves as a reproducer. */
#ifndef CR_FUZZ_H
#define CR_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond, ...) do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: broken promise: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			abort(); \
		} \
	} while (0)

/* The input as a C string, for parsers that take one (cut at a NUL, as a
 * C caller would see it). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Printable ASCII only: what may reach a log line, an audit record or a
 * FAILURE result when the text quotes hostile input. */
static inline int fuzz_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

#endif
