/* Between broker.c (the URL) and broker_tls.c (its TLS settings). */
#ifndef CR_BROKER_INT_H
#define CR_BROKER_INT_H

#include "crconfig.h"

/* ssl_cert_reqs: 1 verify (required, optional), 0 none, -1 not a value. */
int cr_broker_tls_reqs(const char *v);
/* A URL's query (after '?'): kombu's ssl_* parameters into t. */
int cr_broker_tls_query(const char *q, struct broker_tls *t, char *err, size_t errlen);
/* Did the URL set any ssl_* parameter? */
int cr_broker_tls_any(const struct broker_tls *t);
/* [broker] ssl and ssl_* where the URL left them unset. */
void cr_broker_tls_merge(struct broker_tls *t, const struct cr_config *c);
/* Defaults for what is still unset; the name to verify is the URL's host. */
void cr_broker_tls_finish(struct broker_addr *b);

#endif
