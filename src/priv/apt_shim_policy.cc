/* APT's refusals that priv must copy (issue 12), checked on the plan before
 * dpkg runs (and in check mode, which predicts the real run):
 *
 *  - unauthenticated archives: every version the plan fetches must come
 *    from at least one index apt trusts (a signed Release, or a source the
 *    host's owner marked [trusted=yes]), the choice pkgAcqArchive makes and
 *    apt-get refuses on ("There were unauthenticated packages and -y was
 *    used without --allow-unauthenticated").  An [allow-insecure=yes]
 *    source with an unsigned Release is not trusted.  The host's config
 *    may allow it ([daemon] allow_unauthenticated = true): the change then
 *    runs, and the record names what was installed so.
 *  - downgrades: a plan that downgrades anything is refused unless the
 *    request says allow_downgrade (a signed kwarg), as apt-get demands
 *    --allow-downgrades.  A rollback or a repair puts back what was there
 *    and is not asked.
 *
 * And issue 15's guards, checked first, for the user's operations only:
 *
 *  - holds: a plan that changes a package whose dpkg selection is "hold"
 *    (upgrades, downgrades, reinstalls or removes it) is refused, as
 *    apt-get refuses without --allow-change-held-packages; the way out is
 *    'apt unhold'.  (upgrade leaves held packages unmarked: apt_shim_mark.cc.)
 *  - essential: a plan that removes an Essential: yes or Priority: required
 *    package needs allow_essential (a signed kwarg, --allow-essential).
 *  - removals: an install, remove or upgrade whose plan removes packages
 *    the request did not name needs allow_removals (--allow-removals);
 *    autoremove is exempt, removing unnamed packages is its job. */
#include "config.h"
#include "apt_shim.h"
#include "apt_shim_int.h"

#include <apt-pkg/cachefile.h>
#include <apt-pkg/depcache.h>
#include <apt-pkg/indexfile.h>
#include <apt-pkg/pkgcache.h>
#include <apt-pkg/sourcelist.h>

#include <cstdio>
#include <string>

using namespace shim;

