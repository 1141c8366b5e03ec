/* kombu's sentinel:// URLs: 'sentinel://[[user]:password@]host[:port][/db]'
 * parts joined by ';', the master's name from '?master_name=NAME' (or the
 * config's [broker] master_name).  Each part is read by the redis:// parser,
 * so a sentinel's host and port obey the same rules as a broker's. */
#include "config.h"
#include "sentinel.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define SCHEME "sentinel://"
#define SCHEME_LEN (sizeof(SCHEME) - 1)

int cr_sentinel_is_url(const char *url)
{
	return url != NULL && strncmp(url, SCHEME, SCHEME_LEN) == 0;
}

/* A master name as Sentinel's config takes it: no spaces, nothing to quote. */
static int name_ok(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/* '?master_name=NAME': the only option a sentinel URL takes. */
static int parse_query(const char *q, size_t len, struct broker_addr *b, char *err, size_t errlen)
{
	static const char key[] = "master_name=";
	size_t klen = sizeof(key) - 1;

	if (len < klen || strncmp(q, key, klen) != 0) {
		snprintf(err, errlen, "sentinel URL: the only option is ?master_name=NAME (got '?%.*s')",
			 (int)(len > 40 ? 40 : len), q);
		return -1;
	}
	if (len - klen >= sizeof(b->master_name) || !name_ok(q + klen, len - klen)) {
		snprintf(err, errlen, "sentinel URL: master_name must be 1..%zu letters, digits, '.', '-' or '_'",
			 sizeof(b->master_name) - 1);
		return -1;
	}
	memcpy(b->master_name, q + klen, len - klen);
	b->master_name[len - klen] = '\0';
	return 0;
}

/* Whether host[:port] (after any userinfo) names a port: kombu's default
 * for a sentinel is 26379, not Redis's 6379. */
static int has_port(const char *body, size_t len)
{
	const char *slash = memchr(body, '/', len);
	size_t alen = slash ? (size_t)(slash - body) : len;
	const char *at = memrchr(body, '@', alen);
	const char *hp = at ? at + 1 : body, *end = body + alen;
	const char *close = memchr(hp, ']', (size_t)(end - hp));

	if (close)
		hp = close;
	return memchr(hp, ':', (size_t)(end - hp)) != NULL;
}

/* One 'host:port[/db]' part, sentinel:// already taken off. */
static int parse_part(const char *body, size_t len, struct broker_addr *b, char *err, size_t errlen)
{
	char one_url[600];
	struct broker_addr one;
	struct broker_endpoint *s;

	if (b->nsentinels >= BROKER_SENTINELS_MAX) {
		snprintf(err, errlen, "sentinel URL: at most %d sentinels", BROKER_SENTINELS_MAX);
		return -1;
	}
	if (len + 9 >= sizeof(one_url)) {
		snprintf(err, errlen, "sentinel URL: a part is too long");
		return -1;
	}
	snprintf(one_url, sizeof(one_url), "redis://%.*s", (int)len, body);
	if (cr_broker_parse_url(one_url, &one, err, errlen) < 0)
		return -1;
	s = &b->sentinels[b->nsentinels++];
	cr_copy_str(s->host, sizeof(s->host), one.host);
	s->port = has_port(body, len) ? one.port : SENTINEL_DEFAULT_PORT;
	/* The credentials are the master's (kombu): the first part giving any. */
	if (one.password[0] && !b->password[0]) {
		cr_copy_str(b->user, sizeof(b->user), one.user);
		cr_copy_str(b->password, sizeof(b->password), one.password);
	}
	if (one.db)
		b->db = one.db;
	return 0;
}

int cr_sentinel_parse_url(const char *url, struct broker_addr *b, char *err, size_t errlen)
{
	const char *p = url;

	for (;;) {
		const char *semi = strchr(p, ';');
		size_t len = semi ? (size_t)(semi - p) : strlen(p);
		const char *q;

		if (len < SCHEME_LEN || strncmp(p, SCHEME, SCHEME_LEN) != 0) {
			snprintf(err, errlen, "sentinel URL: every part starts with sentinel:// "
				 "(sentinel://host:26379;sentinel://host2:26379?master_name=NAME)");
			return -1;
		}
		p += SCHEME_LEN;
		len -= SCHEME_LEN;
		q = memchr(p, '?', len);
		if (q && parse_query(q + 1, len - (size_t)(q - p) - 1, b, err, errlen) < 0)
			return -1;
		if (parse_part(p, q ? (size_t)(q - p) : len, b, err, errlen) < 0)
			return -1;
		if (semi == NULL)
			return 0;
		p = semi + 1;
	}
}

int cr_sentinel_from_config(const struct cr_config *c, struct broker_addr *b, const char *url, char *url_out,
			    size_t url_len, char *err, size_t errlen)
{
	if (b->master_name[0] == '\0')
		cr_copy_str(b->master_name, sizeof(b->master_name), c->master_name);
	if (b->master_name[0] == '\0') {
		snprintf(err, errlen, "sentinel URL without a master name: add ?master_name=NAME to it "
			 "or 'master_name = NAME' under [broker] in the config");
		return -1;
	}
	cr_copy_str(b->sentinel_password, sizeof(b->sentinel_password), c->sentinel_password);
	cr_sentinel_mask_url(url, url_out, url_len);
	return 0;
}

void cr_sentinel_mask_url(const char *url, char *out, size_t len)
{
	size_t o = 0;

	if (len == 0)
		return;
	out[0] = '\0';
	for (const char *p = url; *p && o + 1 < len;) {
		const char *semi = strchr(p, ';');
		size_t plen = semi ? (size_t)(semi - p) + 1 : strlen(p);
		const char *start = p + (strncmp(p, SCHEME, SCHEME_LEN) == 0 ? SCHEME_LEN : 0);
		const char *at = memrchr(start, '@', strcspn(start, "/?;"));   /* in this part's authority */
		int n;

		if (at) {
			/* Keep the user name, hide the password (a lone word is one). */
			const char *colon = memchr(start, ':', (size_t)(at - start));
			const char *keep = colon ? colon + 1 : start;
			n = snprintf(out + o, len - o, "%.*s***%.*s", (int)(keep - p), p,
				     (int)(plen - (size_t)(at - p)), at);
		} else {
			n = snprintf(out + o, len - o, "%.*s", (int)plen, p);
		}
		if (n < 0 || (size_t)n >= len - o)
			return;
		o += (size_t)n;
		p += plen;
	}
}

int cr_sentinel_resolve(struct broker_addr *b, char *err, size_t errlen)
{
	for (int i = 0; i < b->nsentinels; i++) {
		struct broker_endpoint *s = &b->sentinels[i];
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
		int rc = getaddrinfo(s->host, NULL, &hints, &res);

		if (rc == 0 && res != NULL)
			rc = getnameinfo(res->ai_addr, res->ai_addrlen, s->host, sizeof(s->host), NULL, 0,
					 NI_NUMERICHOST);
		if (res)
			freeaddrinfo(res);
		if (rc != 0) {
			snprintf(err, errlen, "cannot resolve sentinel host '%s': %s (check the sentinel:// URL)", s->host,
				 gai_strerror(rc));
			return -1;
		}
	}
	return 0;
}
