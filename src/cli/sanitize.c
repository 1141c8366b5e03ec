/* The CLI's one sanitiser (see sanitize.h). */
#include "config.h"
#include "sanitize.h"

#include <langinfo.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* 1 when the terminal's character set is UTF-8: printable non-ASCII
 * characters are shown as they are (wcwidth() tells their columns). */
static int utf8_term = -1;

void san_init(void)
{
	const char *cs;

	if (setlocale(LC_CTYPE, "") == NULL)
		setlocale(LC_CTYPE, "C");
	cs = nl_langinfo(CODESET);
	utf8_term = cs != NULL && (!strcmp(cs, "UTF-8") || !strcmp(cs, "utf8"));
	if (!utf8_term)
		setlocale(LC_CTYPE, "C");
}

/* One code point of strict UTF-8 (no overlong forms, surrogates or values
 * past U+10FFFF): its length, or 0 when s does not start with one. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t need;
	uint32_t min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0)
		need = 2, min = 0x80, *cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		need = 3, min = 0x800, *cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		need = 4, min = 0x10000, *cp = s[0] & 0x07;
	else
		return 0;
	if (need > n)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return need;
}

/* Printable to wcwidth() and still not to be shown raw: C1 controls, and
 * the invisible format characters that reorder (bidi overrides, "Trojan
 * source") or hide text. */
static int invisible(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x61c || (cp >= 0x200b && cp <= 0x200f) ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff ||
	       (cp >= 0xfff9 && cp <= 0xfffb);
}

/* Where a sanitised string goes, and how much of it fits. */
struct sink {
	char *out;
	size_t len, used;
	int cols, maxcols;
	int full;
};

/* Appends n bytes taking ncols columns, whole or not at all. */
static void emit(struct sink *k, const char *s, size_t n, int ncols)
{
	if (k->full || (k->maxcols > 0 && k->cols + ncols > k->maxcols) || k->used + n + 1 > k->len) {
		k->full = 1;
		return;
	}
	memcpy(k->out + k->used, s, n);
	k->used += n;
	k->out[k->used] = '\0';
	k->cols += ncols;
}

/* A byte as \xNN, a code point as \uNNNN or \UNNNNNNNN. */
static void emit_escape(struct sink *k, int byte, unsigned v)
{
	char e[16];
	int n = byte ? snprintf(e, sizeof(e), "\\x%02x", v)
		     : snprintf(e, sizeof(e), v > 0xffff ? "\\U%08x" : "\\u%04x", v);

	emit(k, e, (size_t)n, n);
}

/* A control byte: the short forms people know, else \xNN. */
static void emit_control(struct sink *k, unsigned char c)
{
	if (c == '\n')
		emit(k, "\\n", 2, 2);
	else if (c == '\r')
		emit(k, "\\r", 2, 2);
	else if (c == '\t')
		emit(k, "\\t", 2, 2);
	else
		emit_escape(k, 1, c);
}

/* One valid code point of n bytes at s. */
static void emit_char(struct sink *k, const char *s, size_t n, uint32_t cp)
{
	int w;

	if (cp < 0x20 || cp == 0x7f) {
		emit_control(k, (unsigned char)cp);
		return;
	}
	if (cp < 0x7f) {
		emit(k, s, 1, 1);
		return;
	}
	w = utf8_term > 0 && !invisible(cp) ? wcwidth((wchar_t)cp) : -1;
	if (w >= 0)
		emit(k, s, n, w);
	else
		emit_escape(k, 0, cp);
}

int san_str(char *out, size_t len, const char *s, int maxcols)
{
	struct sink k = { out, len, 0, 0, maxcols, 0 };
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p);

	if (utf8_term < 0)
		san_init();
	if (len == 0)
		return 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && !k.full;) {
		uint32_t cp;
		size_t m = utf8_decode(p + i, n - i, &cp);
		if (m == 0) {
			emit_escape(&k, 1, p[i]);   /* not UTF-8: this byte, escaped */
			i++;
			continue;
		}
		emit_char(&k, (const char *)p + i, m, cp);
		i += m;
	}
	return k.cols;
}

/* Room for s made safe: an escape is at most 4 bytes per input byte. */
static char *san_alloc(const char *s, int maxcols, int *cols)
{
	size_t n = s ? strlen(s) : 0, len = 4 * n + 16;
	char *out;

	if (maxcols > 0 && (size_t)maxcols * 4 + 16 < len)
		len = (size_t)maxcols * 4 + 16;
	if ((out = malloc(len)) != NULL)
		*cols = san_str(out, len, s, maxcols);
	return out;
}

int san_width(const char *s)
{
	int cols = 0;
	char *t = san_alloc(s, 0, &cols);

	free(t);
	return cols;
}

/* ---- printf ---------------------------------------------------------------- */

/* One %s: made safe, cut to maxcols columns (0: no limit, -1: none shown),
 * padded to width columns. */
