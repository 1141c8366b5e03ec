/* Canonical JSON (see canon.h).  Keys are sorted by their UTF-8 bytes, which
 * is the code point order Python sorts str keys by. */
#include "config.h"
#include "canon.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
	char *p;
	size_t len, cap;
	int failed;
	char *err;
	size_t errlen;
};

static void fail(struct buf *b, const char *why)
{
	if (!b->failed)
		snprintf(b->err, b->errlen, "%s", why);
	b->failed = 1;
}

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (n > CANON_MAX_LEN - b->len) {
		fail(b, "signed content too large");
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (np == NULL) {
			fail(b, "out of memory");
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* One code point from UTF-8 (jansson only holds valid UTF-8); 0 on error. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t need = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 :
		      (s[0] & 0xf8) == 0xf0 ? 4 : 0;

	if (need == 0 || need > n)
		return 0;
	*cp = need == 1 ? s[0] : need == 2 ? s[0] & 0x1f : need == 3 ? s[0] & 0x0f : s[0] & 0x07;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	return need;
}

static void put_u(struct buf *b, unsigned v)
{
	char tmp[16];
	snprintf(tmp, sizeof(tmp), "\\u%04x", v & 0xffffu);
	put(b, tmp, 6);
}

/* Python's ensure_ascii escaping: the short forms for " \ \n \r \t \b \f,
 * \u00xx (lower-case hex) for every other byte outside printable ASCII, and
 * surrogate pairs above the BMP. */
static void put_string(struct buf *b, const char *s, size_t n)
{
	static const char shortform[] = { '"', '"', '\\', '\\', '\n', 'n', '\r', 'r', '\t', 't', '\b', 'b', '\f', 'f' };

	put(b, "\"", 1);
	for (size_t i = 0; i < n && !b->failed;) {
		uint32_t cp;
		size_t k = utf8_next((const unsigned char *)s + i, n - i, &cp);
		const char *sf = NULL;
		if (k == 0) {
			fail(b, "invalid UTF-8 in a signed string");
			break;
		}
		for (size_t j = 0; j < sizeof(shortform); j += 2)
			if (cp == (unsigned char)shortform[j])
				sf = &shortform[j + 1];
		if (sf) {
			char esc[2] = { '\\', *sf };
			put(b, esc, 2);
		} else if (cp >= 0x20 && cp < 0x7f) {
			put(b, s + i, 1);
		} else if (cp < 0x10000) {
			put_u(b, cp);
		} else {
			put_u(b, 0xd800 + ((cp - 0x10000) >> 10));
			put_u(b, 0xdc00 + ((cp - 0x10000) & 0x3ff));
		}
		i += k;
	}
	put(b, "\"", 1);
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void put_value(struct buf *b, json_t *v, int depth);

static void put_object(struct buf *b, json_t *o, int depth)
{
	size_t n = json_object_size(o), i = 0;
	const char **keys = calloc(n ? n : 1, sizeof(*keys));
	const char *k;
	json_t *v;

	if (keys == NULL) {
		fail(b, "out of memory");
		return;
	}
	json_object_foreach(o, k, v) keys[i++] = k;
	qsort(keys, n, sizeof(*keys), key_cmp);
	put(b, "{", 1);
	for (i = 0; i < n && !b->failed; i++) {
		if (i)
			put(b, ",", 1);
		put_string(b, keys[i], strlen(keys[i]));
		put(b, ":", 1);
		put_value(b, json_object_get(o, keys[i]), depth + 1);
	}
	put(b, "}", 1);
	free(keys);
}

static void put_value(struct buf *b, json_t *v, int depth)
{
	char num[32];
	size_t i;
	json_t *e;

	if (depth > CANON_MAX_DEPTH) {
		fail(b, "signed content nested too deeply");
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		put_object(b, v, depth);
		break;
	case JSON_ARRAY:
		put(b, "[", 1);
		json_array_foreach(v, i, e) {
			if (i)
				put(b, ",", 1);
			put_value(b, e, depth + 1);
		}
		put(b, "]", 1);
		break;
	case JSON_STRING:
		put_string(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		put(b, num, strlen(num));
		break;
	case JSON_TRUE:
		put(b, "true", 4);
		break;
	case JSON_FALSE:
		put(b, "false", 5);
		break;
	case JSON_NULL:
		put(b, "null", 4);
		break;
	default:
		fail(b, "a real number cannot be signed: send whole numbers (e.g. max_age=3600)");
	}
}

char *cr_canon_dump(json_t *v, size_t *len, char *err, size_t errlen)
{
	struct buf b = { .err = err, .errlen = errlen };

	if (v == NULL) {
		snprintf(err, errlen, "nothing to sign");
		return NULL;
	}
	put_value(&b, v, 0);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

unsigned char *cr_canon_signed(const char *domain, json_t *v, size_t *len, char *err, size_t errlen)
{
	size_t dlen = strlen(domain), clen = 0;
	char *canon = cr_canon_dump(v, &clen, err, errlen);
	unsigned char *out = canon ? malloc(dlen + clen) : NULL;

	if (out) {
		memcpy(out, domain, dlen);
		memcpy(out + dlen, canon, clen);
		*len = dlen + clen;
	} else if (canon) {
		snprintf(err, errlen, "out of memory");
	}
	free(canon);
	return out;
}
