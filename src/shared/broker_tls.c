/* TLS settings of the broker address: kombu's ssl_* parameters in a
 * rediss:// URL's query, and the same keys in [broker] (crconfig.h).  The
 * URL's query wins over the configuration, key by key. */
#include "config.h"
#include "crconfig.h"
#include "broker_int.h"

#include <stdio.h>
#include <string.h>

int cr_broker_tls_reqs(const char *v)
{
	/* kombu takes ssl.CERT_* names as well as the short words.  Optional
	 * checks a certificate when one is shown, and a TLS server always
	 * shows one: the same as required for a client. */
	if (!strcmp(v, "required") || !strcmp(v, "CERT_REQUIRED") || !strcmp(v, "optional") ||
	    !strcmp(v, "CERT_OPTIONAL"))
		return 1;
	if (!strcmp(v, "none") || !strcmp(v, "CERT_NONE"))
		return 0;
	return -1;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes [v, v+len) into out (a path may be given as %2Fetc%2F...). */
static int decode(const char *v, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		if (c == '%') {
			if (i + 2 >= len)   /* two hex digits must follow */
				return -1;
			int hi = hexval(v[i + 1]), lo = hexval(v[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

static int set_file(char *dst, size_t len, const char *key, const char *v, char *err, size_t errlen)
{
	if (v[0] != '/' || strlen(v) >= len)
		return snprintf(err, errlen, "broker URL: %s must be an absolute path (at most %zu characters)", key,
				len - 1), -1;
	strcpy(dst, v);
	return 0;
}

static int one_param(const char *k, size_t klen, const char *v, struct broker_tls *t, char *err, size_t errlen)
{
#define IS(name) (klen == strlen(name) && !strncmp(k, name, klen))
	if (IS("ssl_cert_reqs")) {
		if ((t->verify = cr_broker_tls_reqs(v)) < 0)
			return snprintf(err, errlen, "broker URL: ssl_cert_reqs='%.40s': use required, optional or none", v), -1;
		return 0;
	}
	if (IS("ssl_ca_certs"))
		return set_file(t->ca_certs, sizeof(t->ca_certs), "ssl_ca_certs", v, err, errlen);
	if (IS("ssl_certfile"))
		return set_file(t->certfile, sizeof(t->certfile), "ssl_certfile", v, err, errlen);
	if (IS("ssl_keyfile"))
		return set_file(t->keyfile, sizeof(t->keyfile), "ssl_keyfile", v, err, errlen);
#undef IS
	return snprintf(err, errlen, "broker URL: unknown parameter '%.*s' (allowed: ssl_cert_reqs, ssl_ca_certs, "
			"ssl_certfile, ssl_keyfile)", (int)(klen > 40 ? 40 : klen), k), -1;
}

int cr_broker_tls_query(const char *q, struct broker_tls *t, char *err, size_t errlen)
{
	while (*q) {
		const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q);
		const char *eq = memchr(q, '=', (size_t)(end - q));
		char v[PATH_MAX];

		if (eq == NULL || eq == q || decode(eq + 1, (size_t)(end - eq - 1), v, sizeof(v)) < 0)
			return snprintf(err, errlen, "broker URL: bad query '%.60s' (use ?ssl_ca_certs=/path&ssl_cert_reqs=required)",
					q), -1;
		if (one_param(q, (size_t)(eq - q), v, t, err, errlen) < 0)
			return -1;
		q = amp ? amp + 1 : end;
	}
	return 0;
}

int cr_broker_tls_any(const struct broker_tls *t)
{
	return t->verify >= 0 || t->ca_certs[0] || t->certfile[0] || t->keyfile[0];
}

void cr_broker_tls_merge(struct broker_tls *t, const struct cr_config *c)
{
	if (c->broker_ssl > 0)
		t->on = 1;
	if (t->verify < 0)
		t->verify = c->broker_ssl_cert_reqs;
	if (t->ca_certs[0] == '\0')
		cr_copy_str(t->ca_certs, sizeof(t->ca_certs), c->broker_ssl_ca_certs);
	if (t->certfile[0] == '\0')
		cr_copy_str(t->certfile, sizeof(t->certfile), c->broker_ssl_certfile);
	if (t->keyfile[0] == '\0')
		cr_copy_str(t->keyfile, sizeof(t->keyfile), c->broker_ssl_keyfile);
}

void cr_broker_tls_finish(struct broker_addr *b)
{
	/* Verified unless explicitly opted out. */
	if (b->tls.verify < 0)
		b->tls.verify = 1;
	if (b->tls.on && b->tls.servername[0] == '\0')
		cr_copy_str(b->tls.servername, sizeof(b->tls.servername), b->host);
}
