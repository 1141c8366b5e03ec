/* The TLS context: reading the PEM files and building one SSL_CTX from
 * their bytes in memory (rtls.h).  The sessions are in rtls.c. */
#include "config.h"
#include "rtls.h"
#include "rtls_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

SSL_CTX *cr_tls_ctx;

/* OpenSSL's first queued reason, for the end of a one-line message. */
static const char *ossl_reason(void)
{
	static char buf[160];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "no reason given";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* Reads a whole regular file of at most CR_TLS_PEM_MAX bytes (+1 for a
 * terminating NUL, which the PEM readers do not need but error text may). */
static int read_file(const char *what, const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return snprintf(err, errlen, "%s %s: cannot read it (%s): fix the path or its permissions in the "
				"broker URL or [broker]", what, path, strerror(errno)), -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || (size_t)st.st_size > CR_TLS_PEM_MAX) {
		close(fd);
		return snprintf(err, errlen, "%s %s: not a regular PEM file of 1 byte to %u KiB: give the PEM file itself",
				what, path, CR_TLS_PEM_MAX / 1024), -1;
	}
	*out = malloc((size_t)st.st_size + 1);
	while (*out && got < (size_t)st.st_size) {
		ssize_t n = read(fd, *out + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (*out == NULL || got != (size_t)st.st_size) {
		free(*out);
		*out = NULL;
		return snprintf(err, errlen, "%s %s: short read: check the file", what, path), -1;
	}
	(*out)[got] = '\0';
	*len = got;
	return 0;
}

int cr_tls_pem_load(const struct broker_tls *t, struct cr_tls_pem *pem, char *err, size_t errlen)
{
	const char *ca = t->ca_certs[0] ? t->ca_certs : SYSTEM_CA_BUNDLE;

	memset(pem, 0, sizeof(*pem));
	if (t->certfile[0] == '\0' && t->keyfile[0] != '\0')
		return snprintf(err, errlen, "ssl_keyfile %s without ssl_certfile: set both for a client certificate, "
				"or neither", t->keyfile), -1;
	/* With verification off no CA is needed; one that is named is still read. */
	if ((t->verify || t->ca_certs[0]) &&
	    read_file("ssl_ca_certs", ca, &pem->ca, &pem->ca_len, err, errlen) < 0)
		goto fail;
	if (t->certfile[0] && read_file("ssl_certfile", t->certfile, &pem->cert, &pem->cert_len, err, errlen) < 0)
		goto fail;
	/* A key may sit in the certificate file, as Python's ssl allows. */
	const char *key = t->keyfile[0] ? t->keyfile : t->certfile;
	if (key[0] && read_file("ssl_keyfile", key, &pem->key, &pem->key_len, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	cr_tls_pem_free(pem);
	return -1;
}

void cr_tls_pem_free(struct cr_tls_pem *pem)
{
	if (pem->key)
		OPENSSL_cleanse(pem->key, pem->key_len);
	free(pem->ca);
	free(pem->cert);
	free(pem->key);
	memset(pem, 0, sizeof(*pem));
}

/* Every certificate in a PEM bundle into the context's trust store. */
static int load_cas(SSL_CTX *ctx, const struct broker_tls *t, const struct cr_tls_pem *pem, char *err, size_t errlen)
{
	const char *name = t->ca_certs[0] ? t->ca_certs : SYSTEM_CA_BUNDLE;
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	BIO *bio = BIO_new_mem_buf(pem->ca, (int)pem->ca_len);
	X509 *x;
	int n = 0;

	if (bio == NULL)
		return snprintf(err, errlen, "out of memory reading ssl_ca_certs"), -1;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, x) == 1)
			n++;
		X509_free(x);
	}
	ERR_clear_error();   /* the end of the bundle reads as an error */
	BIO_free(bio);
	if (n == 0)
		return snprintf(err, errlen, "ssl_ca_certs %s holds no PEM certificate: give the CA's certificate "
				"(-----BEGIN CERTIFICATE-----)", name), -1;
	return 0;
}

/* The client certificate, any chain after it, and its key. */
static int load_client(SSL_CTX *ctx, const struct broker_tls *t, const struct cr_tls_pem *pem, char *err,
		       size_t errlen)
{
	const char *keyname = t->keyfile[0] ? t->keyfile : t->certfile;
	BIO *bio = BIO_new_mem_buf(pem->cert, (int)pem->cert_len);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k;
	int ok;

	if (x == NULL || SSL_CTX_use_certificate(ctx, x) != 1) {
		X509_free(x);
		BIO_free(bio);
		return snprintf(err, errlen, "ssl_certfile %s: not a PEM certificate (%s): give the client certificate",
				t->certfile, ossl_reason()), -1;
	}
	X509_free(x);
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1)
			X509_free(x);
	ERR_clear_error();
	BIO_free(bio);
	bio = BIO_new_mem_buf(pem->key, (int)pem->key_len);
	/* No passphrase callback: a daemon cannot type one. */
	k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;
	BIO_free(bio);
	ok = k != NULL && SSL_CTX_use_PrivateKey(ctx, k) == 1 && SSL_CTX_check_private_key(ctx) == 1;
	EVP_PKEY_free(k);
	if (!ok)
		return snprintf(err, errlen, "ssl_keyfile %s: not an unencrypted PEM private key matching ssl_certfile %s "
				"(%s): give the certificate's own key", keyname, t->certfile, ossl_reason()), -1;
	return 0;
}

static SSL_CTX *ctx_build(const struct broker_tls *t, const struct cr_tls_pem *pem, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return snprintf(err, errlen, "cannot set up TLS: %s", ossl_reason()), NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Partial writes: rconn writes from hiredis's buffer, which it trims. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(ctx, t->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	if ((pem->ca_len > 0 && load_cas(ctx, t, pem, err, errlen) < 0) ||
	    (pem->cert_len > 0 && load_client(ctx, t, pem, err, errlen) < 0)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static SSL_CTX *ctx_from(const struct broker_tls *t, const struct cr_tls_pem *pem, char *err, size_t errlen)
{
	struct cr_tls_pem own;
	SSL_CTX *ctx;

	if (pem)
		return ctx_build(t, pem, err, errlen);
	if (cr_tls_pem_load(t, &own, err, errlen) < 0)
		return NULL;
	ctx = ctx_build(t, &own, err, errlen);
	cr_tls_pem_free(&own);
	return ctx;
}

int cr_tls_ready(void)
{
	return cr_tls_ctx != NULL;
}

int cr_tls_check(const struct broker_tls *t, const struct cr_tls_pem *pem, char *err, size_t errlen)
{
	SSL_CTX *ctx = ctx_from(t, pem, err, errlen);

	SSL_CTX_free(ctx);
	return ctx ? 0 : -1;
}

int cr_tls_setup(const struct broker_tls *t, const struct cr_tls_pem *pem, char *err, size_t errlen)
{
	SSL_CTX *ctx = ctx_from(t, pem, err, errlen);

	if (ctx == NULL)
		return -1;
	SSL_CTX_free(cr_tls_ctx);
	cr_tls_ctx = ctx;
	if (!t->verify)
		cr_log_msg(LOG_L_ERROR, __func__, "warning: ssl_cert_reqs=none: the broker's certificate is not "
			   "checked, so anyone on the path can pose as it; give ssl_ca_certs instead");
	return 0;
}
