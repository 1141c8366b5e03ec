/* The celeryroot.apt.* tasks.  Their arguments are checked by taskreq.c
 * (shared with priv, which checks a signed task's claims the same way);
 * here is only how priv's answer becomes the record's data. */
#include "config.h"
#include "net_int.h"

#include <string.h>

#include "proto.h"
#include "taskreq.h"

static json_t *apt_data(struct net_state *st, const struct inflight *f, json_t *reply)
{
	json_t *d = json_deep_copy(reply);
	(void)f;
	if (d)
		json_object_set_new(d, "host", json_string(st->cfg->hostname));
	return d;
}


/* Every apt task makes its record data the same way. */
static const struct task_def apt_defs[] = {
	{ "celeryroot.apt.query", REQ_APT, apt_data },
	{ "celeryroot.apt.list", REQ_APT, apt_data },
	{ "celeryroot.apt.update", REQ_APT, apt_data },
	{ "celeryroot.apt.install", REQ_APT, apt_data },
	{ "celeryroot.apt.remove", REQ_APT, apt_data },
	{ "celeryroot.apt.upgrade", REQ_APT, apt_data },
	{ "celeryroot.apt.autoremove", REQ_APT, apt_data },
	{ "celeryroot.apt.clean", REQ_APT, apt_data },
};

#define N_APT (sizeof(apt_defs) / sizeof(apt_defs[0]))

const struct task_def *tasks_apt_lookup(const char *name)
{
	for (size_t i = 0; i < N_APT; i++)
		if (!strcmp(apt_defs[i].name, name) && taskreq_type(name) == REQ_APT)
			return &apt_defs[i];
	return NULL;
}
