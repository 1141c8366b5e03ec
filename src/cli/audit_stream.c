/* audit --verify, the stream side: every entry of celeryroot:audit that
 * claims to be HOST's, each checked against HOST's key.  Entries that do
 * not verify are counted as forged and ignored; the authenticated ones,
 * ordered by their signed seq, show what is missing (said plainly), and
 * where a file was checked too, whether the two agree and whether the
 * file's end was cut. */
#include "config.h"
#include "audit_verify.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "crerr.h"
#include "rconn.h"

#define STREAM "celeryroot:audit"
#define PAGE 1000
#define PAGE_S "1000"
/* net keeps the stream to about 100,000 entries; anyone who can XADD can
 * make it longer, and reading past this says so instead of going on. */
#define STREAM_READ_MAX 2000000

struct scan {
	struct av *r;
	const char *host;
	unsigned char pk[HOST_KEY_LEN];
	struct av_rec *recs;          /* authenticated records, in stream order */
	size_t n;
	uint64_t entries, forged, unsigned_, net, foreign;
	char first_forged[64];
};

/* The key to check the stream with: --key, the file's, or known_hosts's. */
static int stream_key(struct scan *s, const char *keyfile, const struct av_file *f)
{
	char err[CR_ERR_MAX];
	struct known_hosts kh;
	const unsigned char *pk;

	if (keyfile)
		return kh_read_pub(keyfile, s->pk, err, sizeof(err)) == 0 ? 0 : (av_unchecked(s->r, "stream: %s", err), -1);
	if (f && f->have_key && !strcmp(f->host, s->host)) {
		memcpy(s->pk, f->pk, HOST_KEY_LEN);
		return 0;
	}
	if (kh_load(&kh, err, sizeof(err)) < 0)
		return av_unchecked(s->r, "stream: %s", err), -1;
	pk = kh_find(&kh, s->host);
	if (pk)
		memcpy(s->pk, pk, HOST_KEY_LEN);
	kh_free(&kh);
	if (pk == NULL)
		av_unchecked(s->r, "stream: %s's key is not in known_hosts, and Redis cannot vouch for the records it holds "
			     "(trust it with 'celeryroot hosts trust %s' once checked, or give --key FILE.pub)", s->host,
			     s->host);
	return pk ? 0 : -1;
}

static const char *field(const redisReply *f, const char *name, size_t *len)
{
	for (size_t j = 0; f && f->type == REDIS_REPLY_ARRAY && j + 1 < f->elements; j += 2)
		if (f->element[j]->type == REDIS_REPLY_STRING && !strcmp(f->element[j]->str, name) &&
		    f->element[j + 1]->type == REDIS_REPLY_STRING) {
			*len = f->element[j + 1]->len;
			return f->element[j + 1]->str;
		}
	return NULL;
}

static void keep(struct scan *s, json_t *o)
{
	struct av_rec *nr = realloc(s->recs, (s->n + 1) * sizeof(*nr));

	if (nr == NULL)
		return;
	s->recs = nr;
	nr[s->n].seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
	if (av_canon_hash(o, nr[s->n].h) == 0)
		s->n++;
}

/* One entry: HOST's, authenticated, or not HOST's word. */
static void entry(struct scan *s, const redisReply *e)
{
	size_t hl = 0, rl = 0;
	const redisReply *f = e->type == REDIS_REPLY_ARRAY && e->elements == 2 ? e->element[1] : NULL;
	const char *h = field(f, "host", &hl), *rec = field(f, "record", &rl);
	json_t *o = rec ? json_loadb(rec, rl, JSON_REJECT_DUPLICATES, NULL) : NULL;
	const char *named = json_string_value(json_object_get(o, "host"));
	int ours = (h && !strcmp(h, s->host)) || (named && !strcmp(named, s->host));
	int seq_ok = json_is_integer(json_object_get(o, "seq")) && json_integer_value(json_object_get(o, "seq")) > 0;

	s->entries++;
	if (!ours) {
		s->foreign++;
	} else if (json_is_object(o) && !json_object_get(o, "sig") && !strcmp(json_string_value(json_object_get(o, "by")) ?: "", "net")) {
		s->net++;   /* net's own notes (refusals before priv): only net vouches for them */
	} else if (json_is_object(o) && seq_ok && named && !strcmp(named, s->host) && av_sig_check(o, s->pk) == 1) {
		keep(s, o);
	} else {
		if (json_is_object(o) && !json_object_get(o, "sig"))
			s->unsigned_++;
		else
			s->forged++;
		if (!s->first_forged[0] && e->element[0]->type == REDIS_REPLY_STRING)
			cr_copy_str(s->first_forged, sizeof(s->first_forged), e->element[0]->str);
	}
	json_decref(o);
}

