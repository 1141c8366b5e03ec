/* celeryroot audit --verify (see audit_verify.h): what was asked, the
 * verdict, and how it is said. */
#include "config.h"
#include "audit_verify.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>


static void add(json_t *list, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	json_array_append_new(list, json_string(buf));
}

void av_problem(struct av *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add(r->problems, fmt, ap);
	va_end(ap);
}

void av_unchecked(struct av *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add(r->unchecked, fmt, ap);
	va_end(ap);
}

void av_note(struct av *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add(r->notes, fmt, ap);
	va_end(ap);
}

void av_say(struct av *r, const char *fmt, ...)
{
	json_t *said = json_object_get(r->out, "summary");
	va_list ap;

	if (said == NULL) {
		said = json_array();
		json_object_set_new(r->out, "summary", said);
	}
	va_start(ap, fmt);
	add(said, fmt, ap);
	va_end(ap);
}

/* ---- saying it ------------------------------------------------------------------ */

static void print_list(const char *label, json_t *list)
{
	size_t i;
	json_t *s;

	json_array_foreach(list, i, s)
		san_printf("  %s: %s\n", label, json_string_value(s));
}

static int verdict(const struct av *r)
{
	return json_array_size(r->problems) ? EXIT_FAILED : json_array_size(r->unchecked) ? EXIT_PENDING : EXIT_OK;
}

static void report(const struct cli_opts *o, struct av *r)
{
	int rc = verdict(r);
	json_t *first = json_array_get(r->problems, 0);

	json_object_set_new(r->out, "intact", json_boolean(rc == EXIT_OK));
	json_object_set_new(r->out, "checked", json_boolean(json_array_size(r->unchecked) == 0));
	json_object_set(r->out, "problems", r->problems);
	json_object_set(r->out, "unchecked", r->unchecked);
	json_object_set(r->out, "notes", r->notes);
	json_object_set_new(r->out, "error", first ? json_incref(first) : json_null());
	if (o->json) {
		san_json_print(stdout, r->out, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
		return;
	}
	size_t i;
	json_t *line;
	json_array_foreach(json_object_get(r->out, "summary"), i, line)
		san_printf("%s\n", json_string_value(line));
	print_list("BROKEN", r->problems);
	print_list("NOT CHECKED", r->unchecked);
	print_list("note", r->notes);
	san_printf("%s\n", rc == EXIT_OK ? "audit trail intact: everything asked for was checked"
		   : rc == EXIT_FAILED ? "audit trail BROKEN (exit 2)"
				       : "audit trail NOT fully checked (exit 3): not a success");
}

int audit_verify(struct cli_opts *o, const char *file, const char *host, const char *keyfile)
{
	struct av r = { json_object(), json_array(), json_array(), json_array() };
	struct av_file f;
	int rc;

	memset(&f, 0, sizeof(f));
	if (file)
		av_check_file(&r, file, keyfile, host, &f);
	if (host)
		av_check_stream(&r, o, host, keyfile, file ? &f : NULL);
	else if (file)
		av_note(&r, "the end of the file was not compared with the Redis stream (add --host %s): "
			"lines cut from its end cannot show in the file alone", f.host[0] ? f.host : "HOST");
	report(o, &r);
	rc = verdict(&r);
	free(f.recs);
	json_decref(r.out);
	json_decref(r.problems);
	json_decref(r.unchecked);
	json_decref(r.notes);
	return rc;
}
