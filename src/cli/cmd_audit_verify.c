/* celeryroot audit --verify: a host's audit log, checked line by line
 * against its hash chain (auditchain.h), and its end against the copies of
 * the same records in the Redis stream, which catch an edited or removed
 * last line that the chain alone cannot. */
#include "config.h"
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "auditchain.h"
#include "rconn.h"

#define STREAM "celeryroot:audit"
#define STREAM_SCAN "10000"

struct tail {
	char host[HOSTNAME_MAX + 1];
	uint64_t seq;
	char *line;               /* the last line, malloc'd */
	size_t len;
};

/* The stream's newest record of host: its seq and bytes.  0 when found. */
static int stream_last(redisContext *c, const char *host, uint64_t *seq, char **rec)
{
	redisReply *r = rconn_cmd(c, "XREVRANGE", STREAM, "+", "-", "COUNT", STREAM_SCAN, NULL);
	int found = -1;

	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && found < 0; i++) {
		redisReply *f = r->element[i]->elements == 2 ? r->element[i]->element[1] : NULL;
		const char *h = NULL, *body = NULL;
		for (size_t j = 0; f && f->type == REDIS_REPLY_ARRAY && j + 1 < f->elements; j += 2) {
			if (f->element[j]->str && !strcmp(f->element[j]->str, "host"))
				h = f->element[j + 1]->str;
			if (f->element[j]->str && !strcmp(f->element[j]->str, "record"))
				body = f->element[j + 1]->str;
		}
		json_t *o = h && body && !strcmp(h, host) ? json_loads(body, 0, NULL) : NULL;
		if (json_integer_value(json_object_get(o, "seq")) > 0) {
			*seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
			*rec = strdup(body);
			found = 0;
		}
		json_decref(o);
	}
	if (r)
		freeReplyObject(r);
	return found;
}

/* The end of the file against the stream; "" when they agree or the
 * broker cannot be asked (noted in *checked). */
static void against_stream(struct cli_opts *o, const struct tail *t, char *why, size_t len, int *checked)
{
	char err[512];
	uint64_t seq = 0;
	char *rec = NULL;
	redisContext *c;

	why[0] = '\0';
	*checked = 0;
	config_defaults(&o->cfg);
	if (t->host[0] == '\0' || config_load(&o->cfg, o->config_path ? o->config_path : CONFIG_DEFAULT_PATH,
					       o->config_path != NULL, err, sizeof(err)) < 0 ||
	    broker_from(o->broker_url, &o->cfg, &o->broker, o->url, sizeof(o->url), err, sizeof(err)) < 0 ||
	    (c = rconn_connect(&o->broker, 3.0, err, sizeof(err))) == NULL)
		return;
	if (stream_last(c, t->host, &seq, &rec) == 0) {
		*checked = 1;
		if (seq > t->seq)
			snprintf(why, len, "the file ends at seq %" PRIu64 " but the stream has up to seq %" PRIu64
				 ": lines were removed from its end", t->seq, seq);
		else if (seq == t->seq && (strlen(rec) != t->len || memcmp(rec, t->line, t->len) != 0))
			snprintf(why, len, "the last line (seq %" PRIu64 ") differs from its copy in the stream: it was edited",
				 t->seq);
	}
	free(rec);
	redisFree(c);
}

static void report(const struct cli_opts *o, const char *file, const struct audit_verify *v, const char *why,
		   int stream_checked)
{
	if (o->json) {
		json_t *out = json_pack("{s:s, s:b, s:I, s:I, s:s?, s:s?, s:b}", "file", file, "intact", why[0] == '\0',
					"lines", (json_int_t)v->line, "last_seq", (json_int_t)v->head.seq,
					"error", why[0] ? why : NULL, "last_hash", why[0] ? NULL : v->head.hash,
					"stream_checked", stream_checked);
		if (why[0] && v->first_bad)
			json_object_set_new(out, "line", json_integer((json_int_t)v->first_bad));
		json_dumpf(out, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(out);
	} else if (why[0]) {
		printf("%s: BROKEN%s%.0" PRIu64 ": %s\n", file, v->first_bad ? " at line " : "", (uint64_t)v->first_bad, why);
	} else {
		printf("%s: intact: %" PRIu64 " lines, seq 1-%" PRIu64 ", last hash %.16s...%s\n", file, v->line, v->head.seq,
		       v->head.hash, stream_checked ? "; its end matches the Redis stream" : " (stream not checked)");
	}
}

int audit_verify(struct cli_opts *o, const char *file)
{
	FILE *f = fopen(file, "re");
	struct audit_verify v;
	struct tail t = { "", 0, NULL, 0 };
	char *line = NULL, why[300] = "";
	size_t cap = 0;
	ssize_t n;
	int checked = 0;

	if (f == NULL) {
		cli_err("cannot read %s: %s", file, strerror(errno));
		return EXIT_USAGE;
	}
	auditchain_verify_init(&v);
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] != '\n') {
			v.line++;
			v.first_bad = v.line;
			snprintf(why, sizeof(why), "the last line is incomplete (a torn write, or truncated)");
			break;
		}
		if (auditchain_verify_line(&v, line, (size_t)n - 1) < 0) {
			snprintf(why, sizeof(why), "%s", v.why);
			break;
		}
		json_t *r = json_loadb(line, (size_t)n - 1, 0, NULL);
		copy_str(t.host, sizeof(t.host), json_string_value(json_object_get(r, "host")) ?: "");
		json_decref(r);
		free(t.line);
		t.line = strndup(line, (size_t)n - 1);
		t.len = (size_t)n - 1;
		t.seq = v.head.seq;
	}
	fclose(f);
	free(line);
	if (why[0] == '\0' && t.line)
		against_stream(o, &t, why, sizeof(why), &checked);
	report(o, file, &v, why, checked);
	free(t.line);
	return why[0] ? EXIT_FAILED : EXIT_OK;
}
