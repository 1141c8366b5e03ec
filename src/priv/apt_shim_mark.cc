/* Turning a request into marks on apt's depcache: what install, remove,
 * upgrade, autoremove and a rollback each ask for.  apt's resolver then adds
 * what the marks need (priv_change reads the plan back from the depcache). */
#include "config.h"
#include "apt_shim.h"
#include "apt_shim_int.h"

#include <apt-pkg/algorithms.h>
#include <apt-pkg/cachefile.h>
#include <apt-pkg/depcache.h>
#include <apt-pkg/pkgsystem.h>
#include <apt-pkg/version.h>

#include <cstring>
#include <string>

using namespace shim;

namespace {

pkgCache::VerIterator find_version(pkgCache::PkgIterator p, const char *ver)
{
	for (pkgCache::VerIterator v = p.VersionList(); !v.end(); ++v)
		if (std::strcmp(v.VerStr(), ver) == 0)
			return v;
	return pkgCache::VerIterator();
}

int no_pkg(const aptshim_item &it, char *err, size_t errlen)
{
	set_err(err, errlen, std::string("unknown package '") + it.name +
				     "': not in this host's apt lists (run 'celeryroot apt update' first?)");
	return -1;
}

/* Marks one install; an installed package with no version asked for is left
 * as it is (install means "present", upgrade is its own operation). */
int mark_install(pkgDepCache &dc, pkgProblemResolver &fix, const aptshim_item &it, char *err, size_t errlen)
{
	pkgCache::PkgIterator p = find_pkg(&dc.GetCache(), it.name);
	if (p.end() || p.VersionList().end())
		return no_pkg(it, err, errlen);
	pkgCache::VerIterator cur = p.CurrentVer();
	if (it.version[0] != '\0') {
		pkgCache::VerIterator v = find_version(p, it.version);
		if (v.end()) {
			pkgCache::VerIterator cand = dc.GetCandidateVersion(p);
			set_err(err, errlen, std::string("version ") + it.version + " of " + it.name +
						     " is not available (candidate: " +
						     (cand.end() ? "none" : cand.VerStr()) + ")");
			return -1;
		}
		if (!cur.end() && cur == v)
			return 0;
		dc.SetCandidateVersion(v);
	} else if (!cur.end()) {
		return 0;
	}
	if (dc.GetCandidateVersion(p).end()) {
		set_err(err, errlen, std::string(it.name) + " has no installable version");
		return -1;
	}
	dc.MarkInstall(p, true);
	dc.MarkAuto(p, false);
	fix.Clear(p);
	fix.Protect(p);
	return 0;
}

int mark_remove(pkgDepCache &dc, pkgProblemResolver &fix, const aptshim_item &it, bool purge, char *err,
		size_t errlen)
{
	pkgCache::PkgIterator p = find_pkg(&dc.GetCache(), it.name);
	if (p.end()) {
		set_err(err, errlen, std::string("unknown package '") + it.name + "'");
		return -1;
	}
	bool has_conf = p->CurrentState == pkgCache::State::ConfigFiles;
	if (p.CurrentVer().end() && !(purge && has_conf))
		return 0;
	dc.MarkDelete(p, purge);
	fix.Clear(p);
	fix.Protect(p);
	fix.Remove(p);
	return 0;
}

/* The version an upgrade goes to: the candidate, or with --security the
 * newest from a security origin; an end iterator when there is none newer. */
pkgCache::VerIterator upgrade_target(pkgDepCache &dc, pkgCache::PkgIterator p, bool security)
{
	pkgCache::VerIterator cur = p.CurrentVer(), to;
	to = security ? security_candidate(p) : dc.GetCandidateVersion(p);
	if (cur.end() || to.end() || _system->VS->CmpVersion(to.VerStr(), cur.VerStr()) <= 0)
		return pkgCache::VerIterator();
	return to;
}

int mark_upgrade(pkgDepCache &dc, pkgProblemResolver &fix, pkgCache::PkgIterator p, bool security)
{
	pkgCache::VerIterator to = upgrade_target(dc, p, security);
	if (to.end())
		return 0;
	dc.SetCandidateVersion(to);
	dc.MarkInstall(p, true, 0, false);
	fix.Clear(p);
	fix.Protect(p);
	return 0;
}

int mark_upgrades(pkgDepCache &dc, pkgProblemResolver &fix, const aptshim_change_req *q, char *err,
		  size_t errlen)
{
	pkgCache &cache = dc.GetCache();
	for (size_t i = 0; i < q->nitems; i++) {
		pkgCache::PkgIterator p = find_pkg(&cache, q->items[i].name);
		if (p.end() || p.CurrentVer().end()) {
			set_err(err, errlen, std::string(q->items[i].name) +
						     " is not installed, so it cannot be upgraded (use 'apt install')");
			return -1;
		}
		mark_upgrade(dc, fix, p, q->security);
	}
	/* Held packages stay as they are (issue 15): skipped here, and a named
	 * one is marked as not from the user, so apt's depcache keeps its hold
	 * (pkgDepCache::IsModeChangeOk) and the plan leaves it out. */
	if (q->nitems == 0)
		for (pkgCache::PkgIterator p = cache.PkgBegin(); !p.end(); ++p)
			if (!held(p))
				mark_upgrade(dc, fix, p, q->security);
	return 0;
}

void mark_autoremove(pkgDepCache &dc, bool purge)
{
	dc.MarkAndSweep();
	for (pkgCache::PkgIterator p = dc.GetCache().PkgBegin(); !p.end(); ++p)
		if (!p.CurrentVer().end() && dc[p].Garbage)
			dc.MarkDelete(p, purge, 0, false);
}

/* Rollback: purge what the failed run left behind, put back what it replaced. */
int mark_restore(pkgDepCache &dc, pkgProblemResolver &fix, const aptshim_change_req *q, char *err, size_t errlen)
{
	for (size_t i = 0; i < q->nitems; i++) {
		const aptshim_item &it = q->items[i];
		int rc = it.remove ? mark_remove(dc, fix, it, true, err, errlen) : mark_install(dc, fix, it, err, errlen);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* Repair: a package dpkg left half-installed (or flagged reinstreq) is
 * unpacked and configured again at the version the caller found in an
 * archive (priv_aptshim_reinstall_version); a reinstall of the installed version
 * is a ReInstall flag, not a mark. */
int mark_reinstall(pkgDepCache &dc, pkgProblemResolver &fix, const aptshim_item &it, char *err, size_t errlen)
{
	pkgCache::PkgIterator p = find_pkg(&dc.GetCache(), it.name);
	if (p.end())
		return no_pkg(it, err, errlen);
	pkgCache::VerIterator v = find_version(p, it.version);
	if (v.end() || !v.Downloadable()) {
		set_err(err, errlen, std::string("no archive has ") + it.name + " " + it.version + " to reinstall it");
		return -1;
	}
	dc.SetCandidateVersion(v);
	if (p.CurrentVer().end() || p.CurrentVer() != v)
		dc.MarkInstall(p, true, 0, false);
	dc.SetReInstall(p, true);
	fix.Clear(p);
	fix.Protect(p);
	return 0;
}

} // namespace

namespace shim {

int mark_request(pkgDepCache &dc, pkgProblemResolver &fix, const aptshim_change_req *q, char *err, size_t errlen)
{
	pkgDepCache::ActionGroup group(dc);
	switch (q->op) {
	case APTSHIM_INSTALL:
		for (size_t i = 0; i < q->nitems; i++)
			if (mark_install(dc, fix, q->items[i], err, errlen) < 0)
				return -1;
		return 0;
	case APTSHIM_REMOVE:
		for (size_t i = 0; i < q->nitems; i++)
			if (mark_remove(dc, fix, q->items[i], q->purge, err, errlen) < 0)
				return -1;
		return 0;
	case APTSHIM_UPGRADE:
		return mark_upgrades(dc, fix, q, err, errlen);
	case APTSHIM_AUTOREMOVE:
		mark_autoremove(dc, q->purge);
		return 0;
	case APTSHIM_RESTORE:
		return mark_restore(dc, fix, q, err, errlen);
	case APTSHIM_REINSTALL:
		for (size_t i = 0; i < q->nitems; i++)
			if (mark_reinstall(dc, fix, q->items[i], err, errlen) < 0)
				return -1;
		return 0;
	}
	set_err(err, errlen, "unknown operation");
	return -1;
}

} // namespace shim