namespace {

/* Is v in an index apt trusts?  The index names the first untrusted one. */
bool trusted(pkgSourceList *src, pkgCache::VerIterator v, std::string &index)
{
	for (pkgCache::VerFileIterator vf = v.FileList(); !vf.end(); ++vf) {
		pkgIndexFile *idx = nullptr;
		if (src == nullptr || !src->FindIndex(vf.File(), idx) || idx == nullptr)
			continue;   /* dpkg's status file: not something to fetch from */
		if (idx->IsTrusted())
			return true;
		if (index.empty())
			index = idx->Describe(true);
	}
	return false;
}

void add(std::string &list, const std::string &item)
{
	if (list.size() < 600)
		list.append(list.empty() ? "" : ", ").append(item);
}

bool user_op(enum aptshim_op op)
{
	return op == APTSHIM_INSTALL || op == APTSHIM_REMOVE || op == APTSHIM_UPGRADE || op == APTSHIM_AUTOREMOVE;
}

/* Named in the request: as "pkg", or as "pkg:arch" (the native one too). */
bool named(const aptshim_change_req *q, pkgCache::PkgIterator p)
{
	std::string full = p.FullName(true), name = p.Name(), arch = p.FullName(false);
	for (size_t i = 0; i < q->nitems; i++)
		if (full == q->items[i].name || name == q->items[i].name || arch == q->items[i].name)
			return true;
	return false;
}

bool essential(pkgCache::PkgIterator p, std::string &why)
{
	pkgCache::VerIterator cur = p.CurrentVer();
	if ((p->Flags & pkgCache::Flag::Essential) != 0)
		why = " (Essential: yes)";
	else if (!cur.end() && cur->Priority == pkgCache::State::Required)
		why = " (Priority: required)";
	else
		return false;
	return true;
}

int refuse(aptshim_change_res *r, const char *by, char *err, size_t errlen, const std::string &msg)
{
	std::snprintf(r->refused_by, sizeof(r->refused_by), "%s", by);
	set_err(err, errlen, msg);
	return -1;
}

/* The guards, in the order a reader fixes them: holds, essential, removals. */
int check_guards(pkgDepCache &dc, const aptshim_change_req *q, aptshim_change_res *r, char *err, size_t errlen)
{
	std::string held_list, ess_list, unnamed;

	for (pkgCache::PkgIterator p = dc.GetCache().PkgBegin(); !p.end(); ++p) {
		pkgDepCache::StateCache &s = dc[p];
		bool changes = s.Delete() || s.NewInstall() || s.Upgrade() || s.Downgrade() || s.ReInstall();
		std::string why;
		if (changes && held(p))
			add(held_list, p.FullName(true));
		if (s.Delete() && !p.CurrentVer().end() && essential(p, why))
			add(ess_list, p.FullName(true) + why);
		if (s.Delete() && !p.CurrentVer().end() && !named(q, p))
			add(unnamed, p.FullName(true));
	}
	if (!held_list.empty())
		return refuse(r, "held", err, errlen, "refused: the change would change " + held_list +
			      ", held (dpkg selection hold); release it with 'celeryroot apt unhold' first");
	if (!ess_list.empty() && !q->allow_essential)
		return refuse(r, "essential", err, errlen, "refused: the change would remove " + ess_list +
			      "; send it with --allow-essential (a signed allow_essential) to allow that");
	if (!unnamed.empty() && q->op != APTSHIM_AUTOREMOVE && !q->allow_removals)
		return refuse(r, "removals", err, errlen, "refused: the change would also remove " + unnamed +
			      ", which the task did not name; send it with --allow-removals (a signed "
			      "allow_removals) to allow that");
	return 0;
}

} // namespace

namespace shim {

int check_policy(pkgCacheFile &c, pkgDepCache &dc, const aptshim_change_req *q, aptshim_change_res *r, char *err,
		 size_t errlen)
{
	std::string untrusted, where, downgrades;
	pkgSourceList *src = c.GetSourceList();

	if (user_op(q->op) && check_guards(dc, q, r, err, errlen) < 0)
		return -1;

	for (pkgCache::PkgIterator p = dc.GetCache().PkgBegin(); !p.end(); ++p) {
		pkgDepCache::StateCache &s = dc[p];
		if (s.Delete() || !(s.NewInstall() || s.Upgrade() || s.Downgrade() || s.ReInstall()))
			continue;
		pkgCache::VerIterator v = s.InstVerIter(dc.GetCache());
		if (v.end())
			continue;
		std::string name = p.FullName(true) + " " + v.VerStr();
		if (!trusted(src, v, where))
			add(untrusted, name);
		if (s.Downgrade() && !p.CurrentVer().end())
			add(downgrades, p.FullName(true) + " " + p.CurrentVer().VerStr() + " -> " + v.VerStr());
	}
	if (!downgrades.empty() && user_op(q->op) && !q->allow_downgrade) {
		std::snprintf(r->refused_by, sizeof(r->refused_by), "downgrade");
		set_err(err, errlen, "refused: the change would downgrade " + downgrades +
					     "; send it with --allow-downgrade (a signed allow_downgrade) to allow that");
		return -1;
	}
	if (!untrusted.empty() && !q->allow_unauthenticated) {
		std::snprintf(r->refused_by, sizeof(r->refused_by), "unauthenticated");
		set_err(err, errlen, "refused: " + untrusted + " would be installed from archives apt cannot authenticate (" +
					     where + "); this host's config must say [daemon] allow_unauthenticated = true "
					     "to allow that");
		return -1;
	}
	std::snprintf(r->unauthenticated, sizeof(r->unauthenticated), "%s", untrusted.c_str());
	return 0;
}

} // namespace shim
