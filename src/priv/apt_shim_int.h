/* Internal to the C++ shim (apt_shim*.cc): the per-process state and the
 * helpers every entry point shares.  Never included from C. */
#ifndef CR_APT_SHIM_INT_H
#define CR_APT_SHIM_INT_H

#include <apt-pkg/algorithms.h>
#include <apt-pkg/cachefile.h>
#include <apt-pkg/pkgcache.h>

#include "apt_shim.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdio>
#include <exception>
#include <new>
#include <string>

namespace shim {

/* When the cache was opened, as seen on disk: a change in either means dpkg
 * or apt-get update ran since, and the open cache is stale. */
struct stamp {
	bool valid = false;
	struct timespec status_mtime = {};
	off_t status_size = 0;
	struct timespec lists_mtime = {};
};

struct shim_state {
	bool inited = false;
	std::string root;
	pkgCacheFile *cache = nullptr;
	stamp opened;
	/* CLOCK_MONOTONIC when the last call that had the cache open returned:
	 * priv gives the cache back after a while without one (DESIGN §7). */
	double used = 0;
	/* A failed open is remembered until the files change: apt writes a
	 * pkgcache.bin even when the status file does not parse, and a second
	 * open would happily read that empty cache. */
	stamp failed;
	std::string failed_msg;
};

extern shim_state S;

void set_err(char *err, size_t errlen, const std::string &msg);
bool drain_errors(std::string &out);
int fail(char *err, size_t errlen, const char *what);
std::string under_root(const std::string &root, const char *rel);
/* The read-only cache, reused while dpkg status and the lists are unchanged. */
pkgCacheFile *shim_cache(char *err, size_t errlen);
/* Forgets the read-only cache: after a change, or before one takes the lock. */
void cache_close();

/* apt_shim_read.cc, shared with the change code. */
bool is_security_file(pkgCache::PkgFileIterator f);
pkgCache::VerIterator security_candidate(pkgCache::PkgIterator p);
void fill_info(pkgCacheFile &c, pkgCache::PkgIterator p, const char *asked, aptshim_pkg_info *out);
pkgCache::PkgIterator find_pkg(pkgCache *cache, const char *spec);

/* apt_shim_mark.cc: the request as marks on dc; -1 with err when it names
 * something apt cannot do. */
int mark_request(pkgDepCache &dc, pkgProblemResolver &fix, const aptshim_change_req *q, char *err, size_t errlen);

/* apt_shim_upgrade.cc: an upgrade's marks, resolved, its kept-back
 * packages in r and its pins checked; -2 when dependencies are broken, -1
 * with err (and r->refused_by when the plan is refused). */
int plan_upgrade(pkgCacheFile &c, pkgDepCache &dc, const aptshim_change_req *q, aptshim_change_res *r, char *err,
		 size_t errlen);

/* apt_shim_policy.cc: APT's refusals on the plan (untrusted archives,
 * downgrades); -1 with err and r->refused_by. */
int check_policy(pkgCacheFile &c, pkgDepCache &dc, const aptshim_change_req *q, aptshim_change_res *r, char *err,
		 size_t errlen);

/* apt_shim_hold.cc: dpkg's selection of p as dpkg-query says it
 * ("install", "hold", "deinstall", "purge", "unknown"), and whether it is
 * a hold (the plan may not change p then; issue 15). */
const char *selection_word(pkgCache::PkgIterator p);
bool held(pkgCache::PkgIterator p);

/* The C boundary: no exception may unwind into C frames.  The handlers
 * format with snprintf only, so that they cannot throw themselves. */
inline void exc_err(char *err, size_t errlen, const char *why)
{
	if (err != nullptr && errlen > 0)
		std::snprintf(err, errlen, "libapt-pkg: %s", why);
}

/* Notes that a call just had the cache open (the idle clock restarts). */
void cache_touch() noexcept;

template <typename F> int guarded(char *err, size_t errlen, F f)
{
	int rc = -1;

	try {
		rc = f();
	} catch (const std::bad_alloc &) {
		exc_err(err, errlen, "out of memory");
	} catch (const std::exception &e) {
		exc_err(err, errlen, e.what());   /* e dies with this handler */
	} catch (...) {
		exc_err(err, errlen, "unknown exception");
	}
	cache_touch();
	return rc;
}

} // namespace shim

#endif
