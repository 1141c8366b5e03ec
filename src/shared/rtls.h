/* TLS to the broker under hiredis 0.14's own reader and formatter (Debian's
 * hiredis has no TLS): hiredis makes the TCP connection, OpenSSL does the
 * handshake on its descriptor, and rconn.c moves bytes through the SSL
 * object instead of read()/write() (docs/DESIGN.md, "TLS to the broker").
 *
 * One SSL_CTX per process (a process talks to one broker configuration),
 * built from PEM bytes in memory, so that net can build it from what
 * celeryrootd read as root and never opens a certificate or key file. */
#ifndef CR_RTLS_H
#define CR_RTLS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "crconfig.h"

/* No single PEM file we read may be larger than this (the system bundle is
 * about 220 KiB). */
#define CR_TLS_PEM_MAX (2u * 1024 * 1024)

/* The PEM bytes of the CA bundle, client certificate and key (len 0: none). */
struct cr_tls_pem {
	char *ca, *cert, *key;
	size_t ca_len, cert_len, key_len;
};

/* Reads t's files (ca_certs, or the system bundle; certfile and keyfile when
 * set).  -1 with a one-line error naming the file and what to do. */
int cr_tls_pem_load(const struct broker_tls *t, struct cr_tls_pem *pem, char *err, size_t errlen);
/* Wipes (the key) and frees what cr_tls_pem_load or cr_netboot_read gave. */
void cr_tls_pem_free(struct cr_tls_pem *pem);
/* Builds the process's SSL_CTX from pem (NULL: reads t's files itself).
 * -1 with a one-line error naming the file.  With t->verify 0 it logs the
 * opt-out once.  Called again it replaces the context. */
int cr_tls_setup(const struct broker_tls *t, const struct cr_tls_pem *pem, char *err, size_t errlen);
/* Has cr_tls_setup built the process's context? */
int cr_tls_ready(void);
/* Parses pem as cr_tls_setup would, without keeping anything: celeryrootd
 * checks the files as root before net is started. */
int cr_tls_check(const struct broker_tls *t, const struct cr_tls_pem *pem, char *err, size_t errlen);
/* Handshakes on c's connected socket within timeout_s, checking the chain
 * and that the certificate names name (a DNS name, or an address when name
 * is numeric).  The socket is left non-blocking.  -1 with a one-line reason. */
int cr_tls_attach(redisContext *c, const char *name, double timeout_s, char *err, size_t errlen);
/* Is c a TLS connection (cr_tls_attach succeeded on it)? */
int cr_tls_on(const redisContext *c);
/* Reads what has arrived into c's reader, stopping once more than limit
 * bytes are waiting there; REDIS_OK (perhaps with nothing read) or
 * REDIS_ERR with c->err set. */
int cr_tls_read(redisContext *c, size_t limit);
/* Writes as much of c->obuf as the socket takes: REDIS_OK with *done once
 * it is empty, or REDIS_ERR with c->err set.  *want_read tells the caller
 * what to wait for when not done (a renegotiating peer). */
int cr_tls_write(redisContext *c, int *done, int *want_read);
/* Writes all of c->obuf, waiting for the socket (a TLS socket is
 * non-blocking) at most timeout_s, as a blocking write would. */
int cr_tls_flush(redisContext *c, double timeout_s);
/* Decrypted bytes held inside OpenSSL: the socket may be quiet while a
 * reply is already here, so waits look at this before poll(). */
int cr_tls_pending(const redisContext *c);
/* Sends close_notify (best effort) and forgets c's SSL object. */
void cr_tls_detach(redisContext *c);

#endif
