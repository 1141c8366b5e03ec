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
 *    and is not asked. */
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

} // namespace

namespace shim {

int check_policy(pkgCacheFile &c, pkgDepCache &dc, const aptshim_change_req *q, aptshim_change_res *r, char *err,
		 size_t errlen)
{
	std::string untrusted, where, downgrades;
	pkgSourceList *src = c.GetSourceList();

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
