/* Shared between rtls_ctx.c (the context) and rtls.c (the sessions). */
#ifndef CR_RTLS_INT_H
#define CR_RTLS_INT_H

#include <openssl/ssl.h>

/* The process's context (cr_tls_setup); NULL until then. */
extern SSL_CTX *cr_tls_ctx;

#endif
