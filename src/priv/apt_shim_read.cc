/* Read-only questions to libapt-pkg: what is installed, what apt would
 * install, from where, and refreshing the lists.  None of them takes the
 * dpkg lock, so a query never waits behind a change in progress. */
#include "config.h"
#include "apt_shim.h"
#include "apt_shim_int.h"

#include <apt-pkg/acquire.h>
#include <apt-pkg/cachefile.h>
#include <apt-pkg/depcache.h>
#include <apt-pkg/error.h>
#include <apt-pkg/pkgcache.h>
#include <apt-pkg/pkgsystem.h>
#include <apt-pkg/policy.h>
#include <apt-pkg/sourcelist.h>
#include <apt-pkg/update.h>
#include <apt-pkg/version.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace shim;

namespace {

void copy_field(char *dst, size_t len, const char *src)
{
	std::snprintf(dst, len, "%s", src != nullptr ? src : "");
}

/* The archive a version comes from; the dpkg status file is not one. */
pkgCache::PkgFileIterator source_file(pkgCache::VerIterator v)
{
	for (pkgCache::VerFileIterator vf = v.FileList(); !vf.end(); ++vf) {
		pkgCache::PkgFileIterator f = vf.File();
		if (!f.Flagged(pkgCache::Flag::NotSource))
			return f;
	}
	return pkgCache::PkgFileIterator();
}

bool ends_with(const char *s, const char *suffix)
{
	size_t n = s ? std::strlen(s) : 0, m = std::strlen(suffix);
	return n >= m && std::strcmp(s + n - m, suffix) == 0;
}

} // namespace

namespace shim {

/* What unattended-upgrades calls a security origin: Debian's and Ubuntu's
 * security suites (bookworm-security, jammy-security) or their label. */
bool is_security_file(pkgCache::PkgFileIterator f)
{
	if (f.end() || f.Archive() == nullptr)
		return false;
	return ends_with(f.Archive(), "-security") || ends_with(f.Codename(), "-security") ||
	       (f.Label() != nullptr && std::strcmp(f.Label(), "Debian-Security") == 0);
}

/* The newest version from a security origin, or an end iterator. */
pkgCache::VerIterator security_candidate(pkgCache::PkgIterator p)
{
	pkgCache::VerIterator best;
	for (pkgCache::VerIterator v = p.VersionList(); !v.end(); ++v) {
		bool sec = false;
		for (pkgCache::VerFileIterator vf = v.FileList(); !vf.end() && !sec; ++vf)
			sec = is_security_file(vf.File());
		if (sec && (best.end() || _system->VS->CmpVersion(v.VerStr(), best.VerStr()) > 0))
			best = v;
	}
	return best;
}

void fill_info(pkgCacheFile &c, pkgCache::PkgIterator p, const char *asked, aptshim_pkg_info *out)
{
	std::memset(out, 0, sizeof(*out));
	copy_field(out->name, sizeof(out->name), asked);
	if (p.end())
		return;
	pkgCache::VerIterator cur = p.CurrentVer();
	pkgCache::VerIterator cand = c.GetPolicy()->GetCandidateVer(p);
	out->known = !p.VersionList().end();
	if (!cur.end())
		copy_field(out->installed, sizeof(out->installed), cur.VerStr());
	if (!cand.end()) {
		copy_field(out->candidate, sizeof(out->candidate), cand.VerStr());
		pkgCache::PkgFileIterator f = source_file(cand);
		if (!f.end()) {
			copy_field(out->origin, sizeof(out->origin), f.Origin());
			copy_field(out->archive, sizeof(out->archive), f.Archive());
			copy_field(out->label, sizeof(out->label), f.Label());
			out->security = is_security_file(f);
		}
	}
	out->upgradable = !cur.end() && !cand.end() && _system->VS->CmpVersion(cand.VerStr(), cur.VerStr()) > 0;
	pkgCache::VerIterator sec = security_candidate(p);
	out->security_upgradable = !cur.end() && !sec.end() && _system->VS->CmpVersion(sec.VerStr(), cur.VerStr()) > 0;
	if (out->security_upgradable)
		copy_field(out->security_version, sizeof(out->security_version), sec.VerStr());
	copy_field(out->selection, sizeof(out->selection), selection_word(p));
}

/* "name" is the native architecture's package; "name:arch" that one's. */
pkgCache::PkgIterator find_pkg(pkgCache *cache, const char *spec)
{
	std::string s(spec);
	size_t colon = s.find(':');
	if (colon == std::string::npos)
		return cache->FindPkg(s);
	return cache->FindPkg(s.substr(0, colon), s.substr(colon + 1));
}

} // namespace shim