/* Every entry, a page at a time: 0 read whole, -1 not. */
static int read_all(struct scan *s, redisContext *c)
{
	char start[64] = "-";

	for (;;) {
		redisReply *r = cr_rconn_cmd(c, "XRANGE", STREAM, start, "+", "COUNT", PAGE_S, NULL);
		if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
			av_unchecked(s->r, "stream: cannot read %s: %s", STREAM, r && r->str ? r->str : c->errstr);
			if (r)
				freeReplyObject(r);
			return -1;
		}
		for (size_t i = 0; i < r->elements; i++)
			entry(s, r->element[i]);
		size_t got = r->elements;
		const redisReply *last = got ? r->element[got - 1] : NULL;
		if (last && last->type == REDIS_REPLY_ARRAY && last->elements == 2 && last->element[0]->str)
			snprintf(start, sizeof(start), "(%s", last->element[0]->str);
		freeReplyObject(r);
		if (got < PAGE)
			return 0;
		if (s->entries >= STREAM_READ_MAX) {
			av_unchecked(s->r, "stream: more than %d entries: not read whole", STREAM_READ_MAX);
			return -1;
		}
	}
}

static int by_seq(const void *a, const void *b)
{
	const struct av_rec *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The authenticated records by seq: copies folded, gaps said. */
static void order(struct scan *s)
{
	size_t o = 0, copies = 0, late = 0;

	for (size_t i = 1; i < s->n; i++)
		late += s->recs[i].seq < s->recs[i - 1].seq;
	if (s->n > 0)   /* recs is NULL when nothing was authenticated */
		qsort(s->recs, s->n, sizeof(*s->recs), by_seq);
	for (size_t i = 0; i < s->n; i++) {
		if (o > 0 && s->recs[o - 1].seq == s->recs[i].seq) {
			if (memcmp(s->recs[o - 1].h, s->recs[i].h, 32) != 0)
				av_problem(s->r, "stream: two different records of %s are signed with seq %" PRIu64 ": its "
					   "log was started again (deleted?)", s->host, s->recs[i].seq);
			copies++;
			continue;
		}
		if (o > 0 && s->recs[i].seq > s->recs[o - 1].seq + 1)
			av_note(s->r, "stream: %" PRIu64 " records of %s between seq %" PRIu64 " and %" PRIu64 " are missing from "
				"the stream: deleted, or never copied there", s->recs[i].seq - s->recs[o - 1].seq - 1, s->host,
				s->recs[o - 1].seq, s->recs[i].seq);
		s->recs[o++] = s->recs[i];
	}
	s->n = o;
	if (copies)
		av_note(s->r, "stream: %zu copies of records already there (a commit retried, or copied by someone who can "
			"write to Redis): counted once", copies);
	if (late)
		av_note(s->r, "stream: %zu records were added after records with a higher seq (replies that overtook each "
			"other, or re-added): the signed seq gives the order", late);
	if (s->n && s->recs[0].seq > 1)
		av_note(s->r, "stream: %s's records before seq %" PRIu64 " are not in the stream (trimmed by its length cap, "
			"or deleted)", s->host, s->recs[0].seq);
}

static const struct av_rec *find(const struct av_rec *v, size_t n, uint64_t seq)
{
	struct av_rec key = { .seq = seq };
	return bsearch(&key, v, n, sizeof(*v), by_seq);
}

/* Where both hold a seq they must hold the same record; the stream's
 * signed copies going past the file's end show that end was cut. */
static void overlap(struct scan *s, const struct av_file *f)
{
	uint64_t same = 0, file_last = f->n ? f->recs[f->n - 1].seq : 0;
	uint64_t stream_last = s->n ? s->recs[s->n - 1].seq : 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct av_rec *fr = find(f->recs, f->n, s->recs[i].seq);
		if (fr == NULL)
			continue;
		if (memcmp(fr->h, s->recs[i].h, 32) != 0)
			av_problem(s->r, "seq %" PRIu64 " differs between the file and its signed copy in the stream",
				   s->recs[i].seq);
		else
			same++;
	}
	json_object_set_new(s->r->out, "overlap", json_integer((json_int_t)same));
	if (stream_last > file_last)
		av_problem(s->r, "the file ends at seq %" PRIu64 " but the stream holds %s's signed records up to seq %" PRIu64
			   ": lines were removed from the file's end", file_last, s->host, stream_last);
	else if (stream_last < file_last && s->n)
		av_note(s->r, "the stream's copies end at seq %" PRIu64 ", the file at seq %" PRIu64 " (not copied yet, or "
			"removed from the stream)", stream_last, file_last);
	if (s->n && same == 0 && file_last)
		av_unchecked(s->r, "the file and the stream have no record in common: nothing to compare");
	else if (s->n)
		av_say(s->r, "file and stream: the same %" PRIu64 " records where both hold them", same);
}

