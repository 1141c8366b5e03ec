/* Redis Sentinel: kombu's sentinel:// URLs and finding the master they name.
 * docs/DESIGN.md "Sentinel" says how a failover is followed. */
#ifndef CR_SENTINEL_H
#define CR_SENTINEL_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "crconfig.h"

#define SENTINEL_DEFAULT_PORT 26379

/* 1 when url is kombu's sentinel://host:port;sentinel://host2:port[/db]. */
int cr_sentinel_is_url(const char *url);
/* Fills b's sentinels, credentials (the master's, as kombu reads them), db
 * and master_name (from ?master_name=NAME, may stay empty: the config can
 * give it; cr_broker_from insists on one).  -1 with a one-line reason. */
int cr_sentinel_parse_url(const char *url, struct broker_addr *b, char *err, size_t errlen);
/* After the URL: the config's master_name (when the URL gave none) and
 * sentinel_password; url_out gets the masked URL.  -1 without a master name. */
int cr_sentinel_from_config(const struct cr_config *c, struct broker_addr *b, const char *url, char *url_out,
			    size_t url_len, char *err, size_t errlen);
/* The URL as shown to people: every password replaced by ***. */
void cr_sentinel_mask_url(const char *url, char *out, size_t len);
/* Makes every sentinel's host numeric (net has no name service). */
int cr_sentinel_resolve(struct broker_addr *b, char *err, size_t errlen);
/* Asks the sentinels in turn for master_name's address, connects there
 * with b's credentials and checks that ROLE says master.  The address
 * found goes to *found (may be NULL).  NULL with a one-line reason. */
redisContext *cr_sentinel_connect(const struct broker_addr *b, double timeout_s, struct broker_endpoint *found,
				  char *err, size_t errlen);
/* The TCP ports a failover may move the master to, as the sentinels know
 * them now (the master's and every replica's) plus every sentinel's:
 * net's Landlock rules allow exactly these.  Returns how many were put in
 * ports (at least the sentinels' even when none answers). */
int cr_sentinel_ports(const struct broker_addr *b, double timeout_s, int *ports, int max);
/* A reply to SENTINEL get-master-addr-by-name read as hostile input: 1 with
 * m's host (numeric, not "any") and port (1..65535) set, 0 for nil (the
 * name is unknown there), -1 for anything else. */
int cr_sentinel_master_reply(const redisReply *r, struct broker_endpoint *m);
/* The reason a reply shows a failover under way or done (READONLY from a
 * master turned replica, MASTERDOWN); NULL for any other reply. */
const char *cr_sentinel_failover_reply(const redisReply *r);

#endif
