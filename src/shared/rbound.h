/* A bound on the arrays a Redis reply may announce (hiredis 0.14 has none).
 * A reply header "*2147483647" makes hiredis calloc 16 GiB at once, before
 * a single element has arrived, and freeReplyObject then walks every slot:
 * one line from a hostile broker or sentinel took minutes and gigabytes. */
#ifndef CR_RBOUND_H
#define CR_RBOUND_H

#include <hiredis/read.h>
#include <stddef.h>

/* Every array of one reply together may announce at most this many
 * elements (8 bytes of memory each, taken when the header arrives). */
#define CR_RBOUND_ELEMENTS_MAX (1L << 22)

/* Makes r refuse (protocol error "out of memory") a reply whose arrays
 * announce more than min(CR_RBOUND_ELEMENTS_MAX, reply_bytes / 3) elements
 * in all: no element is shorter than 3 bytes, so a reply within
 * reply_bytes never has more.  -1 when out of memory (r unchanged). */
int cr_rbound_attach(redisReader *r, size_t reply_bytes);
/* The element budget when r's last error was this bound's refusal, else 0. */
long cr_rbound_refused(const redisReader *r);
/* Undoes cr_rbound_attach before r is freed (harmless when not attached). */
void cr_rbound_release(redisReader *r);

#endif