static redisContext *connect_broker(struct cli_opts *o, struct av *r)
{
	char err[CR_ERR_MAX];
	redisContext *c;

	int must;
	const char *path = cli_config(o->config_path, &must);

	cr_config_defaults(&o->cfg);
	if (cr_config_load(&o->cfg, path, must, err, sizeof(err)) < 0 ||
	    cr_broker_from(o->broker_url, &o->cfg, &o->broker, o->url, sizeof(o->url), err, sizeof(err)) < 0 ||
	    (c = cr_rconn_connect(&o->broker, 3.0, err, sizeof(err))) == NULL) {
		av_unchecked(r, "stream: not checked: %s", err);
		return NULL;
	}
	return c;
}

static void summarise(struct scan *s, int whole)
{
	json_t *st = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "host", s->host, "checked", whole,
			       "entries", (json_int_t)s->entries, "records", (json_int_t)s->n, "first_seq",
			       (json_int_t)(s->n ? s->recs[0].seq : 0), "last_seq", (json_int_t)(s->n ? s->recs[s->n - 1].seq : 0),
			       "forged", (json_int_t)s->forged, "unsigned", (json_int_t)s->unsigned_, "net_records",
			       (json_int_t)s->net);
	char fp[FINGERPRINT_MAX];

	kh_fingerprint(s->pk, fp);
	json_object_set_new(st, "key_fingerprint", json_string(fp));
	json_object_set_new(s->r->out, "stream", st);
	json_object_set_new(s->r->out, "stream_checked", json_boolean(whole && s->n > 0));
	av_say(s->r, "stream %s: %" PRIu64 " entries read; %zu records signed by %s's key %s, seq %" PRIu64 "-%" PRIu64,
	       STREAM, s->entries, s->n, s->host, fp, s->n ? s->recs[0].seq : 0, s->n ? s->recs[s->n - 1].seq : 0);
	if (s->forged || s->unsigned_)
		av_note(s->r, "stream: %" PRIu64 " entries claim to be %s's but are not signed by its key (%" PRIu64
			" with a bad signature, %" PRIu64 " with none; the first at id %s): forged, ignored", s->forged +
			s->unsigned_, s->host, s->forged, s->unsigned_, s->first_forged);
	if (s->net)
		av_note(s->r, "stream: %" PRIu64 " records by %s's net (refusals before its root helper saw the task) "
			"carry no host signature: only net vouches for them", s->net, s->host);
	if (whole && s->n == 0)
		av_unchecked(s->r, "stream: no record signed by %s's key is in the stream (trimmed, deleted, or never "
			     "copied): nothing to check", s->host);
}

void av_check_stream(struct av *r, struct cli_opts *o, const char *host, const char *keyfile,
		     const struct av_file *f)
{
	struct scan s = { .r = r, .host = host };
	redisContext *c;
	int whole;

	if (stream_key(&s, keyfile, f) < 0)
		return;
	if ((c = connect_broker(o, r)) == NULL)
		return;
	whole = read_all(&s, c) == 0;
	cr_rconn_free(c);
	if (whole)
		order(&s);
	summarise(&s, whole);
	if (whole && f && f->checked && s.n)
		overlap(&s, f);
	else if (whole && f && !f->checked && s.n)
		av_unchecked(r, "the file was not checked whole: it was not compared with the stream");
	free(s.recs);
}
