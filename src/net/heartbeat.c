/* The registry record (DESIGN §3): refreshed every heartbeat_interval from
 * net's main loop, which keeps running while priv works, so a host stays
 * online through a long upgrade. */
#include "config.h"
#include "net_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rconn.h"
#include "timeutil.h"

/* Records outlive the heartbeat: an offline host stays known (and keeps
 * getting its tasks queued) until it has been silent this long. */
#define REG_RECORD_TTL "2592000"

static int heartbeat_write(struct net_state *st)
{
	char key[sizeof(REG_HOST_PREFIX) + HOSTNAME_MAX];
	char *json;
	int ok = 1;

	st->self.last_seen = now_wall();
	json = registry_encode(&st->self);
	if (json == NULL)
		return -1;
	snprintf(key, sizeof(key), REG_HOST_PREFIX "%s", st->self.hostname);
	const char *set[] = { "SET", key, json, "EX", REG_RECORD_TTL };
	const char *sadd[] = { "SADD", REG_HOSTS_KEY, st->self.hostname };
	/* The windows in force here, for 'celeryroot windows'. */
	char wkey[sizeof(REG_WINDOWS_PREFIX) + HOSTNAME_MAX];
	snprintf(wkey, sizeof(wkey), REG_WINDOWS_PREFIX "%s", st->self.hostname);
	const char *wset[] = { "SET", wkey, st->windows_json ? st->windows_json : "[]", "EX", REG_RECORD_TTL };
	if (rconn_append(st->cc, 5, set, NULL) < 0 || rconn_append(st->cc, 3, sadd, NULL) < 0 ||
	    rconn_append(st->cc, 5, wset, NULL) < 0)
		ok = 0;
	for (int i = 0; ok && i < 3; i++) {
		void *r = NULL;
		ok = redisGetReply(st->cc, &r) == REDIS_OK && !rconn_is_error(r);
		if (r)
			freeReplyObject(r);
	}
	free(json);
	if (!ok) {
		error_f("heartbeat failed: %s", st->cc && st->cc->err ? st->cc->errstr : "error reply");
		return -1;
	}
	return 0;
}

int heartbeat_send(struct net_state *st)
{
	if (st->cc == NULL || st->cc->err)
		return -1;
	return heartbeat_write(st);
}

/* A clean stop shows at once in `celeryroot hosts`, instead of after three
 * missed heartbeats. */
int heartbeat_stopped(struct net_state *st)
{
	copy_str(st->self.state, sizeof(st->self.state), "stopped");
	return heartbeat_send(st);
}
