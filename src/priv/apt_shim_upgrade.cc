/* Upgrades as apt plans them (issue 15; DESIGN §7):
 *
 *  - "upgrade" is `apt upgrade` (APT::Upgrade::FORBID_REMOVE_PACKAGES): it
 *    never removes a package, and may install new ones a newer version
 *    depends on.  "--full" is `apt full-upgrade` (ALLOW_EVERYTHING): it may
 *    remove, and the plan lists what it removes.  Without named packages the
 *    plan is libapt-pkg's own APT::Upgrade::Upgrade, so that Ubuntu's phased
 *    updates are held back by APT's rules (machine-id, percentage,
 *    APT::Get::{Always,Never}-Include-Phased-Updates), not by ours.  Named
 *    packages are upgraded as `apt install --only-upgrade PKG` would: asked
 *    for by name, phasing does not hold them back.
 *  - A held package (dpkg selection "hold") or an excluded one (--exclude)
 *    is pinned at its installed version before apt plans; a plan that would
 *    still change one, or a safe upgrade that would still remove anything,
 *    is refused (the resolver must not get round a pin).
 *  - Every upgradable package left at its installed version is reported
 *    with the reason (aptshim_kept).  "would remove X" comes from a trial
 *    full-upgrade of that package alone on a scratch depcache. */
#include "config.h"
#include "apt_shim.h"
#include "apt_shim_int.h"

#include <apt-pkg/algorithms.h>
#include <apt-pkg/cachefile.h>
#include <apt-pkg/depcache.h>
#include <apt-pkg/error.h>
#include <apt-pkg/pkgsystem.h>
#include <apt-pkg/pkgrecords.h>
#include <apt-pkg/policy.h>
#include <apt-pkg/upgrade.h>
#include <apt-pkg/version.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace shim;

