/* The broker address: redis:// URLs, which one wins (flag, environment,
 * configuration, default), and resolving it once up front. */
#include "config.h"
#include "crconfig.h"
#include "broker_int.h"
#include "sentinel.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int url_chars_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

static int parse_userinfo(const char *ui, size_t len, struct broker_addr *b, char *err, size_t errlen)
{
	const char *colon = memchr(ui, ':', len);
	size_t ulen = colon ? (size_t)(colon - ui) : len;

	if (ulen >= sizeof(b->user) || (colon && (size_t)(len - ulen - 1) >= sizeof(b->password))) {
		snprintf(err, errlen, "broker URL: user or password too long");
		return -1;
	}
	memcpy(b->user, ui, ulen);
	b->user[ulen] = '\0';
	if (colon) {
		memcpy(b->password, colon + 1, len - ulen - 1);
		b->password[len - ulen - 1] = '\0';
	} else {
		/* redis://secret@host: a lone word is the password, as redis-py reads it. */
		cr_copy_str(b->password, sizeof(b->password), b->user);
		b->user[0] = '\0';
	}
	return 0;
}

/* A name or IPv4 address, or inside [] an IPv6 address (with an optional
 * %zone): nothing that could smuggle another URL part into getaddrinfo. */
static int host_chars_ok(const char *h, size_t len, int ipv6)
{
	for (size_t i = 0; i < len; i++) {
		char c = h[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && c != '.' && c != '-' && c != '_' && !(ipv6 && (c == ':' || c == '%')))
			return 0;
	}
	return 1;
}

static int parse_number(const char *s, size_t len, long min, long max, long *out)
{
	char buf[16], *end;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (buf[0] < '0' || buf[0] > '9')   /* no sign, no blanks */
		return -1;
	*out = strtol(buf, &end, 10);
	return (*end != '\0' || *out < min || *out > max) ? -1 : 0;
}

static int parse_hostport(const char *hp, size_t len, struct broker_addr *b, char *err, size_t errlen)
{
	const char *port = NULL, *hend = hp + len, *all_end = hp + len;
	int bracketed = len > 0 && hp[0] == '[';
	long v;

	if (bracketed) {
		const char *close = memchr(hp, ']', len);
		if (close == NULL)
			goto bad;
		if (close + 1 < hend && close[1] != ':')
			goto bad;
		port = close + 1 < hend ? close + 2 : NULL;
		hend = close;
		hp++;
	} else {
		port = memchr(hp, ':', len);
		if (port)
			hend = port++;
	}
	if (hend <= hp || (size_t)(hend - hp) >= sizeof(b->host) || !host_chars_ok(hp, (size_t)(hend - hp), bracketed))
		goto bad;
	memcpy(b->host, hp, (size_t)(hend - hp));
	b->host[hend - hp] = '\0';
	b->port = 6379;
	if (port && parse_number(port, (size_t)(all_end - port), 1, 65535, &v) < 0) {
		snprintf(err, errlen, "broker URL: port must be 1..65535");
		return -1;
	}
	if (port)
		b->port = (int)v;
	return 0;
bad:
	snprintf(err, errlen, "broker URL: bad host (use redis://host:port/db, or [ipv6]:port)");
	return -1;
}

/* redis:// or rediss:// (TLS); the length of the scheme, 0 for neither. */
static size_t url_scheme(const char *url, struct broker_addr *b, char *err, size_t errlen)
{
	const char *colon;

	if (strncmp(url, "redis://", 8) == 0)
		return 8;
	if (strncmp(url, "rediss://", 9) == 0) {
		b->tls.on = 1;
		return 9;
	}
	colon = strstr(url, "://");
	if (colon == NULL)
		snprintf(err, errlen, "broker URL '%.80s' has no scheme: use redis://host:port/db", url);
	else
		snprintf(err, errlen, "unsupported broker URL scheme '%.*s': celeryroot speaks Redis only "
			 "(redis://host:port/db, rediss:// for TLS, or sentinel://host:26379;sentinel://...)",
			 (int)(colon - url < 20 ? colon - url : 20), url);
	return 0;
}

/* The URL as parsed, TLS settings it left unset still unset (verify -1). */
static int broker_parse(const char *url, struct broker_addr *b, char *err, size_t errlen)
{
	char buf[512];
	const char *rest, *slash, *at, *q;
	size_t skip;
	long db = 0;

	memset(b, 0, sizeof(*b));
	b->tls.verify = -1;
	if (url == NULL || strnlen(url, 512) >= 512 || !url_chars_ok(url)) {
		snprintf(err, errlen, "broker URL is too long or has spaces or control characters");
		return -1;
	}
	if (cr_sentinel_is_url(url))
		return cr_sentinel_parse_url(url, b, err, errlen);
	if ((skip = url_scheme(url, b, err, errlen)) == 0)
		return -1;
	/* The query (kombu's ssl_* parameters) first, then the rest without it. */
	cr_copy_str(buf, sizeof(buf), url + skip);
	if ((q = strchr(buf, '?')) != NULL) {
		if (cr_broker_tls_query(q + 1, &b->tls, err, errlen) < 0)
			return -1;
		buf[q - buf] = '\0';
	}
	rest = buf;
	slash = strchr(rest, '/');
	at = memrchr(rest, '@', slash ? (size_t)(slash - rest) : strlen(rest));
	if (at && parse_userinfo(rest, (size_t)(at - rest), b, err, errlen) < 0)
		return -1;
	if (at)
		rest = at + 1;
	if (parse_hostport(rest, slash ? (size_t)(slash - rest) : strlen(rest), b, err, errlen) < 0)
		return -1;
	if (slash && slash[1] != '\0' && parse_number(slash + 1, strlen(slash + 1), 0, 15, &db) < 0) {
		snprintf(err, errlen, "broker URL: database must be a number 0..15");
		return -1;
	}
	b->db = (int)db;
	return 0;
}

