/* One sanitiser for everything the CLI prints.  What it prints comes from
 * Redis (results, the registry, jobs, audit records, schedules, windows) or
 * from hosts (os-release, apt's progress text), and anyone who can write to
 * Redis, or a compromised host, chooses those bytes.  A terminal acts on
 * control bytes: ESC and CSI (0x9b) sequences move the cursor over rows
 * already printed or recolour them, OSC 0 retitles the window, OSC 52 writes
 * the clipboard.  So nothing but printable characters reaches the terminal:
 * C0 controls, DEL, C1 controls (U+0080-U+009F), Unicode's invisible format
 * and bidi controls and invalid UTF-8 are shown as escapes ("\x1b", "\n",
 * "\u009b", "\u202e", "\xff"), and widths count the columns a string takes
 * on screen, not its bytes, so tables stay aligned. */
#ifndef CR_CLI_SANITIZE_H
#define CR_CLI_SANITIZE_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Reads the locale once: on a terminal whose character set is not UTF-8
 * every non-ASCII character is escaped too. */
void san_init(void);
/* s made safe to print, into out (len bytes, always NUL-terminated), cut at
 * a character (never inside an escape) to at most maxcols columns when
 * maxcols > 0; the columns it takes. */
int san_str(char *out, size_t len, const char *s, int maxcols);
/* The columns s takes once made safe. */
int san_width(const char *s);
/* printf where every %s argument is made safe, and a %s's width and
 * precision count columns ("%-16s" pads to 16 columns, "%.32s" shows at
 * most 32).  Only the format's own text may hold control bytes: the CLI's
 * own newlines and terminal sequences.  Conversions: s c d i u x o f e g p
 * and %%, with the flags - 0 + space #, widths and precisions (also *) and
 * the length modifiers hh h l ll z j. */
int san_fprintf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* To stdout: one body for both (san_fprintf keeps the format checks). */
#define san_printf(...) san_fprintf(stdout, __VA_ARGS__)
int san_vfprintf(FILE *f, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* --json output: ASCII only (JSON_ENSURE_ASCII), and DEL, which jansson
 * leaves raw, written as \u007f: no raw control or non-ASCII byte at all. */
void san_json_print(FILE *f, json_t *v, size_t flags);

#endif
