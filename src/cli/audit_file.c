/* audit --verify, the file side: FILE.N .. FILE.1, FILE read oldest first
 * as one chain (rotation keeps seq and prev continuous across files), each
 * line checked against its hash chain and its signature. */
#include "config.h"
#include "audit_verify.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auditchain.h"

#define ROTATED_MAX 1000
#define SANDBOX_LOG "var/log/celeryroot/audit.log"
#define STATE_PUB "var/lib/celeryroot/host.pub"

/* Where it stands while the lines go by. */
struct walk {
	struct av *r;
	struct av_file *f;
	struct audit_verify v;
	const char *keyfile, *host;
	const char *file;            /* the file being read */
	const char *logpath;         /* FILE as given */
	uint64_t fline;              /* line within that file */
	uint64_t lines, signed_lines, unsigned_lines, first_seq;
	int started, broken, key_tried;
	char key_source[PATH_MAX + 64];
};

static int exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The host key: --key, else host.pub in the state dir of the sandbox (or
 * host root) the log belongs to, else known_hosts for the host. */
static void find_key(struct walk *w, const char *named)
{
	char pub[PATH_MAX + 32], err[PATH_MAX + 256];
	size_t n = strlen(w->logpath), tail = strlen(SANDBOX_LOG);
	const char *host = w->host ? w->host : named;
	struct known_hosts kh;

	w->key_tried = 1;
	if (w->keyfile) {
		if (kh_read_pub(w->keyfile, w->f->pk, err, sizeof(err)) == 0) {
			w->f->have_key = 1;
			snprintf(w->key_source, sizeof(w->key_source), "%s", w->keyfile);
		} else {
			av_unchecked(w->r, "signatures: %s", err);
		}
		return;
	}
	if (n >= tail && !strcmp(w->logpath + n - tail, SANDBOX_LOG) && n - tail < PATH_MAX) {
		snprintf(pub, sizeof(pub), "%.*s" STATE_PUB, (int)(n - tail), w->logpath);
		if (exists(pub) && kh_read_pub(pub, w->f->pk, err, sizeof(err)) == 0) {
			w->f->have_key = 1;
			snprintf(w->key_source, sizeof(w->key_source), "%s", pub);
			return;
		}
	}
	if (host && cr_valid_hostname(host) && kh_load(&kh, err, sizeof(err)) == 0) {
		const unsigned char *pk = kh_find(&kh, host);
		if (pk) {
			memcpy(w->f->pk, pk, HOST_KEY_LEN);
			w->f->have_key = 1;
			snprintf(w->key_source, sizeof(w->key_source), "known_hosts (%s)", host);
		}
		kh_free(&kh);
	}
	if (!w->f->have_key)
		av_unchecked(w->r, "signatures: no key for %s (give --key FILE.pub: the host's "
			     "/var/lib/celeryroot/host.pub, or trust it with 'celeryroot hosts trust %s')",
			     host ? host : "the host", host ? host : "HOST");
}

/* The first line may continue a chain whose start was rotated away. */
static void start_chain(struct walk *w, json_t *o)
{
	json_int_t seq = json_integer_value(json_object_get(o, "seq"));
	const char *prev = json_string_value(json_object_get(o, "prev"));

	w->started = 1;
	cr_copy_str(w->f->host, sizeof(w->f->host), json_string_value(json_object_get(o, "host")) ?: "");
	if (seq > 1 && prev && strlen(prev) == AUDIT_HASH_HEX) {
		w->v.head.seq = (uint64_t)seq - 1;
		cr_copy_str(w->v.head.hash, sizeof(w->v.head.hash), prev);
		av_note(w->r, "the log starts at seq %lld: the lines before it are not here (rotated away, or deleted)",
			(long long)seq);
	}
	w->first_seq = seq > 0 ? (uint64_t)seq : 1;
}

static void keep(struct walk *w, json_t *o)
{
	struct av_rec *nr = realloc(w->f->recs, (w->f->n + 1) * sizeof(*nr));

	if (nr == NULL)
		return;
	w->f->recs = nr;
	nr[w->f->n].seq = w->v.head.seq;
	if (av_canon_hash(o, nr[w->f->n].h) == 0)
		w->f->n++;
}

/* Its signature, once the chain holds. */
static void check_sig(struct walk *w, json_t *o)
{
	int s = w->f->have_key ? av_sig_check(o, w->f->pk) : 2;

	if (s == 1) {
		w->signed_lines++;
	} else if (s == 0 && w->signed_lines == 0) {
		w->unsigned_lines++;   /* older than signing: the chain covers them */
	} else if (s == 0) {
		av_problem(w->r, "%s line %" PRIu64 " (seq %" PRIu64 ") carries no signature after signed lines: written by "
			   "someone without the host key", w->file, w->fline, w->v.head.seq);
		json_object_set_new(w->r->out, "line", json_integer((json_int_t)w->fline));
		w->broken = 1;
	} else if (s == -1) {
		av_problem(w->r, "%s line %" PRIu64 " (seq %" PRIu64 "): its signature does not verify with the host key: "
			   "forged or altered", w->file, w->fline, w->v.head.seq);
		json_object_set_new(w->r->out, "line", json_integer((json_int_t)w->fline));
		w->broken = 1;
	}
}

