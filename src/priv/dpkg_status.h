/* dpkg's own record of what is installed, read directly: the status file
 * under the host root plus dpkg's updates journal (var/lib/dpkg/updates),
 * which is where a run that was cut short left its last word.  It is the
 * "before" and "after" of every change, the idempotent fast path, the
 * repair's to-do list, the verification and what rollback and the audit
 * compare. */
#ifndef CR_DPKG_STATUS_H
#define CR_DPKG_STATUS_H

#include <stddef.h>

#include "apt_shim.h"

struct dpkg_pkg {
	char name[APTSHIM_NAME_MAX];    /* "name", or "name:arch" for a foreign arch */
	char version[APTSHIM_VER_MAX];
	char want[12];                  /* dpkg's selection: install, hold, deinstall, purge, unknown */
	char state[24];                 /* dpkg's: installed, config-files, unpacked, ... */
	int reinstreq;                  /* dpkg's flag: it must be reinstalled (dpkg --audit) */
	size_t order;                   /* reading order (later entries win); internal */
};

struct dpkg_snap {
	struct dpkg_pkg *p;             /* sorted by name */
	size_t n;
	char native[33];
};

/* dpkg's view of root, as dpkg-query shows it: the status file with the
 * updates journal applied.  native_arch decides which names get ":arch".
 * 0, or -1 with the reason in err. */
int priv_dpkg_snap_read(const char *root, const char *native_arch, struct dpkg_snap *s, char *err, size_t errlen);
/* The same from one file in status format (a copy written by
 * priv_dpkg_status_dump): later paragraphs for a package replace earlier ones. */
int priv_dpkg_snap_read_file(const char *path, const char *native_arch, struct dpkg_snap *s, char *err, size_t errlen);
/* Writes dpkg's view of root to fd as one status-format file: the status
 * file, then each journal entry in dpkg's order (priv_dpkg_snap_read_file reads
 * it back to the same view).  0, or -1 with errno set (ENOSPC...). */
int priv_dpkg_status_dump(const char *root, int fd);
void priv_dpkg_snap_free(struct dpkg_snap *s);
/* The entry for "name" or "name:arch" ("name:native" finds "name"); NULL if none. */
const struct dpkg_pkg *priv_dpkg_snap_find(const struct dpkg_snap *s, const char *name);
/* Installed in the sense of "its files are there": every state but
 * not-installed and config-files. */
int priv_dpkg_present(const struct dpkg_pkg *p);
/* What dpkg --audit would complain about: a package halfway through, or
 * one flagged reinstreq (whatever its state). */
int priv_dpkg_broken(const struct dpkg_pkg *p);
/* 1 when nothing in s is halfway through. */
int priv_dpkg_snap_clean(const struct dpkg_snap *s);
/* Files in root's var/lib/dpkg/updates: dpkg was cut short and has not
 * folded its journal back into the status file yet. */
int priv_dpkg_updates_pending(const char *root);
/* One line saying what is wrong with p ("hello is half-installed
 * (reinstreq)"); "" when nothing is. */
void priv_dpkg_describe(const struct dpkg_pkg *p, char *out, size_t len);

#endif
