/* dpkg's own record of what is installed (var/lib/dpkg/status under the host
 * root), read directly: it is the "before" and "after" of every change, the
 * idempotent fast path, and what rollback and the audit compare. */
#ifndef CR_DPKG_STATUS_H
#define CR_DPKG_STATUS_H

#include <stddef.h>

#include "apt_shim.h"

struct dpkg_pkg {
	char name[APTSHIM_NAME_MAX];    /* "name", or "name:arch" for a foreign arch */
	char version[APTSHIM_VER_MAX];
	char state[24];                 /* dpkg's: installed, config-files, unpacked, ... */
};

struct dpkg_snap {
	struct dpkg_pkg *p;
	size_t n;
	char native[33];
};

/* Reads root's status file; native_arch decides which names get ":arch".
 * 0, or -1 with the reason in err. */
int dpkg_snap_read(const char *root, const char *native_arch, struct dpkg_snap *s, char *err, size_t errlen);
void dpkg_snap_free(struct dpkg_snap *s);
/* The entry for "name" or "name:arch" ("name:native" finds "name"); NULL if none. */
const struct dpkg_pkg *dpkg_snap_find(const struct dpkg_snap *s, const char *name);
/* Installed in the sense of "its files are there": every state but
 * not-installed and config-files. */
int dpkg_present(const struct dpkg_pkg *p);
/* What dpkg --audit would complain about: a package halfway through. */
int dpkg_broken(const struct dpkg_pkg *p);
/* 1 when nothing in s is halfway through. */
int dpkg_snap_clean(const struct dpkg_snap *s);

#endif
