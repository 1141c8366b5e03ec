/* Holds (issue 15): dpkg's selections, read from apt's cache and set
 * through libapt-pkg's APT::StateChanges, the code apt-mark hold/unhold
 * runs.  It hands dpkg "--set-selections" its lines on a pipe with an argv
 * built from apt's configuration (DPkg::Options: --root for a sandbox), so
 * no shell and nothing from the request but checked package names reaches
 * dpkg; a package dpkg has no record of (known to apt, not installed) is
 * first given one with --merge-avail, as apt-mark does, so that the hold
 * sticks. */
#include "config.h"
#include "apt_shim.h"
#include "apt_shim_int.h"
#include "crerr.h"

#include <apt-pkg/cachefile.h>
#include <apt-pkg/configuration.h>
#include <apt-pkg/error.h>
#include <apt-pkg/pkgcache.h>
#include <apt-pkg/pkgsystem.h>
#include <apt-pkg/policy.h>
#include <apt-pkg/statechanges.h>

#include <cstring>
#include <string>

using namespace shim;

namespace shim {

const char *selection_word(pkgCache::PkgIterator p)
{
	switch (p->SelectedState) {
	case pkgCache::State::Install:
		return "install";
	case pkgCache::State::Hold:
		return "hold";
	case pkgCache::State::DeInstall:
		return "deinstall";
	case pkgCache::State::Purge:
		return "purge";
	default:
		return "unknown";
	}
}

bool held(pkgCache::PkgIterator p)
{
	return !p.end() && p->SelectedState == pkgCache::State::Hold;
}

} // namespace shim

namespace {

/* The version apt-mark would name: the installed one, else the candidate
 * (APT::CacheSetHelper::INSTCAND).  End when apt knows no version. */
pkgCache::VerIterator inst_or_cand(pkgCacheFile &c, pkgCache::PkgIterator p)
{
	if (!p.CurrentVer().end())
		return p.CurrentVer();
	return c.GetPolicy()->GetCandidateVer(p);
}

int stage(pkgCacheFile &c, APT::StateChanges &marks, const char *const *names, size_t n, int hold, char *err,
	  size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		pkgCache::PkgIterator p = find_pkg(c.GetPkgCache(), names[i]);
		pkgCache::VerIterator v = p.end() ? pkgCache::VerIterator() : inst_or_cand(c, p);
		if (v.end()) {
			set_err(err, errlen, std::string("unknown package '") + names[i] +
						     "': not installed and not in this host's apt lists");
			return -1;
		}
		if (hold)
			marks.Hold(v);
		else
			marks.Unhold(v);
	}
	return 0;
}

int do_set(const char *const *names, size_t n, int hold, int lock_timeout_s, char *err, size_t errlen)
{
	pkgCacheFile c;
	APT::StateChanges marks;

	_error->Discard();
	cache_close();
	_config->Set("DPkg::Lock::Timeout", lock_timeout_s);
	if (!c.Open(nullptr, false) || c.GetPkgCache() == nullptr)
		return fail(err, errlen, "cannot open the package cache");
	if (stage(c, marks, names, n, hold, err, errlen) < 0)
		return -1;
	/* The frontend lock as apt-get holds it around dpkg: dpkg takes the
	 * database lock itself (ExecDpkg tells it the frontend is locked). */
	if (!_system->Lock())
		return fail(err, errlen, "cannot take the dpkg lock"), -CR_E_LOCK;
	_system->UnLockInner();
	bool ok = marks.Save(true);
	_system->UnLock();
	cache_close();
	if (!ok || !marks.Error().empty())
		return fail(err, errlen, "dpkg --set-selections failed");
	return 0;
}

} // namespace

extern "C" int priv_aptshim_set_selections(const char *const *names, size_t n, int hold, int lock_timeout_s, char *err,
				      size_t errlen)
{
	if (names == nullptr || n == 0)
		return set_err(err, errlen, "no packages"), -1;
	if (!S.inited)
		return set_err(err, errlen, "apt is not initialised (priv_aptshim_init)"), -1;
	return guarded(err, errlen, [&] { return do_set(names, n, hold, lock_timeout_s, err, errlen); });
}
