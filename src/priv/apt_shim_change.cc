/* Changes through libapt-pkg: mark what the request asks for on a depcache
 * opened with the dpkg lock, let apt's resolver pull in or remove what that
 * needs, read the plan back from the marks, and (unless checking) fetch and
 * hand it to dpkg.  The caller (priv_change.c) reads dpkg's status before and
 * after, so the reported changes never depend on what is said here. */
#include "config.h"
#include "apt_shim.h"
#include "apt_shim_int.h"
#include "crerr.h"

#include <apt-pkg/acquire-item.h>
#include <apt-pkg/acquire.h>
#include <apt-pkg/algorithms.h>
#include <apt-pkg/cachefile.h>
#include <apt-pkg/configuration.h>
#include <apt-pkg/depcache.h>
#include <apt-pkg/error.h>
#include <apt-pkg/fileutl.h>
#include <apt-pkg/install-progress.h>
#include <apt-pkg/packagemanager.h>
#include <apt-pkg/pkgrecords.h>
#include <apt-pkg/pkgsystem.h>
#include <apt-pkg/policy.h>
#include <apt-pkg/progress.h>
#include <apt-pkg/sourcelist.h>
#include <apt-pkg/version.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace shim;

namespace {

void report(const aptshim_change_req *q, const char *stage, const char *pkg, double pct, const char *text)
{
	if (q->progress != nullptr)
		q->progress(q->ctx, stage, pkg, pct < 0 ? 0 : pct > 100 ? 100 : pct, text);
}

/* Waiting for the lock (and building the cache) reports here; apt's own
 * message names the holder of the lock. */
class lock_progress : public OpProgress {
	const aptshim_change_req *q;

public:
	explicit lock_progress(const aptshim_change_req *req) : q(req) {}
	void Update() override
	{
		if (CheckChange(1.0) && Op.find("lock") != std::string::npos)
			report(q, "lock", "", Percent, Op.c_str());
	}
};

class fetch_progress : public pkgAcquireStatus {
	const aptshim_change_req *q;

public:
	explicit fetch_progress(const aptshim_change_req *req) : q(req) {}
	bool MediaChange(std::string, std::string) override { return false; }
	bool Pulse(pkgAcquire *owner) override
	{
		pkgAcquireStatus::Pulse(owner);
		report(q, "download", "", Percent, "downloading");
		return true;
	}
};

/* dpkg's progress and errors, as apt's status-fd reader hands them on. */
class dpkg_progress : public APT::Progress::PackageManager {
	const aptshim_change_req *q;

public:
	std::string errors;
	explicit dpkg_progress(const aptshim_change_req *req) : q(req) {}
	bool StatusChanged(std::string pkg, unsigned int done, unsigned int total, std::string action) override
	{
		APT::Progress::PackageManager::StatusChanged(pkg, done, total, action);
		report(q, "dpkg", pkg.c_str(), total ? 100.0 * done / total : 0, action.c_str());
		return true;
	}
	void Error(std::string pkg, unsigned int, unsigned int, std::string msg) override
	{
		/* dpkg names an archive by its path: the file name says enough. */
		size_t slash = pkg.rfind('/');
		if (slash != std::string::npos)
			pkg = pkg.substr(slash + 1);
		if (errors.size() < 2048)
			errors.append(errors.empty() ? "" : "; ").append(pkg).append(": ").append(msg);
	}
};

bool requested(const aptshim_change_req *q, pkgCache::PkgIterator p)
{
	std::string full = p.FullName(true), name = p.Name();
	for (size_t i = 0; i < q->nitems; i++)
		if (full == q->items[i].name || name == q->items[i].name)
			return true;
	return false;
}

const char *action_of(pkgDepCache::StateCache &s, pkgCache::PkgIterator p)
{
	if (s.Delete())
		return s.Purge() ? "purge" : "remove";
	if (s.NewInstall())
		return "install";
	if (s.Upgrade())
		return "upgrade";
	if (s.Downgrade())
		return "downgrade";
	if (s.ReInstall() && !p.CurrentVer().end())
		return "reinstall";
	return nullptr;
}

void read_plan(pkgDepCache &dc, const aptshim_change_req *q, std::vector<aptshim_action> &plan)
{
	for (pkgCache::PkgIterator p = dc.GetCache().PkgBegin(); !p.end(); ++p) {
		pkgDepCache::StateCache &s = dc[p];
		const char *what = action_of(s, p);
		if (what == nullptr)
			continue;
		aptshim_action a;
		std::memset(&a, 0, sizeof(a));
		std::snprintf(a.name, sizeof(a.name), "%s", p.FullName(true).c_str());
		if (!p.CurrentVer().end())
			std::snprintf(a.old_ver, sizeof(a.old_ver), "%s", p.CurrentVer().VerStr());
		pkgCache::VerIterator to = s.InstVerIter(dc.GetCache());
		if (!s.Delete() && !to.end())
			std::snprintf(a.new_ver, sizeof(a.new_ver), "%s", to.VerStr());
		std::snprintf(a.what, sizeof(a.what), "%s", what);
		a.requested = requested(q, p);
		plan.push_back(a);
	}
}

int fetch(pkgCacheFile &c, pkgPackageManager &pm, const aptshim_change_req *q, char *err, size_t errlen)
{
	fetch_progress status(q);
	pkgAcquire fetcher(&status);
	pkgRecords recs(c);

	if (!pm.GetArchives(&fetcher, c.GetSourceList(), &recs))
		return fail(err, errlen, "cannot find the packages to download");
	if (fetcher.Run() != pkgAcquire::Continue)
		return fail(err, errlen, "the download was interrupted");
	for (auto i = fetcher.ItemsBegin(); i != fetcher.ItemsEnd(); ++i)
		if ((*i)->Status != pkgAcquire::Item::StatDone || !(*i)->Complete) {
			set_err(err, errlen, "cannot download " + (*i)->DescURI() + ": " + (*i)->ErrorText);
			return -1;
		}
	return 0;
}

/* The conffile answer for this run: the options configure_root set are
 * replaced, so a run after one that took the new files keeps again. */
void conffile_policy(const aptshim_change_req *q)
{
	_config->Clear("DPkg::Options", "--force-confold");
	_config->Clear("DPkg::Options", "--force-confnew");
	_config->Clear("DPkg::Options", "--force-confdef");
	if (q->conffile_new) {
		/* Not with confdef: dpkg's default for a file changed on both
		 * sides is to keep it, and confdef would take that default. */
		_config->Set("DPkg::Options::", "--force-confnew");
		return;
	}
	_config->Set("DPkg::Options::", "--force-confdef");
	_config->Set("DPkg::Options::", "--force-confold");
}

/* dpkg's stdout and stderr onto q->capture_fd while it runs (apt hands the
 * pty's output on to its own stdout), back to priv's when this goes out of
 * scope, however DoInstall ends. */
class capture {
	int saved[2] = { -1, -1 };

public:
	explicit capture(int fd)
	{
		if (fd <= 2)
			return;
		std::fflush(stdout);
		std::fflush(stderr);
		for (int i = 0; i < 2; i++)
			if ((saved[i] = fcntl(i + 1, F_DUPFD_CLOEXEC, 3)) >= 0)
				dup2(fd, i + 1);
	}
	~capture()
	{
		std::fflush(stdout);
		std::fflush(stderr);
		for (int i = 0; i < 2; i++)
			if (saved[i] >= 0) {
				dup2(saved[i], i + 1);
				close(saved[i]);
			}
	}
	capture(const capture &) = delete;
	capture &operator=(const capture &) = delete;
};

int apply(pkgCacheFile &c, const aptshim_change_req *q, aptshim_change_res *r, char *err, size_t errlen)
{
	std::unique_ptr<pkgPackageManager> pm(_system->CreatePM(c.GetDepCache()));
	dpkg_progress prog(q);

	if (fetch(c, *pm, q, err, errlen) < 0)
		return -1;
	/* dpkg takes the inner lock itself; apt keeps the frontend lock. */
	_system->UnLockInner();
	r->dpkg_ran = 1;
	conffile_policy(q);
	pkgPackageManager::OrderResult res;
	{
		capture out(q->capture_fd);
		res = pm->DoInstall(&prog);
	}
	std::string msg;
	bool had_error = drain_errors(msg);
	if (res == pkgPackageManager::Completed && !had_error)
		return 0;
	std::string why = prog.errors.empty() ? msg : prog.errors + (msg.empty() ? "" : "; " + msg);
	std::snprintf(r->dpkg_error, sizeof(r->dpkg_error), "%s", why.empty() ? "dpkg failed" : why.c_str());
	set_err(err, errlen, why.empty() ? "dpkg failed" : why);
	return -1;
}

/* The held packages a broken one depends on: apt keeps a hold when it
 * pulls in dependencies, so a dependency that needs one changed is left
 * unmet, and the hold is the reason to name (issue 15). */
void held_deps(pkgDepCache &dc, pkgCache::PkgIterator p, std::string &held_list)
{
	pkgCache::VerIterator v = dc[p].InstVerIter(dc.GetCache());
	for (pkgCache::DepIterator d = v.end() ? pkgCache::DepIterator() : v.DependsList(); !d.end(); ++d) {
		pkgCache::PkgIterator t = d.TargetPkg();
		std::string name = t.FullName(true);
		if (held(t) && held_list.find(name) == std::string::npos && held_list.size() < 300)
			held_list.append(held_list.empty() ? "" : ", ").append(name);
	}
}

int broken(pkgDepCache &dc, aptshim_change_res *r, char *err, size_t errlen)
{
	std::string names, held_list;
	for (pkgCache::PkgIterator p = dc.GetCache().PkgBegin(); !p.end(); ++p) {
		if (!dc[p].InstBroken())
			continue;
		if (names.size() < 300)
			names.append(names.empty() ? "" : ", ").append(p.FullName(true));
		held_deps(dc, p, held_list);
	}
	std::string msg;
	drain_errors(msg);
	if (!held_list.empty())
		std::snprintf(r->refused_by, sizeof(r->refused_by), "held");
	if (!held_list.empty())
		msg = held_list + " is held (dpkg selection hold); release it with 'celeryroot apt unhold' first" +
		      (msg.empty() ? "" : "; " + msg);
	set_err(err, errlen, "unmet dependencies (" + names + ")" + (msg.empty() ? "" : ": " + msg));
	return -1;
}

/* The marks: an upgrade as apt plans it (apt_shim_upgrade.cc), everything
 * else as mark_request says, resolved.  -2 when dependencies are broken. */
int plan_packages(pkgCacheFile &c, pkgDepCache &dc, const aptshim_change_req *q, aptshim_change_res *r, char *err,
		  size_t errlen)
{
	if (q->op == APTSHIM_UPGRADE)
		return plan_upgrade(c, dc, q, r, err, errlen);
	pkgProblemResolver fix(&dc);
	if (mark_request(dc, fix, q, err, errlen) < 0)
		return -1;
	return !fix.Resolve(true) || dc.BrokenCount() != 0 ? -2 : 0;
}

int do_change(const aptshim_change_req *q, aptshim_change_res *r, char *err, size_t errlen)
{
	lock_progress lp(q);
	pkgCacheFile c;

	_error->Discard();
	cache_close();
	_config->Set("DPkg::Lock::Timeout", q->lock_timeout_s);
	/* A check changes nothing, so it neither takes nor waits for the lock. */
	if (!c.Open(&lp, !q->check) || c.GetDepCache() == nullptr) {
		if (q->check)
			return fail(err, errlen, "cannot open the package cache");
		/* Said as a lock failure: priv then names who holds the lock. */
		fail(err, errlen, "cannot open the package cache with the dpkg lock");
		return -CR_E_LOCK;
	}
	pkgDepCache &dc = *c.GetDepCache();
	/* An upgrade's refusal (apt_shim_upgrade.cc) still reports its plan. */
	int planned = plan_packages(c, dc, q, r, err, errlen);
	if (planned == -2)
		return broken(dc, r, err, errlen);
	if (planned < 0 && r->refused_by[0] == '\0')
		return -1;
	std::vector<aptshim_action> plan;
	read_plan(dc, q, plan);
	r->nplan = plan.size();
	r->plan = static_cast<aptshim_action *>(std::calloc(plan.size() + 1, sizeof(aptshim_action)));
	if (r->plan == nullptr)
		return set_err(err, errlen, "out of memory"), -1;
	if (!plan.empty())
		std::memcpy(r->plan, plan.data(), plan.size() * sizeof(aptshim_action));
	if (planned < 0)
		return -1;
	/* A check says what the real run would do: refused too. */
	if (check_policy(c, dc, q, r, err, errlen) < 0)
		return -1;
	if (q->check || plan.empty())
		return 0;
	return apply(c, q, r, err, errlen);
}

/* Regular files apt's Clean will remove (everything but its lock). */
long count_files(const std::string &dir)
{
	DIR *d = opendir(dir.c_str());
	long n = 0;
	struct dirent *de;

	if (d == nullptr)
		return 0;
	while ((de = readdir(d)) != nullptr && n < 1000000) {
		struct stat st;
		if (std::strcmp(de->d_name, "lock") == 0 || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		n += S_ISREG(st.st_mode) ? 1 : 0;
	}
	closedir(d);
	return n;
}

int do_clean(int lock_timeout_s, long *files, char *err, size_t errlen)
{
	_error->Discard();
	_config->Set("DPkg::Lock::Timeout", lock_timeout_s);
	if (!_system->Lock())
		return fail(err, errlen, "cannot take the dpkg lock"), -CR_E_LOCK;
	std::string archives = _config->FindDir("Dir::Cache::archives");
	long n = count_files(archives) + count_files(archives + "partial/");
	pkgAcquire fetcher;
	bool ok = fetcher.GetLock(archives) && fetcher.Clean(archives) && fetcher.Clean(archives + "partial/");
	_system->UnLock();
	if (!ok)
		return fail(err, errlen, "cannot clean the archives cache");
	*files = n;
	return 0;
}

} // namespace

extern "C" int priv_aptshim_change(const struct aptshim_change_req *q, struct aptshim_change_res *r, char *err,
			      size_t errlen)
{
	if (q == nullptr || r == nullptr || (q->nitems > 0 && q->items == nullptr))
		return set_err(err, errlen, "no request"), -1;
	std::memset(r, 0, sizeof(*r));
	if (!S.inited)
		return set_err(err, errlen, "apt is not initialised (priv_aptshim_init)"), -1;
	return guarded(err, errlen, [&] { return do_change(q, r, err, errlen); });
}

extern "C" void priv_aptshim_change_res_free(struct aptshim_change_res *r)
{
	if (r != nullptr) {
		std::free(r->plan);
		r->plan = nullptr;
		r->nplan = 0;
		std::free(r->kept);
		r->kept = nullptr;
		r->nkept = 0;
	}
}

extern "C" int priv_aptshim_clean(int lock_timeout_s, long *files, char *err, size_t errlen)
{
	if (files == nullptr || !S.inited)
		return set_err(err, errlen, "apt is not initialised (priv_aptshim_init)"), -1;
	*files = 0;
	return guarded(err, errlen, [&] { return do_clean(lock_timeout_s, files, err, errlen); });
}
