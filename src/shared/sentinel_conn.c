/* Finding the master through the sentinels.  Everything a sentinel or a
 * would-be master answers is hostile: a reply must have the expected shape,
 * an address must be numeric (net has no name service, and a name could
 * point anywhere) and a port 1..65535, before anything connects there. */
#include "config.h"
#include "crerr.h"
#include "rconn.h"
#include "sentinel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADDR_MAX 64   /* the longest numeric address a sentinel may name (IPv6 with zone) */

/* A failed handshake names the sentinel, not "the broker": a sentinel whose
 * certificate our CA did not sign, or one speaking clear text, is not asked
 * anything (the master's address would be its word).  err holds rtls.c's
 * line; its reason (between "refused: "/"failed: " and " (") is kept. */
static void sentinel_tls_error(const struct broker_endpoint *s, char *err, size_t errlen)
{
	static char why[256];   /* static: keeps the stack small; one caller at a time */
	int cert = strstr(err, "certificate for") != NULL;
	const char *r = strstr(err, cert ? "refused: " : "failed: "), *end;

	if (r == NULL)
		r = err;
	else
		r = strchr(r, ' ') + 1;
	end = strstr(r, " (");
	snprintf(why, sizeof(why), "%.*s", end ? (int)(end - r) : (int)strlen(r), r);
	if (cert)
		snprintf(err, errlen, "sentinel %s:%d not trusted, not asked for the master: its TLS certificate was "
			 "refused: %s (put the CA that signed it in ssl_ca_certs; it must carry the address dialled)",
			 s->host, s->port, why);
	else
		snprintf(err, errlen, "sentinel %s:%d not trusted, not asked for the master: TLS handshake failed: %s "
			 "(with ssl = true every sentinel must speak TLS: tls-port in its sentinel.conf)", s->host,
			 s->port, why);
}

/* A sentinel is asked without AUTH unless [broker] sentinel_password is set:
 * the URL's credentials are the master's (kombu), and no SELECT.  With TLS
 * on, the sentinels are spoken to over TLS too (never in clear text), their
 * certificates checked for the address dialled. */
static redisContext *sentinel_dial(const struct broker_addr *b, const struct broker_endpoint *s, double timeout_s,
				   char *err, size_t errlen)
{
	static struct broker_addr as;   /* big (TLS paths); only the password and TLS are set */
	redisContext *c;

	memset(&as, 0, sizeof(as));
	cr_copy_str(as.password, sizeof(as.password), b->sentinel_password);
	as.tls = b->tls;
	as.tls.servername[0] = '\0';
	c = cr_rconn_connect_at(&as, s->host, s->port, timeout_s, err, errlen);
	if (c == NULL && strstr(err, "cannot reach") == err)
		snprintf(err, errlen, "sentinel %s:%d cannot be reached (is redis-sentinel running there? "
			 "check the sentinel:// URL)", s->host, s->port);
	else if (c == NULL && strstr(err, "TLS") != NULL)
		sentinel_tls_error(s, err, errlen);
	else if (c == NULL)   /* refused AUTH: the sentinel's password, not the master's */
		snprintf(err, errlen, "sentinel %s:%d refused our login: check [broker] sentinel_password", s->host,
			 s->port);
	return c;
}

static int numeric_addr_ok(const char *s, size_t len)
{
	char buf[ADDR_MAX];
	unsigned char bin[16];

	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strlen(buf) != len)
		return 0;
	if (inet_pton(AF_INET, buf, bin) == 1)
		return memcmp(bin, "\0\0\0\0", 4) != 0;   /* not 0.0.0.0: "any" is nobody's address */
	if (inet_pton(AF_INET6, buf, bin) == 1)
		return memcmp(bin, (const unsigned char[16]){ 0 }, 16) != 0;
	return 0;
}

static int port_ok(const char *s, size_t len, int *port)
{
	long v = 0;

	if (len == 0 || len > 5)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return 0;
	*port = (int)v;
	return 1;
}