namespace {

/* Trials are a depcache each (tens of ms on a real host): bounded. */
const size_t TRIALS_MAX = 16;

struct upgradable {
	pkgCache::PkgIterator p;
	pkgCache::VerIterator cand;   /* the policy's candidate */
	pkgCache::VerIterator to;     /* where an upgrade goes (--security: a security origin's); end: nowhere */
	bool held, excluded;
};

bool newer(pkgCache::VerIterator v, pkgCache::VerIterator cur)
{
	return !v.end() && !cur.end() && _system->VS->CmpVersion(v.VerStr(), cur.VerStr()) > 0;
}

bool is_excluded(const aptshim_change_req *q, pkgCache::PkgIterator p)
{
	std::string full = p.FullName(true), name = p.Name();
	for (size_t i = 0; i < q->nexclude; i++)
		if (q->exclude[i] != nullptr && (full == q->exclude[i] || name == q->exclude[i]))
			return true;
	return false;
}

/* Adds p when some version is newer than the installed one. */
void consider(pkgDepCache &dc, const aptshim_change_req *q, pkgCache::PkgIterator p, std::vector<upgradable> &out)
{
	pkgCache::VerIterator cur = p.CurrentVer();
	if (cur.end())
		return;
	upgradable u;
	u.p = p;
	u.cand = dc.GetCandidateVersion(p);
	u.to = q->security ? security_candidate(p) : u.cand;
	if (!newer(u.to, cur))
		u.to = pkgCache::VerIterator();
	if (u.to.end() && !newer(u.cand, cur))
		return;
	u.held = p->SelectedState == pkgCache::State::Hold;
	u.excluded = is_excluded(q, p);
	out.push_back(u);
}

int collect(pkgDepCache &dc, const aptshim_change_req *q, std::vector<upgradable> &out, char *err, size_t errlen)
{
	pkgCache &cache = dc.GetCache();
	for (size_t i = 0; i < q->nitems; i++) {
		pkgCache::PkgIterator p = find_pkg(&cache, q->items[i].name);
		if (p.end() || p.CurrentVer().end()) {
			set_err(err, errlen, std::string(q->items[i].name) +
						     " is not installed, so it cannot be upgraded (use 'apt install')");
			return -1;
		}
		consider(dc, q, p, out);
	}
	if (q->nitems == 0)
		for (pkgCache::PkgIterator p = cache.PkgBegin(); !p.end(); ++p)
			consider(dc, q, p, out);
	return 0;
}

/* Kept at the installed version: neither apt's upgrade nor its resolver
 * may move it (MarkProtected refuses marks not from the user). */
void pin(pkgDepCache &dc, pkgProblemResolver *fix, pkgCache::PkgIterator p)
{
	dc.MarkKeep(p, false, true);
	dc.MarkProtected(p);
	if (fix != nullptr)
		fix->Protect(p);
}

bool pinned(const upgradable &u)
{
	return u.held || u.excluded;
}

/* Named packages: marked one by one; the safe upgrade keeps back what would
 * need a removal (apt's own pkgAllUpgradeWithNewPackages steps). */
bool plan_named(pkgDepCache &dc, pkgProblemResolver &fix, const aptshim_change_req *q, std::vector<upgradable> &list)
{
	for (upgradable &u : list)
		if (!pinned(u) && !u.to.end()) {
			dc.SetCandidateVersion(u.to);
			dc.MarkInstall(u.p, false, 0, false);
		}
	for (upgradable &u : list)
		if (!pinned(u) && !u.to.end()) {
			dc.MarkInstall(u.p, true, 0, false);
			if (q->full)
				fix.Protect(u.p);
		}
	if (q->full)
		return fix.Resolve(true);
	for (pkgCache::PkgIterator p = dc.GetCache().PkgBegin(); !p.end(); ++p)
		if (dc[p].Delete())
			dc.MarkKeep(p, false, false);
	return fix.ResolveByKeep();
}

/* Everything: libapt-pkg's upgrade, which applies holds and phasing itself.
 * With --security only security origins' versions are candidates. */
bool plan_all(pkgDepCache &dc, const aptshim_change_req *q, std::vector<upgradable> &list)
{
	for (upgradable &u : list)
		if (q->security && !pinned(u))
			dc.SetCandidateVersion(u.to.end() ? u.p.CurrentVer() : u.to);
	int mode = q->full ? APT::Upgrade::ALLOW_EVERYTHING : APT::Upgrade::FORBID_REMOVE_PACKAGES;
	return APT::Upgrade::Upgrade(dc, mode, nullptr);
}

bool moves(pkgDepCache &dc, pkgCache::PkgIterator p)
{
	pkgDepCache::StateCache &s = dc[p];
	return s.Delete() || s.NewInstall() || s.Upgrade() || s.Downgrade();
}

void add(std::string &list, const std::string &item)
{
	if (list.size() < 200)
		list.append(list.empty() ? "" : ", ").append(item);
}

/* What a full upgrade of u alone would remove, pins kept. */
std::string would_remove(pkgCacheFile &c, const std::vector<upgradable> &list, const upgradable &u)
{
	pkgDepCache trial(c.GetPkgCache(), c.GetPolicy());
	std::string removed;

	if (!trial.Init(nullptr))
		return removed;
	{
		pkgDepCache::ActionGroup group(trial);
		pkgProblemResolver fix(&trial);
		for (const upgradable &o : list)
			if (pinned(o))
				pin(trial, &fix, o.p);
		trial.SetCandidateVersion(u.to);
		trial.MarkInstall(u.p, true, 0, false);
		fix.Clear(u.p);
		fix.Protect(u.p);
		fix.Resolve(true);
	}
	for (pkgCache::PkgIterator p = trial.GetCache().PkgBegin(); !p.end(); ++p)
		if (trial[p].Delete())
			add(removed, p.FullName(true));
	return removed;
}

/* The version's Phased-Update-Percentage is below 100: APT's upgrade may
 * defer it (libapt-pkg keeps its parsed copy to itself, so the index
 * record is read). */
bool phasing(pkgCacheFile &c, pkgCache::VerIterator v)
{
	pkgRecords recs(c);
	std::string pct = recs.Lookup(v.FileList()).RecordField("Phased-Update-Percentage");
	char *end = nullptr;
	long n = pct.empty() ? 100 : std::strtol(pct.c_str(), &end, 10);
	return n >= 0 && n < 100;
}

std::string reason_for(pkgCacheFile &c, const aptshim_change_req *q, const std::vector<upgradable> &list,
		       const upgradable &u, size_t &trials)
{
	if (u.held)
		return "held";
	if (u.excluded)
		return "excluded";
	if (u.to.end())
		return "not from an allowed origin";
	/* Only APT's upgrade applies phasing, and only to packages not named. */
	if (q->nitems == 0 && phasing(c, u.to))
		return "phased";
	if (trials >= TRIALS_MAX)
		return "dependencies cannot be met (not analysed further)";
	trials++;
	std::string removed = would_remove(c, list, u);
	return removed.empty() ? "dependencies cannot be met" : "would remove " + removed;
}

int kept_back(pkgCacheFile &c, pkgDepCache &dc, const aptshim_change_req *q, const std::vector<upgradable> &list,
	      aptshim_change_res *r)
{
	std::vector<aptshim_kept> kept;
	size_t trials = 0;

	_error->PushToStack();   /* a trial's resolver errors are not the change's */
	for (const upgradable &u : list) {
		if (moves(dc, u.p))
			continue;
		aptshim_kept k;
		std::memset(&k, 0, sizeof(k));
		pkgCache::VerIterator shown = u.to.end() ? u.cand : u.to;
		std::snprintf(k.name, sizeof(k.name), "%s", u.p.FullName(true).c_str());
		std::snprintf(k.installed, sizeof(k.installed), "%s", u.p.CurrentVer().VerStr());
		std::snprintf(k.candidate, sizeof(k.candidate), "%s", shown.end() ? "" : shown.VerStr());
		std::snprintf(k.reason, sizeof(k.reason), "%s", reason_for(c, q, list, u, trials).c_str());
		kept.push_back(k);
	}
	_error->RevertToStack();
	/* By name, as the record's changes read. */
	std::sort(kept.begin(), kept.end(),
		  [](const aptshim_kept &a, const aptshim_kept &b) { return std::strcmp(a.name, b.name) < 0; });
	r->kept = static_cast<aptshim_kept *>(std::calloc(kept.size() + 1, sizeof(aptshim_kept)));
	if (r->kept == nullptr)
		return -1;
	if (!kept.empty())
		std::memcpy(r->kept, kept.data(), kept.size() * sizeof(aptshim_kept));
	r->nkept = kept.size();
	return 0;
}

/* The pins held and a safe upgrade removes nothing, whatever the resolver did. */
int guard(pkgDepCache &dc, const aptshim_change_req *q, const std::vector<upgradable> &list, aptshim_change_res *r,
	  char *err, size_t errlen)
{
	std::string moved, removed;
	for (const upgradable &u : list)
		if (pinned(u) && moves(dc, u.p))
			add(moved, u.p.FullName(true) + (u.held ? " (held)" : " (excluded)"));
	if (!q->full)
		for (pkgCache::PkgIterator p = dc.GetCache().PkgBegin(); !p.end(); ++p)
			if (dc[p].Delete())
				add(removed, p.FullName(true));
	if (!moved.empty()) {
		std::snprintf(r->refused_by, sizeof(r->refused_by), "pinned");
		set_err(err, errlen, "refused: the upgrade would change " + moved +
					     "; upgrade the rest with --exclude, or unhold it first");
		return -1;
	}
	if (!removed.empty()) {
		std::snprintf(r->refused_by, sizeof(r->refused_by), "removal");
		set_err(err, errlen, "refused: the safe upgrade would remove " + removed + "; use --full to allow that");
		return -1;
	}
	return 0;
}

} // namespace

namespace shim {

int plan_upgrade(pkgCacheFile &c, pkgDepCache &dc, const aptshim_change_req *q, aptshim_change_res *r, char *err,
		 size_t errlen)
{
	std::vector<upgradable> list;
	pkgProblemResolver fix(&dc);
	bool ok;

	if (collect(dc, q, list, err, errlen) < 0)
		return -1;
	{
		pkgDepCache::ActionGroup group(dc);
		for (upgradable &u : list)
			if (pinned(u))
				pin(dc, &fix, u.p);
		ok = q->nitems > 0 ? plan_named(dc, fix, q, list) : plan_all(dc, q, list);
	}
	if (!ok || dc.BrokenCount() != 0)
		return -2;   /* the caller names the broken packages */
	if (kept_back(c, dc, q, list, r) < 0)
		return set_err(err, errlen, "out of memory"), -1;
	return guard(dc, q, list, r, err, errlen);
}

} // namespace shim
