/* The only C++ in the tree: a small C interface to libapt-pkg.  It keeps one
 * configuration for one host root per process. */
#ifndef CR_APT_SHIM_H
#define CR_APT_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define APTSHIM_NAME_MAX 161   /* name:arch */
#define APTSHIM_VER_MAX 129
#define APTSHIM_ORIGIN_MAX 64

/* Sets Dir to root BEFORE pkgInitConfig (so the host's apt.conf.d is never
 * read for a sandbox), then pkgInitSystem.  Once per process. */
int priv_aptshim_init(const char *root, char *err, size_t errlen);
/* The native architecture apt is configured for ("amd64"). */
int priv_aptshim_native_arch(char *out, size_t len);
/* Opens (or reuses) the cache without the lock and counts installed packages. */
int priv_aptshim_installed_count(long *count, char *err, size_t errlen);

/* ---- read-only (no lock) ------------------------------------------------ */

struct aptshim_pkg_info {
	char name[APTSHIM_NAME_MAX];
	int known;                               /* apt has heard of it */
	char installed[APTSHIM_VER_MAX];         /* "" when not installed */
	char candidate[APTSHIM_VER_MAX];         /* "" when none */
	int upgradable;                          /* candidate newer than installed */
	char origin[APTSHIM_ORIGIN_MAX], archive[APTSHIM_ORIGIN_MAX], label[APTSHIM_ORIGIN_MAX];
	int security;                            /* the candidate is from a security origin */
	int security_upgradable;                 /* a security origin has a newer version */
	char security_version[APTSHIM_VER_MAX];
	char selection[12];                      /* dpkg's: install, hold, deinstall, purge, unknown */
};

/* One entry per name ("pkg" or "pkg:arch"), in order; unknown ones have known = 0. */
int priv_aptshim_query(const char *const *names, size_t n, struct aptshim_pkg_info *out, char *err,
		  size_t errlen);
/* Installed packages, or only the upgradable ones, or only those a security
 * origin upgrades.  *out is malloc'd (free()). */
int priv_aptshim_list(int upgradable_only, int security_only, struct aptshim_pkg_info **out, size_t *n,
		 char *err, size_t errlen);
/* The version to reinstall a package dpkg left halfway with: the version
 * its status names when an archive has it, else the candidate when an
 * archive has that.  1 with out set, 0 when no archive has either, -1 on
 * error. */
int priv_aptshim_reinstall_version(const char *name, const char *status_ver, char *out, size_t len, char *err,
			      size_t errlen);
/* apt-get update: refreshes the lists from the sources. */
int priv_aptshim_update(char *err, size_t errlen);

/* ---- changes (take the dpkg lock) --------------------------------------- */

enum aptshim_op {
	APTSHIM_INSTALL = 1,
	APTSHIM_REMOVE,
	APTSHIM_UPGRADE,     /* items: only these (none: everything upgradable) */
	APTSHIM_AUTOREMOVE,
	APTSHIM_RESTORE,     /* rollback: remove some, install exact versions of others */
	APTSHIM_REINSTALL,   /* repair: reinstall each item at exactly items[].version */
};

struct aptshim_item {
	char name[APTSHIM_NAME_MAX];   /* "pkg" or "pkg:arch" */
	char version[APTSHIM_VER_MAX]; /* "" for the candidate */
	int remove;                    /* APTSHIM_RESTORE only */
};

/* One line of a plan, as apt's depcache marks it. */
struct aptshim_action {
	char name[APTSHIM_NAME_MAX];
	char old_ver[APTSHIM_VER_MAX];   /* "" when not installed */
	char new_ver[APTSHIM_VER_MAX];   /* "" when removed */
	char what[12];                   /* install, upgrade, downgrade, reinstall, remove, purge */
	int requested;                   /* asked for, not pulled in */
};

/* An upgradable package an upgrade left at its installed version, and why:
 * "held", "excluded", "phased", "not from an allowed origin", "would remove
 * X, Y" or "dependencies cannot be met". */
struct aptshim_kept {
	char name[APTSHIM_NAME_MAX];
	char installed[APTSHIM_VER_MAX];
	char candidate[APTSHIM_VER_MAX];
	char reason[256];
};