int cr_sentinel_master_reply(const redisReply *r, struct broker_endpoint *m)
{
	if (r->type == REDIS_REPLY_NIL)
		return 0;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
	    r->element[1]->type == REDIS_REPLY_STRING && numeric_addr_ok(r->element[0]->str, r->element[0]->len) &&
	    port_ok(r->element[1]->str, r->element[1]->len, &m->port)) {
		memcpy(m->host, r->element[0]->str, r->element[0]->len);   /* < ADDR_MAX <= sizeof(host) */
		m->host[r->element[0]->len] = '\0';
		return 1;
	}
	return -1;
}

/* Up to 60 bytes of a hostile error reply, printable ASCII only: the
 * reason travels into logs, CLI errors and --json output. */
static void quote_reply(const redisReply *r, char *out, size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	if (r->type != REDIS_REPLY_ERROR || r->str == NULL || len < 3)
		return;
	out[n++] = ':';
	out[n++] = ' ';
	for (size_t i = 0; i < r->len && i < 60 && n + 1 < len; i++)
		out[n++] = r->str[i] >= 0x20 && r->str[i] < 0x7f ? r->str[i] : '?';
	out[n] = '\0';
}

/* SENTINEL get-master-addr-by-name: 1 found, 0 the name is unknown to this
 * sentinel, -1 no usable answer (reason in err). */
static int ask_master(redisContext *sc, const struct broker_addr *b, const struct broker_endpoint *s,
		      struct broker_endpoint *m, char *err, size_t errlen)
{
	redisReply *r = cr_rconn_cmd(sc, "SENTINEL", "get-master-addr-by-name", b->master_name, NULL);
	int rc = -1;

	if (r == NULL) {
		snprintf(err, errlen, "sentinel %s:%d did not answer: %s", s->host, s->port, sc->errstr);
		return -1;
	}
	rc = cr_sentinel_master_reply(r, m);
	if (rc == 0) {
		snprintf(err, errlen, "sentinel %s:%d knows no master named '%s' (check master_name)", s->host, s->port,
			 b->master_name);
	} else if (rc < 0) {
		char why[64];
		quote_reply(r, why, sizeof(why));
		snprintf(err, errlen, "sentinel %s:%d gave a malformed answer for master '%s'%s", s->host, s->port,
			 b->master_name, why);
	}
	freeReplyObject(r);
	return rc;
}

/* ROLE's first element: a master that a failover demoted says "slave". */
static int is_master(redisContext *c, const struct broker_endpoint *m, char *err, size_t errlen)
{
	redisReply *r = cr_rconn_cmd(c, "ROLE", NULL);
	int ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
		 r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "master") == 0;

	if (!ok)
		snprintf(err, errlen, "%s:%d, named master by the sentinels, %s", m->host, m->port,
			 r == NULL ? "did not answer ROLE"
			 : r->type == REDIS_REPLY_ERROR ? "refused ROLE (the ACL user needs +role: see 'celeryroot acl')"
			 : "is not a master (yet): a failover is under way");
	if (r)
		freeReplyObject(r);
	return ok;
}

/* connect() refused by the local host (Landlock, seccomp, a firewall's
 * OUTPUT rule): EACCES or EPERM, as hiredis words them in its errstr. */
static int local_refusal(const char *err)
{
	return strstr(err, strerror(EACCES)) != NULL || strstr(err, strerror(EPERM)) != NULL;
}

/* One sentinel: its master, connected and checked.  NULL with err set. */
static redisContext *via_sentinel(const struct broker_addr *b, const struct broker_endpoint *s, double timeout_s,
				  struct broker_endpoint *m, char *err, size_t errlen)
{
	redisContext *sc = sentinel_dial(b, s, timeout_s, err, errlen), *c;
	int got;

