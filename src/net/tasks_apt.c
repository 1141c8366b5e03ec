/* The celeryroot.apt.* tasks.  Their arguments are checked by taskreq.c
 * (shared with priv, which checks a signed task's claims the same way). */
#include "config.h"
#include "net_int.h"

#include <string.h>

#include "proto.h"
#include "taskreq.h"

/* The apt tasks net runs (priv builds every record). */
static const struct task_def apt_defs[] = {
	{ "celeryroot.apt.query", REQ_APT },
	{ "celeryroot.apt.list", REQ_APT },
	{ "celeryroot.apt.update", REQ_APT },
	{ "celeryroot.apt.install", REQ_APT },
	{ "celeryroot.apt.remove", REQ_APT },
	{ "celeryroot.apt.upgrade", REQ_APT },
	{ "celeryroot.apt.autoremove", REQ_APT },
	{ "celeryroot.apt.clean", REQ_APT },
};

#define N_APT (sizeof(apt_defs) / sizeof(apt_defs[0]))

const struct task_def *tasks_apt_lookup(const char *name)
{
	for (size_t i = 0; i < N_APT; i++)
		if (!strcmp(apt_defs[i].name, name) && taskreq_type(name) == REQ_APT)
			return &apt_defs[i];
	return NULL;
}