/* stage: "lock", "download", "dpkg"; percent 0..100. */
typedef void (*aptshim_progress_fn)(void *ctx, const char *stage, const char *pkg, double percent,
				    const char *text);

struct aptshim_change_req {
	enum aptshim_op op;
	const struct aptshim_item *items;
	size_t nitems;
	int purge, security, check;
	int allow_downgrade;           /* the request allows a plan that downgrades */
	int allow_unauthenticated;     /* the host allows archives apt cannot authenticate */
	/* APTSHIM_UPGRADE only (apt_shim_upgrade.cc): full is apt's
	 * full-upgrade (may remove), else its safe upgrade; exclude names
	 * ("pkg" or "pkg:arch") are kept at their installed version. */
	int full;
	const char *const *exclude;
	size_t nexclude;
	int allow_essential;           /* the request allows removing Essential/required packages */
	int allow_removals;            /* the request allows removing packages it did not name */
	int lock_timeout_s;
	aptshim_progress_fn progress;
	void *ctx;
	/* dpkg replaces locally changed conffiles with the package's
	 * (--force-confnew); else the local file stays (--force-confold). */
	int conffile_new;
	/* > 2: dpkg's stdout and stderr (its maintainer scripts' output) go to
	 * this fd while it runs, instead of priv's; else (0: a request that
	 * does not set it) they are left alone. */
	int capture_fd;
};

struct aptshim_change_res {
	struct aptshim_action *plan;   /* malloc'd; priv_aptshim_change_res_free */
	size_t nplan;
	int dpkg_ran;                  /* dpkg was started: the host may have changed */
	char dpkg_error[1024];         /* what dpkg said when it failed */
	char refused_by[16];           /* "downgrade", "unauthenticated", "held", "essential" or
				        * "removals": the plan was refused */
	char unauthenticated[640];     /* allowed by the host: what came from such archives */
	struct aptshim_kept *kept;     /* APTSHIM_UPGRADE: malloc'd; freed with the plan */
	size_t nkept;
};

/* Plans the change with the dpkg lock held (waiting up to lock_timeout_s),
 * holds the plan against APT's refusals (apt_shim_policy.cc: archives apt
 * cannot authenticate, downgrades), and unless check is set carries it out
 * (a check takes no lock).  0 on success (an empty plan is a success); < 0
 * with the reason in err: when dpkg_ran is 0 nothing changed; -CR_E_LOCK
 * (crerr.h) when the dpkg lock could not be taken in time. */
int priv_aptshim_change(const struct aptshim_change_req *q, struct aptshim_change_res *r, char *err,
		   size_t errlen);
void priv_aptshim_change_res_free(struct aptshim_change_res *r);
/* The value apt's configuration ends up with for key ("" when unset),
 * after priv_aptshim_init: what tests read to see which user apt's download
 * methods run as (APT::Sandbox::User). */
int priv_aptshim_config_find(const char *key, char *out, size_t len);
/* apt-get clean: empties the archives cache (under the lock); < 0 on
 * failure, -CR_E_LOCK when the lock could not be taken in time. */
int priv_aptshim_clean(int lock_timeout_s, long *files, char *err, size_t errlen);

/* ---- selections (holds) ------------------------------------------------- */

/* Sets dpkg's selection of each named package to "hold" (hold = 1) or
 * "install" (hold = 0) through libapt-pkg's APT::StateChanges (what
 * apt-mark uses: dpkg --set-selections, and --merge-avail first for a
 * package dpkg does not know yet), under the dpkg frontend lock (waiting up
 * to lock_timeout_s).  Each name must be known to apt.  0, or < 0 with the
 * reason in err (-CR_E_LOCK when the lock could not be taken in time). */
int priv_aptshim_set_selections(const char *const *names, size_t n, int hold, int lock_timeout_s, char *err,
				size_t errlen);

/* ---- memory at rest ------------------------------------------------------ */

/* Seconds since the last call that used the open cache returned; -1 when
 * no cache is open. */
double priv_aptshim_idle_s(void);
/* Closes the read-only cache and hands the freed heap back to the kernel
 * (glibc's malloc_trim): with a real host's lists that is tens of MiB.  The
 * next read reopens it.  Call it between calls only (priv's loop).  1 when
 * a cache was open, 0 when there was none. */
int priv_aptshim_release(void);

#ifdef __cplusplus
}
#endif

#endif