	if (sc == NULL)
		return NULL;
	got = ask_master(sc, b, s, m, err, errlen);
	cr_rconn_free(sc);
	if (got <= 0)
		return NULL;
	c = cr_rconn_connect_at(b, m->host, m->port, timeout_s, err, errlen);
	if (c == NULL && strstr(err, "cannot reach") == err && local_refusal(err))
		/* Our own host said no, not the network: in net, Landlock allows
		 * only the ports the sentinels named when it started. */
		snprintf(err, errlen, "sentinel %s:%d names %s:%d as master, a port this host's policy does not let us "
			 "connect to (net may use only the ports known when celeryrootd started): restart celeryrootd "
			 "if the master really moved there", s->host, s->port, m->host, m->port);
	else if (c == NULL && strstr(err, "cannot reach") == err)   /* not a refused login: say whose address it was */
		snprintf(err, errlen, "sentinel %s:%d names %s:%d as master, which cannot be reached "
			 "(a failover may be under way)", s->host, s->port, m->host, m->port);
	else if (c == NULL && strstr(err, "refused our credentials") != NULL)   /* often a replica without the ACL file */
		snprintf(err, errlen, "%s:%d, named master by sentinel %s:%d, refused our login: check username and "
			 "password, and that every Redis loads the same ACL file (ACLs are not replicated)", m->host,
			 m->port, s->host, s->port);
	if (c != NULL && !is_master(c, m, err, errlen)) {
		cr_rconn_free(c);
		c = NULL;
	}
	return c;
}

redisContext *cr_sentinel_connect(const struct broker_addr *b, double timeout_s, struct broker_endpoint *found,
				  char *err, size_t errlen)
{
	char last[CR_ERR_MAX] = "no sentinel configured";

	for (int i = 0; i < b->nsentinels; i++) {
		struct broker_endpoint m;
		redisContext *c = via_sentinel(b, &b->sentinels[i], timeout_s, &m, last, sizeof(last));
		if (c != NULL) {
			if (found)
				*found = m;
			return c;
		}
	}
	snprintf(err, errlen, "no master '%s' found via %d sentinel(s): %s", b->master_name, b->nsentinels, last);
	return NULL;
}

static int add_port(int *ports, int n, int max, int port)
{
	for (int i = 0; i < n; i++)
		if (ports[i] == port)
			return n;
	if (n < max && port >= 1 && port <= 65535)
		ports[n++] = port;
	return n;
}

/* The "port" field of each entry of SENTINEL replicas (flat key/value arrays). */
static int replica_ports(redisContext *sc, const char *name, int *ports, int n, int max)
{
	redisReply *r = cr_rconn_cmd(sc, "SENTINEL", "replicas", name, NULL);

	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const redisReply *e = r->element[i];
		for (size_t k = 0; e->type == REDIS_REPLY_ARRAY && k + 1 < e->elements; k += 2) {
			int port;
			const redisReply *key = e->element[k], *v = e->element[k + 1];
			if (key->type == REDIS_REPLY_STRING && strcmp(key->str, "port") == 0 &&
			    v->type == REDIS_REPLY_STRING && port_ok(v->str, v->len, &port))
				n = add_port(ports, n, max, port);
		}
	}
	if (r)
		freeReplyObject(r);
	return n;
}

int cr_sentinel_ports(const struct broker_addr *b, double timeout_s, int *ports, int max)
{
	int n = 0;
	char err[CR_ERR_MAX];

	for (int i = 0; i < b->nsentinels; i++)
		n = add_port(ports, n, max, b->sentinels[i].port);
	for (int i = 0; i < b->nsentinels; i++) {
		struct broker_endpoint m;
		redisContext *sc = sentinel_dial(b, &b->sentinels[i], timeout_s, err, sizeof(err));
		if (sc == NULL)
			continue;
		if (ask_master(sc, b, &b->sentinels[i], &m, err, sizeof(err)) == 1) {
			n = add_port(ports, n, max, m.port);
			n = replica_ports(sc, b->master_name, ports, n, max);
			cr_rconn_free(sc);
			break;
		}
		cr_rconn_free(sc);
	}
	return n;
}

const char *cr_sentinel_failover_reply(const redisReply *r)
{
	if (r == NULL || r->type != REDIS_REPLY_ERROR || r->str == NULL)
		return NULL;
	if (strncmp(r->str, "READONLY", 8) == 0)
		return "the broker is a replica now (READONLY): a failover happened; finding the master again";
	if (strncmp(r->str, "MASTERDOWN", 10) == 0)
		return "the broker lost its master (MASTERDOWN): finding the master again";
	return NULL;
}