static int put_string(FILE *f, const char *s, int width, int maxcols, int left)
{
	int cols = 0;
	char *t = san_alloc(maxcols < 0 ? "" : s ? s : "(null)", maxcols, &cols);
	int pad = width > cols ? width - cols : 0;

	if (t == NULL)
		return -1;
	if (!left)
		fprintf(f, "%*s", pad, "");
	fputs(t, f);
	if (left)
		fprintf(f, "%*s", pad, "");
	free(t);
	return cols + pad;
}

/* A conversion other than %s, formatted by libc from its own spec. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int put_other(FILE *f, const char *spec, const char *len, char conv, va_list *ap)
{
	char tmp[512];
	int n;

	if (strchr("diouxX", conv) == NULL && conv != 'c' && conv != 'p' && strchr("feEgGaA", conv) == NULL)
		return -1;
	if (conv == 'c')
		n = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, int));
	else if (conv == 'p')
		n = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, void *));
	else if (strchr("feEgGaA", conv))
		n = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, double));
	else if (strchr("di", conv))
		n = !strcmp(len, "ll") ? snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, long long))
		  : !strcmp(len, "l") ? snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, long))
		  : !strcmp(len, "z") ? snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, ssize_t))
		  : !strcmp(len, "j") ? snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, intmax_t))
		  : snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, int));
	else
		n = !strcmp(len, "ll") ? snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, unsigned long long))
		  : !strcmp(len, "l") ? snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, unsigned long))
		  : !strcmp(len, "z") ? snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, size_t))
		  : !strcmp(len, "j") ? snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, uintmax_t))
		  : snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, unsigned));
	if (n > 0)
		fputs(tmp, f);
	return n;
}
#pragma GCC diagnostic pop

/* A width or precision: digits, or '*' from the arguments. */
static int spec_number(const char **p, va_list *ap, int *out)
{
	if (**p == '*') {
		(*p)++;
		*out = va_arg(*ap, int);
		return 1;
	}
	if (**p < '0' || **p > '9')
		return 0;
	*out = 0;
	while (**p >= '0' && **p <= '9' && *out < 100000)
		*out = *out * 10 + (*(*p)++ - '0');
	return 1;
}

/* One conversion after its '%': printed; *p moved past it. */
static int conversion(FILE *f, const char **p, va_list *ap)
{
	char spec[48] = "%", len[3] = "";
	int width = 0, prec = -1, left = 0, has_width, has_prec = 0;
	size_t sl = 1, ll = 0;

	while (**p && strchr("-0+ #", **p) && sl < 8) {
		left |= **p == '-';
		spec[sl++] = *(*p)++;
	}
	has_width = spec_number(p, ap, &width);
	if (width < 0)
		left = 1, width = -width;
	if (**p == '.') {
		(*p)++;
		has_prec = 1;
		if (!spec_number(p, ap, &prec))
			prec = 0;
		has_prec = prec >= 0;   /* a negative '*' precision is none (C11 7.21.6.1) */
	}
	while (**p && strchr("hlzj", **p) && ll < 2)
		len[ll++] = *(*p)++;
	len[ll] = '\0';
	if (**p == '\0')
		return -1;   /* a format that ends in '%' */
	char conv = *(*p)++;
	if (conv == 's')
		return put_string(f, va_arg(*ap, const char *), width, has_prec ? (prec > 0 ? prec : -1) : 0, left);
	if (conv == '%')
		return fputc('%', f) == EOF ? -1 : 1;
	/* Rebuilt with the numbers spelt out: a '*' was taken from ap already. */
	if (left && memchr(spec, '-', sl) == NULL)
		spec[sl++] = '-';
	if (has_width)
		sl += (size_t)snprintf(spec + sl, sizeof(spec) - sl, "%d", width);
	if (has_prec)
		sl += (size_t)snprintf(spec + sl, sizeof(spec) - sl, ".%d", prec < 0 ? 0 : prec);
	snprintf(spec + sl, sizeof(spec) - sl, "%s%c", len, conv);
	return put_other(f, spec, len, conv, ap);
}

int san_vfprintf(FILE *f, const char *fmt, va_list ap)
{
	va_list cp;
	int total = 0;

	va_copy(cp, ap);
	for (const char *p = fmt; *p;) {
		const char *pct = strchr(p, '%');
		size_t lit = pct ? (size_t)(pct - p) : strlen(p);
		fwrite(p, 1, lit, f);
		total += (int)lit;
		p += lit;
		if (pct == NULL)
			break;
		p++;
		int n = conversion(f, &p, &cp);
		if (n < 0)
			break;
		total += n;
	}
	va_end(cp);
	return total;
}

int san_fprintf(FILE *f, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = san_vfprintf(f, fmt, ap);
	va_end(ap);
	return n;
}

/* ---- JSON -------------------------------------------------------------------- */

void san_json_print(FILE *f, json_t *v, size_t flags)
{
	char *text = json_dumps(v, flags | JSON_ENSURE_ASCII);

	if (text == NULL)
		return;
	/* DEL can only stand inside a string here: its escape is the same string. */
	for (const char *p = text; *p; p++) {
		if (*p == 0x7f)
			fputs("\\u007f", f);
		else
			fputc(*p, f);
	}
	free(text);
}
