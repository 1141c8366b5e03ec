/* TLS sessions on hiredis contexts (rtls.h): the handshake on the socket
 * hiredis connected, then bytes through SSL_read/SSL_write in place of
 * hiredis's read()/write().  hiredis 0.14 has no user data on a context,
 * so each SSL object sits in a small table keyed by the context. */
#include "config.h"
#include "rtls.h"
#include "rtls_int.h"
#include "rconn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <hiredis/sds.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

/* A process holds a handful of broker connections (net: the link's few;
 * the CLI: one or two); a full table refuses a new one rather than grow. */
#define RTLS_SLOTS 64
#define RTLS_CHUNK 16384   /* one TLS record's plaintext */

static struct {
	const redisContext *c;
	SSL *ssl;
	int answered;   /* the broker has sent application data */
} slots[RTLS_SLOTS];

static int slot_of(const redisContext *c)
{
	for (int i = 0; c && i < RTLS_SLOTS; i++)
		if (slots[i].c == c)
			return i;
	return -1;
}

static SSL *ssl_of(const redisContext *c)
{
	int i = slot_of(c);

	return i < 0 ? NULL : slots[i].ssl;
}

static void tls_fail(redisContext *c, int code, const char *prefix, const char *what)
{
	c->err = code;
	snprintf(c->errstr, sizeof(c->errstr), "%s%s", prefix, what);
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1 ready, 0 deadline passed, -1 poll failed. */
static int wait_for(int fd, short ev, double deadline)
{
	for (;;) {
		double left = deadline - mono();
		struct pollfd p = { .fd = fd, .events = ev };
		if (left <= 0)
			return 0;
		int n = poll(&p, 1, (int)(left * 1000) + 1);
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -1 : n > 0 ? 1 : 0;
	}
}

static int name_is_ip(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

/* The name the certificate must carry: a DNS name (SNI too) or an address. */
static int set_peer_name(SSL *ssl, const char *name)
{
	X509_VERIFY_PARAM *p = SSL_get0_param(ssl);
	int ip = name_is_ip(name);

	X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (ip)
		return X509_VERIFY_PARAM_set1_ip_asc(p, name) == 1 ? 0 : -1;
	return X509_VERIFY_PARAM_set1_host(p, name, 0) == 1 && SSL_set_tlsext_host_name(ssl, name) == 1 ? 0 : -1;
}

/* Why a handshake failed, as one line that says what to change. */
static void handshake_error(SSL *ssl, const char *name, char *err, size_t errlen)
{
	long v = SSL_get_verify_result(ssl);
	char reason[160] = "the connection closed";
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	if (v != X509_V_OK)
		snprintf(err, errlen, "TLS: the broker's certificate for '%s' was refused: %s (put the CA that signed it "
			 "in ssl_ca_certs, and use a host name the certificate carries)", name,
			 X509_verify_cert_error_string(v));
	else
		snprintf(err, errlen, "TLS handshake with the broker failed: %s (does that port speak TLS, "
			 "redis-server --tls-port? does it want a client certificate, ssl_certfile?)", reason);
}

static int handshake(SSL *ssl, int fd, const char *name, double deadline, char *err, size_t errlen)
{
	for (;;) {
		int r = SSL_connect(ssl), w;
		if (r == 1)
			return 0;
		int e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			w = wait_for(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
			if (w > 0)
				continue;
			snprintf(err, errlen, "TLS handshake with the broker %s: check that the port speaks TLS",
				 w == 0 ? "timed out" : "failed (poll)");
			return -1;
		}
		handshake_error(ssl, name, err, errlen);
		return -1;
	}
}

int cr_tls_attach(redisContext *c, const char *name, double timeout_s, char *err, size_t errlen)
{
	int slot = -1, fl;
	SSL *ssl;

	for (int i = 0; i < RTLS_SLOTS && slot < 0; i++)
		if (slots[i].c == NULL)
			slot = i;
	if (cr_tls_ctx == NULL || slot < 0)
		return snprintf(err, errlen, "%s", cr_tls_ctx ? "too many TLS connections in one process"
							     : "TLS was not set up before connecting (a bug)"), -1;
	ssl = SSL_new(cr_tls_ctx);
	/* Non-blocking from here on: a half-arrived record must not stall the
	 * process until the socket's timeout (rconn waits with poll instead). */
	fl = fcntl(c->fd, F_GETFL);
	if (ssl == NULL || fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0 || SSL_set_fd(ssl, c->fd) != 1 ||
	    set_peer_name(ssl, name) < 0) {
		SSL_free(ssl);
		ERR_clear_error();
		return snprintf(err, errlen, "cannot start TLS to '%s' (a bad host name, or out of memory)", name), -1;
	}
	if (handshake(ssl, c->fd, name, mono() + timeout_s, err, errlen) < 0) {
		SSL_free(ssl);
		return -1;
	}
	slots[slot].c = c;
	slots[slot].ssl = ssl;
	slots[slot].answered = 0;
	return 0;
}

int cr_tls_on(const redisContext *c)
{
	return ssl_of(c) != NULL;
}

/* A TLS error as c's reason (hiredis keeps 128 bytes of it): the peer
 * closed, or OpenSSL's short reason.  TLS 1.3 lets a client finish its
 * handshake before the server has checked the client's certificate, so a
 * refusal shows up at the first read: as an alert, or as the connection
 * closing (often reset, the alert lost); before any answer, say so. */
static int io_error(redisContext *c, SSL *ssl, int r)
{
	int e = SSL_get_error(ssl, r), i = slot_of(c);
	int fresh = i >= 0 && !slots[i].answered;
	const char *why = NULL;

	if (!(e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)))
		why = ERR_reason_error_string(ERR_peek_error());
	ERR_clear_error();
	if (why == NULL && !fresh) {
		tls_fail(c, REDIS_ERR_EOF, "", "Server closed the connection");
		return REDIS_ERR;
	}
	c->err = why ? REDIS_ERR_IO : REDIS_ERR_EOF;
	snprintf(c->errstr, sizeof(c->errstr), "TLS: %.80s%s", why ? why : "the broker hung up before answering",
		 fresh ? " (does it take our ssl_certfile?)" : "");
	return REDIS_ERR;
}

int cr_tls_read(redisContext *c, size_t limit)
{
	int slot = slot_of(c);
	SSL *ssl = slot < 0 ? NULL : slots[slot].ssl;
	char buf[RTLS_CHUNK];

	if (ssl == NULL)
		return REDIS_ERR;
	/* Until the socket has nothing more, or the reply is past the bound
	 * (the caller then ends the connection). */
	while (c->reader->len - c->reader->pos <= limit) {
		int n = SSL_read(ssl, buf, sizeof(buf));
		if (n <= 0) {
			int e = SSL_get_error(ssl, n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return REDIS_OK;
			return io_error(c, ssl, n);
		}
		slots[slot].answered = 1;
		if (redisReaderFeed(c->reader, buf, (size_t)n) != REDIS_OK) {
			tls_fail(c, REDIS_ERR_PROTOCOL, "", c->reader->errstr);
			return REDIS_ERR;
		}
	}
	return REDIS_OK;
}

int cr_tls_write(redisContext *c, int *done, int *want_read)
{
	SSL *ssl = ssl_of(c);
	size_t len = c->obuf ? sdslen(c->obuf) : 0;

	*done = 0;
	*want_read = 0;
	if (ssl == NULL)
		return REDIS_ERR;
	if (len > 0) {
		int n = SSL_write(ssl, c->obuf, len > INT_MAX ? INT_MAX : (int)len);
		if (n <= 0) {
			int e = SSL_get_error(ssl, n);
			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
				*want_read = e == SSL_ERROR_WANT_READ;
				return REDIS_OK;
			}
			return io_error(c, ssl, n);
		}
		sdsrange(c->obuf, n, -1);
	}
	*done = sdslen(c->obuf) == 0;
	return REDIS_OK;
}

int cr_tls_flush(redisContext *c, double timeout_s)
{
	double deadline = mono() + timeout_s;
	int done = 0, want_read = 0;

	while (cr_tls_write(c, &done, &want_read) == REDIS_OK) {
		if (done)
			return REDIS_OK;
		int w = wait_for(c->fd, want_read ? POLLIN : POLLOUT, deadline);
		if (w <= 0) {
			tls_fail(c, w == 0 ? RCONN_ERR_TIMEOUT : REDIS_ERR_IO, "",
				 w == 0 ? "the broker took nothing we sent in time" : "poll failed");
			return REDIS_ERR;
		}
	}
	return REDIS_ERR;
}

int cr_tls_pending(const redisContext *c)
{
	SSL *ssl = ssl_of(c);

	return ssl != NULL && SSL_pending(ssl) > 0;
}

void cr_tls_detach(redisContext *c)
{
	for (int i = 0; c && i < RTLS_SLOTS; i++) {
		if (slots[i].c != c)
			continue;
		/* One try at close_notify: the socket is non-blocking and about to close. */
		if (c->err == 0)
			SSL_shutdown(slots[i].ssl);
		SSL_free(slots[i].ssl);
		ERR_clear_error();
		slots[i].c = NULL;
		slots[i].ssl = NULL;
	}
}
