/* The registry record (DESIGN §3): refreshed every heartbeat_interval from
 * net's main loop, which keeps running while priv works, so a host stays
 * online through a long upgrade. */
#include "config.h"
#include "net_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crerr.h"
#include "log.h"
#include "rconn.h"
#include "timeutil.h"

/* Records outlive the heartbeat: an offline host stays known (and keeps
 * getting its tasks queued) until it has been silent this long. */
#define REG_RECORD_TTL "2592000"

static int heartbeat_write(struct net_state *st, char *err, size_t errlen)
{
	char key[sizeof(REG_HOST_PREFIX) + HOSTNAME_MAX], wkey[sizeof(REG_WINDOWS_PREFIX) + HOSTNAME_MAX];
	struct cr_rconn_cmd cmds[3] = { { 0 } };
	char *json;
	int rc;

	st->self.last_seen = cr_now_wall();
	if ((json = cr_registry_encode(&st->self)) == NULL)
		return snprintf(err, errlen, "out of memory"), -1;
	snprintf(key, sizeof(key), REG_HOST_PREFIX "%s", st->self.hostname);
	/* The windows in force here, for 'celeryroot windows'. */
	snprintf(wkey, sizeof(wkey), REG_WINDOWS_PREFIX "%s", st->self.hostname);
	const char *set[] = { "SET", key, json, "EX", REG_RECORD_TTL };
	const char *sadd[] = { "SADD", REG_HOSTS_KEY, st->self.hostname };
	const char *wset[] = { "SET", wkey, st->windows_json ? st->windows_json : "[]", "EX", REG_RECORD_TTL };
	for (int i = 0; i < 5; i++)
		cr_rconn_arg(&cmds[0], set[i], (size_t)-1);
	for (int i = 0; i < 3; i++)
		cr_rconn_arg(&cmds[1], sadd[i], (size_t)-1);
	for (int i = 0; i < 5; i++)
		cr_rconn_arg(&cmds[2], wset[i], (size_t)-1);
	rc = cr_rconn_pipeline(st->link.cc, cmds, 3, 0, err, errlen);
	free(json);
	if (rc < 0)
		snprintf(err, errlen, "heartbeat failed: %s", st->link.cc->errstr);
	return rc == 1 ? 0 : -1;
}

/* -1 with the reason in err; the caller decides whether to log it. */
int net_heartbeat_send(struct net_state *st, char *err, size_t errlen)
{
	if (st->link.cc == NULL || st->link.cc->err)
		return snprintf(err, errlen, "no connection"), -1;
	return heartbeat_write(st, err, errlen);
}

/* A clean stop shows at once in `celeryroot hosts`, instead of after three
 * missed heartbeats. */
int net_heartbeat_stopped(struct net_state *st)
{
	char err[CR_ERR_MAX];

	cr_copy_str(st->self.state, sizeof(st->self.state), "stopped");
	return net_heartbeat_send(st, err, sizeof(err));
}