namespace {

/* The cache and its policy, which every read below needs: nullptr, with
 * err set, when either is not there. */
pkgCache *read_cache(pkgCacheFile **file, char *err, size_t errlen)
{
	pkgCacheFile *c = shim_cache(err, errlen);
	if (c == nullptr)
		return nullptr;
	pkgCache *cache = c->GetPkgCache();
	if (cache == nullptr || c->GetPolicy() == nullptr) {
		fail(err, errlen, "the package cache is not available");
		return nullptr;
	}
	*file = c;
	return cache;
}

int do_query(const char *const *names, size_t n, aptshim_pkg_info *out, char *err, size_t errlen)
{
	pkgCacheFile *c = nullptr;
	pkgCache *cache = read_cache(&c, err, errlen);
	if (cache == nullptr)
		return -1;
	for (size_t i = 0; i < n; i++)
		fill_info(*c, find_pkg(cache, names[i]), names[i], &out[i]);
	return 0;
}

bool wanted(const aptshim_pkg_info &i, int upgradable_only, int security_only)
{
	if (i.installed[0] == '\0')
		return false;
	if (security_only)
		return i.security_upgradable;
	return !upgradable_only || i.upgradable;
}

int do_list(int upgradable_only, int security_only, aptshim_pkg_info **out, size_t *n, char *err,
	    size_t errlen)
{
	pkgCacheFile *c = nullptr;
	pkgCache *cache = read_cache(&c, err, errlen);
	if (cache == nullptr)
		return -1;
	std::vector<aptshim_pkg_info> found;
	for (pkgCache::PkgIterator p = cache->PkgBegin(); !p.end(); ++p) {
		if (p->CurrentVer == 0)
			continue;
		aptshim_pkg_info i;
		fill_info(*c, p, p.FullName(true).c_str(), &i);
		if (wanted(i, upgradable_only, security_only))
			found.push_back(i);
	}
	*n = found.size();
	*out = static_cast<aptshim_pkg_info *>(std::calloc(found.size() + 1, sizeof(aptshim_pkg_info)));
	if (*out == nullptr)
		return set_err(err, errlen, "out of memory"), -1;
	if (!found.empty())
		std::memcpy(*out, found.data(), found.size() * sizeof(aptshim_pkg_info));
	return 0;
}

/* Quiet: priv's stdout is not a terminal anyone reads; failures come back
 * through _error. */
class quiet_acquire : public pkgAcquireStatus {
public:
	bool MediaChange(std::string, std::string) override { return false; }
};

int do_update(char *err, size_t errlen)
{
	pkgSourceList list;
	quiet_acquire status;

	_error->Discard();
	if (!list.ReadMainList())
		return fail(err, errlen, "cannot read the sources list");
	/* Another apt-get update holds the lists lock: fail rather than wait
	 * forever; ListUpdate takes it itself. */
	bool ok = ListUpdate(status, list);
	std::string msg;
	bool had_error = drain_errors(msg);
	cache_close();   /* the lists changed under it */
	if (!ok || had_error) {
		set_err(err, errlen, "apt update failed: " + (msg.empty() ? std::string("no reason given") : msg));
		return -1;
	}
	return 0;
}

} // namespace

extern "C" int priv_aptshim_query(const char *const *names, size_t n, struct aptshim_pkg_info *out, char *err,
			     size_t errlen)
{
	if ((names == nullptr || out == nullptr) && n > 0)
		return set_err(err, errlen, "no packages to query"), -1;
	return guarded(err, errlen, [&] { return do_query(names, n, out, err, errlen); });
}

extern "C" int priv_aptshim_list(int upgradable_only, int security_only, struct aptshim_pkg_info **out, size_t *n,
			    char *err, size_t errlen)
{
	if (out == nullptr || n == nullptr)
		return set_err(err, errlen, "no output for the list"), -1;
	*out = nullptr;
	*n = 0;
	return guarded(err, errlen, [&] { return do_list(upgradable_only, security_only, out, n, err, errlen); });
}

namespace {

int do_reinstall_version(const char *name, const char *status_ver, char *out, size_t len, char *err, size_t errlen)
{
	pkgCacheFile *c = shim_cache(err, errlen);
	if (c == nullptr)
		return -1;
	pkgCache::PkgIterator p = find_pkg(c->GetPkgCache(), name);
	if (p.end())
		return 0;
	/* Downloadable: some archive has it (the status file is not one). */
	for (pkgCache::VerIterator v = p.VersionList(); !v.end(); ++v)
		if (status_ver != nullptr && std::strcmp(v.VerStr(), status_ver) == 0 && v.Downloadable())
			return copy_field(out, len, v.VerStr()), 1;
	pkgDepCache *dc = c->GetDepCache();
	pkgCache::VerIterator cand = dc != nullptr ? dc->GetCandidateVersion(p) : pkgCache::VerIterator();
	if (!cand.end() && cand.Downloadable())
		return copy_field(out, len, cand.VerStr()), 1;
	return 0;
}

} // namespace

extern "C" int priv_aptshim_reinstall_version(const char *name, const char *status_ver, char *out, size_t len, char *err,
					 size_t errlen)
{
	if (name == nullptr || out == nullptr || len == 0)
		return set_err(err, errlen, "no package to look up"), -1;
	out[0] = '\0';
	return guarded(err, errlen, [&] { return do_reinstall_version(name, status_ver, out, len, err, errlen); });
}

extern "C" int priv_aptshim_update(char *err, size_t errlen)
{
	return guarded(err, errlen, [&] { return do_update(err, errlen); });
}