static void one_line(struct walk *w, const char *line, size_t len)
{
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);

	w->fline++;
	w->lines++;
	if (!w->started && json_is_object(o))
		start_chain(w, o);
	if (!w->key_tried)
		find_key(w, w->f->host[0] ? w->f->host : NULL);
	if (cr_auditchain_verify_line(&w->v, line, len) < 0) {
		av_problem(w->r, "%s line %" PRIu64 ": %s", w->file, w->fline, w->v.why);
		json_object_set_new(w->r->out, "line", json_integer((json_int_t)w->fline));
		w->broken = 1;
	} else {
		check_sig(w, o);
		keep(w, o);
	}
	json_decref(o);
}

/* One file of the chain; newest says whether it is the one priv appends to. */
static void read_one(struct walk *w, const char *path, int newest)
{
	FILE *fp = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	w->file = path;
	w->fline = 0;
	if (fp == NULL) {
		av_unchecked(w->r, "cannot read %s: %s", path, strerror(errno));
		w->broken = 1;
		return;
	}
	while (!w->broken && (n = getline(&line, &cap, fp)) > 0) {
		if (line[n - 1] != '\n') {
			av_problem(w->r, "%s line %" PRIu64 ": the last line is incomplete (a torn write, or truncated)%s",
				   path, w->fline + 1, newest ? "" : " in a rotated file");
			json_object_set_new(w->r->out, "line", json_integer((json_int_t)w->fline + 1));
			w->broken = 1;
			break;
		}
		one_line(w, line, (size_t)n - 1);
	}
	free(line);
	fclose(fp);
}

static void summarise(struct walk *w, json_t *files)
{
	char fp[FINGERPRINT_MAX] = "";
	json_t *out = w->r->out;

	if (w->f->have_key)
		kh_fingerprint(w->f->pk, fp);
	json_object_set_new(out, "file", json_string(w->logpath));
	json_object_set_new(out, "files", files);
	json_object_set_new(out, "lines", json_integer((json_int_t)w->lines));
	json_object_set_new(out, "first_seq", json_integer((json_int_t)(w->lines ? w->first_seq : 0)));
	json_object_set_new(out, "last_seq", json_integer((json_int_t)w->v.head.seq));
	json_object_set_new(out, "last_hash", json_string(w->v.head.hash));
	json_object_set_new(out, "signed_lines", json_integer((json_int_t)w->signed_lines));
	json_object_set_new(out, "unsigned_lines", json_integer((json_int_t)w->unsigned_lines));
	json_object_set_new(out, "key_fingerprint", fp[0] ? json_string(fp) : json_null());
	json_object_set_new(out, "key_source", w->key_source[0] ? json_string(w->key_source) : json_null());
	json_object_set_new(out, "signatures_checked", json_boolean(w->f->have_key && w->signed_lines > 0));
	av_say(w->r, "%s: %" PRIu64 " lines in %zu file%s, seq %" PRIu64 "-%" PRIu64 ", %" PRIu64 " signed%s%s%s; last hash %.16s...",
	       w->logpath, w->lines, json_array_size(files), json_array_size(files) == 1 ? "" : "s",
	       w->lines ? w->first_seq : 0, w->v.head.seq, w->signed_lines, fp[0] ? " by " : "", fp,
	       w->key_source[0] ? "" : " (no key)", w->v.head.hash);
	if (w->f->have_key && w->lines > 0 && w->signed_lines == 0 && !w->broken)
		av_unchecked(w->r, "no line of %s is signed (written before the host signed its audit lines?): the chain "
			     "holds, but nothing shows the host wrote it", w->logpath);
	else if (w->unsigned_lines > 0 && w->signed_lines > 0)
		av_note(w->r, "the first %" PRIu64 " lines predate signing; the chain binds them to the first signed line",
			w->unsigned_lines);
	if (w->lines == 0)
		av_note(w->r, "%s has no lines", w->logpath);
}

void av_check_file(struct av *r, const char *file, const char *keyfile, const char *host, struct av_file *f)
{
	struct walk w = { .r = r, .f = f, .keyfile = keyfile, .host = host, .logpath = file };
	char path[PATH_MAX + 16];
	json_t *files = json_array();
	int n = 0;

	cr_auditchain_verify_init(&w.v);
	/* The oldest rotated file there is; one missing below it is a hole
	 * rotation never leaves. */
	for (int i = 1; i <= ROTATED_MAX; i++)
		if (snprintf(path, sizeof(path), "%s.%d", file, i) < (int)sizeof(path) && exists(path))
			n = i;
	for (int i = n; i >= 0 && !w.broken; i--) {
		if (i > 0)
			snprintf(path, sizeof(path), "%s.%d", file, i);
		else
			snprintf(path, sizeof(path), "%s", file);
		if (i > 0 && !exists(path)) {
			av_problem(r, "%s is missing between %s.%d and the newer files: deleted (rotation leaves no gap)",
				   path, file, i + 1);
			w.broken = 1;
			break;
		}
		json_array_append_new(files, json_string(path));
		read_one(&w, path, i == 0);
	}
	if (!w.key_tried && !w.broken)
		find_key(&w, NULL);
	summarise(&w, files);
	f->checked = !w.broken && f->have_key;
}
