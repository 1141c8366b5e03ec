/* Maintenance windows from the config file: [window NAME] sections with
 * days, start, duration, zone and the roles and/or hosts they apply to.
 * Disruptive operations (CR_OP_WINDOWED in ops.h: install, remove, upgrade,
 * autoremove) reaching a host outside all of its windows are deferred by
 * the daemon to the next opening; a host with no window may change at any
 * time. */
#ifndef CR_WINCONF_H
#define CR_WINCONF_H

#include <stddef.h>
#include <time.h>

#include "names.h"
#include "registry.h"
#include "window.h"

#define WINCONF_MAX 16

struct host_window {
	char name[64];
	char days[64], start[16], duration[16], zone[64];
	char roles[256], hosts[512];     /* as written: "webserver db" */
	struct window w;
};

/* Every [window] section of path (a missing file: none).  With hostname
 * set, only those that apply to it (its name in hosts, or one of roles in
 * roles).  -1 with the file, section and reason. */
int cr_winconf_load(const char *path, const char *hostname, const char (*roles)[ROLE_MAX + 1], int nroles,
		 struct host_window *out, size_t max, size_t *n, char *err, size_t errlen);
/* [{"name","days","start","duration","zone"}] as a malloc'd string. */
char *cr_winconf_json(const struct host_window *v, size_t n);
/* 1 if a disruptive operation may run at t. */
int cr_winconf_open(const struct host_window *v, size_t n, time_t t);
/* The next opening at or after t (t itself when open); 0 if never. */
time_t cr_winconf_next_open(const struct host_window *v, size_t n, time_t t);

#endif