int cr_broker_parse_url(const char *url, struct broker_addr *b, char *err, size_t errlen)
{
	if (broker_parse(url, b, err, errlen) < 0)
		return -1;
	cr_broker_tls_finish(b);
	return 0;
}

/* The URL as shown to people: the password replaced by ***. */
static void mask_url(const char *url, const struct broker_addr *b, char *out, size_t len)
{
	if (b->password[0] == '\0' || strchr(url, '@') == NULL) {
		cr_copy_str(out, len, url);
		return;
	}
	/* An IPv6 address needs its brackets back, or the port would read as
	 * part of it. */
	const char *scheme = strncmp(url, "rediss://", 9) == 0 ? "rediss" : "redis";
	if (strchr(b->host, ':'))
		snprintf(out, len, "%s://%s:***@[%s]:%d/%d", scheme, b->user, b->host, b->port, b->db);
	else
		snprintf(out, len, "%s://%s:***@%s:%d/%d", scheme, b->user, b->host, b->port, b->db);
}

void cr_broker_mask(const char *url, char *out, size_t len)
{
	struct broker_addr b;
	char why[200];

	/* What cannot be parsed is not shown at all: it might be all password. */
	if (cr_broker_parse_url(url, &b, why, sizeof(why)) < 0)
		cr_copy_str(out, len, "(an unreadable URL)");
	else if (b.nsentinels > 0)
		cr_sentinel_mask_url(url, out, len);
	else
		mask_url(url, &b, out, len);
	explicit_bzero(&b, sizeof(b));
}

/* Built from the fields, not from any URL text, so that no password can
 * reach it: the password shows only as ***. */
void cr_broker_describe(const struct broker_addr *b, char *out, size_t len)
{
	char host[300], where[512], mode[200];

	/* An IPv6 address needs its brackets, or the port would read as part of it.
	 * Sentinel before a master is known: the first sentinel asked. */
	const struct broker_endpoint *e = b->nsentinels > 0 && b->host[0] == '\0' ? &b->sentinels[0] : NULL;
	const char *h = e ? e->host : b->host;
	snprintf(host, sizeof(host), strchr(h, ':') ? "[%s]:%d%s" : "%s:%d%s", h, e ? e->port : b->port,
		 e && b->nsentinels > 1 ? ";..." : "");
	snprintf(where, sizeof(where), "%s://%s%s%s%s/%d", e ? "sentinel" : b->tls.on ? "rediss" : "redis", b->user,
		 b->password[0] ? ":***" : "", b->user[0] || b->password[0] ? "@" : "", host, b->db);
	if (b->nsentinels > 0)
		snprintf(mode, sizeof(mode), "Sentinel master %s via %d sentinel%s%s", b->master_name, b->nsentinels,
			 b->nsentinels == 1 ? "" : "s", !b->tls.on ? "" : b->tls.verify ? ", TLS verify on" : ", TLS verify off");
	else if (b->tls.on)
		snprintf(mode, sizeof(mode), "TLS verify %s", b->tls.verify ? "on" : "off");
	else
		cr_copy_str(mode, sizeof(mode), "plain");
	snprintf(out, len, "%s as user %s, %s", where, b->user[0] ? b->user : "default", mode);
}

int cr_broker_from(const char *explicit_url, const struct cr_config *c, struct broker_addr *b,
		char *url_out, size_t url_len, char *err, size_t errlen)
{
	const char *env = getenv("CELERYROOT_BROKER_URL");
	const char *url = explicit_url ? explicit_url
			  : env && env[0] ? env
			  : c->broker_url[0] ? c->broker_url : BROKER_DEFAULT_URL;

	if (broker_parse(url, b, err, errlen) < 0)
		return -1;
	int url_tls = cr_broker_tls_any(&b->tls);
	cr_broker_tls_merge(&b->tls, c);
	/* ssl_* in a clear-text URL is a mistake, not a request for TLS. */
	if (!b->tls.on && url_tls)
		return snprintf(err, errlen, "broker URL has ssl_* parameters but is not rediss://: use rediss:// "
				"(or [broker] ssl = true)"), -1;
	cr_broker_tls_finish(b);
	/* The config's credentials apply only to a URL that carries none; the
	 * file is read only then, so a URL with its own password works even
	 * where the configured file cannot be read. */
	if (b->password[0] == '\0' && c->broker_password_file[0] != '\0') {
		if (cr_password_file_read(c->broker_password_file, c->password_file_strict, b->password,
					  sizeof(b->password), err, errlen) < 0)
			return -1;
		cr_copy_str(b->user, sizeof(b->user), c->broker_user);
	} else if (b->password[0] == '\0' && c->broker_password[0] != '\0') {
		cr_copy_str(b->user, sizeof(b->user), c->broker_user);
		cr_copy_str(b->password, sizeof(b->password), c->broker_password);
	}
	if (b->nsentinels > 0)
		return cr_sentinel_from_config(c, b, url, url_out, url_len, err, errlen);
	mask_url(url, b, url_out, url_len);
	return 0;
}

int cr_broker_resolve(struct broker_addr *b, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	int rc;

	if (b->nsentinels > 0)
		return cr_sentinel_resolve(b, err, errlen);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(b->host, NULL, &hints, &res);
	if (rc != 0 || res == NULL) {
		snprintf(err, errlen, "cannot resolve broker host '%s': %s", b->host, gai_strerror(rc));
		return -1;
	}
	rc = getnameinfo(res->ai_addr, res->ai_addrlen, b->host, sizeof(b->host), NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve broker host: %s", gai_strerror(rc));
		return -1;
	}
	return 0;
}
