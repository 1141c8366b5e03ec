/* The only C++ in the tree: a small C interface to libapt-pkg, modelled on
 * python-apt's bindings.  Every extern "C" entry point catches all C++
 * exceptions, and every libapt-pkg error is drained from _error into one
 * line for the caller (python-apt's HandleErrors).
 *
 * State is per process: one host root, one configuration, and one cache that
 * stays open between calls and is reopened when the dpkg status file or the
 * apt lists change, or after priv gave it back for being idle (DESIGN §7).
 * Later operations (install, remove, check mode, progress, locking) are meant
 * to plug in beside priv_aptshim_installed_count(): they get the cache
 * through shim_cache(), with the lock when they change something. */
#include "config.h"
#include "apt_shim.h"
#include "apt_shim_int.h"

#include <apt-pkg/cachefile.h>
#include <apt-pkg/configuration.h>
#include <apt-pkg/error.h>
#include <apt-pkg/init.h>
#include <apt-pkg/pkgcache.h>
#include <apt-pkg/pkgsystem.h>

#include <malloc.h>
#include <sys/stat.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#if defined(__SANITIZE_ADDRESS__)
/* libasan's (GCC 12 ships no header for it): an ASan build's allocator
 * keeps what was freed in its quarantine, where malloc_trim cannot reach. */
extern "C" void __sanitizer_purge_allocator(void);
#endif

namespace shim {

shim_state S;

/* Copies msg into err as one line: libapt-pkg messages can hold newlines. */
void set_err(char *err, size_t errlen, const std::string &msg)
{
	if (err == nullptr || errlen == 0)
		return;
	std::snprintf(err, errlen, "%s", msg.c_str());
	for (char *p = err; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
}

/* Drains _error into one line, as python-apt's HandleErrors does, errors
 * before warnings (the error is what the reader needs; err buffers are
 * short); notices and debug messages are dropped.  Returns true when an
 * error (not just a warning) was pending. */
bool drain_errors(std::string &out)
{
	bool had_error = _error->PendingError();
	std::string errors, warnings;

	while (!_error->empty(GlobalError::WARNING)) {
		std::string msg;
		std::string &to = _error->PopMessage(msg) ? errors : warnings;
		if (to.size() > 4096)
			continue;   /* keep draining, stop growing */
		to.append(to.empty() ? "" : "; ").append(msg);
	}
	_error->Discard();
	out = errors;
	if (!warnings.empty())
		out.append(out.empty() ? "" : "; ").append("warnings: ").append(warnings);
	return had_error;
}

/* Fails with what libapt-pkg said, or with what when it said nothing. */
int fail(char *err, size_t errlen, const char *what)
{
	std::string msg;

	drain_errors(msg);
	set_err(err, errlen, msg.empty() ? std::string(what) : std::string(what) + ": " + msg);
	return -1;
}

std::string under_root(const std::string &root, const char *rel)
{
	if (root == "/")
		return std::string("/") + rel;
	return root + "/" + rel;
}

/* Everything that points apt and dpkg at the host root.  Called between
 * pkgInitConfig and pkgInitSystem. */
void configure_root(const std::string &root)
{
	_config->Set("Dir::State::status", under_root(root, "var/lib/dpkg/status"));
	if (root != "/") {
		/* Sandbox hosts only: the _apt download user cannot read a
		 * root-owned sandbox.  On a real host apt's own default stands,
		 * and its download methods drop to _apt, as apt-get's do. */
		_config->Set("APT::Sandbox::User", "root");
		_config->Set("DPkg::Options::", "--root=" + root);
		/* Maintainer scripts run on the real system, paths taken from DPKG_ROOT. */
		_config->Set("DPkg::Options::", "--force-script-chrootless");
		_config->Set("DPkg::Options::", "--log=" + under_root(root, "var/log/dpkg.log"));
	}
	/* No prompts, ever (DESIGN §7): keep the local conffile, take defaults. */
	_config->Set("DPkg::Options::", "--force-confdef");
	_config->Set("DPkg::Options::", "--force-confold");
	/* A host's (or sandbox's) apt.conf.d must not make priv chatty on its
	 * stdout/stderr, which are net's and the journal's. */
	_config->Clear("Debug");
}

bool same_time(const struct timespec &a, const struct timespec &b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* A missing lists directory is a valid state (never updated): zero time. */
stamp take_stamp()
{
	stamp s;
	struct stat st;
	std::string status = _config->FindFile("Dir::State::status");
	std::string lists = _config->FindDir("Dir::State::lists");

	if (stat(status.c_str(), &st) == 0) {
		s.status_mtime = st.st_mtim;
		s.status_size = st.st_size;
	}
	if (stat(lists.c_str(), &st) == 0)
		s.lists_mtime = st.st_mtim;
	s.valid = true;
	return s;
}

bool stamp_changed(const stamp &a, const stamp &b)
{
	return !a.valid || !b.valid || !same_time(a.status_mtime, b.status_mtime) ||
	       a.status_size != b.status_size || !same_time(a.lists_mtime, b.lists_mtime);
}

static double mono_now() noexcept
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cache_touch() noexcept
{
	if (S.cache != nullptr)
		S.used = mono_now();
}

void cache_close()
{
	if (S.cache != nullptr) {
		S.cache->Close();
		delete S.cache;
		S.cache = nullptr;
	}
	S.opened = stamp();
}

/* The cache, opened read-only (without the dpkg lock) and reused while the
 * files it was built from are unchanged.  nullptr with err set on failure. */
pkgCacheFile *shim_cache(char *err, size_t errlen)
{
	if (!S.inited) {
		set_err(err, errlen, "apt is not initialised (priv_aptshim_init)");
		return nullptr;
	}
	stamp now = take_stamp();
	if (S.cache != nullptr && !stamp_changed(S.opened, now))
		return S.cache;
	if (!S.failed_msg.empty() && !stamp_changed(S.failed, now)) {
		set_err(err, errlen, S.failed_msg);
		return nullptr;
	}
	cache_close();
	S.failed_msg.clear();
	_error->Discard();
	pkgCacheFile *c = new pkgCacheFile();
	if (!c->Open(nullptr, false) || _error->PendingError()) {
		delete c;
		fail(err, errlen, "cannot open the package cache");
		S.failed = now;
		S.failed_msg = err != nullptr && errlen > 0 ? err : "cannot open the package cache";
		return nullptr;
	}
	std::string warnings;
	drain_errors(warnings);   /* warnings alone do not fail a read */
	S.cache = c;
	S.opened = now;
	cache_touch();
	return S.cache;
}

int do_init(const char *root, char *err, size_t errlen)
{
	if (root == nullptr || root[0] != '/') {
		set_err(err, errlen, "host root must be an absolute path");
		return -1;
	}
	std::string r(root);
	while (r.size() > 1 && r.back() == '/')
		r.pop_back();
	if (S.inited) {
		if (r == S.root)
			return 0;
		set_err(err, errlen, "apt is already initialised for another host root");
		return -1;
	}
	/* A sandbox must never read the host's configuration, and APT_CONFIG is
	 * read by pkgInitConfig before anything else. */
	if (r != "/")
		unsetenv("APT_CONFIG");
	_error->Discard();
	/* Dir first: pkgInitConfig reads Dir/etc/apt/apt.conf.d, so setting it
	 * later would run the host's hooks during sandbox operations. */
	_config->Set("Dir", r);
	if (!pkgInitConfig(*_config))
		return fail(err, errlen, "cannot read the apt configuration");
	configure_root(r);
	if (!pkgInitSystem(*_config, _system) || _system == nullptr)
		return fail(err, errlen, "cannot initialise the packaging system");
	std::string warnings;
	drain_errors(warnings);
	S.root = r;
	S.inited = true;
	return 0;
}

int do_installed_count(long *count, char *err, size_t errlen)
{
	pkgCacheFile *c = shim_cache(err, errlen);
	if (c == nullptr)
		return -1;
	pkgCache *cache = c->GetPkgCache();
	if (cache == nullptr)
		return fail(err, errlen, "the package cache is not available");
	long n = 0;
	for (pkgCache::PkgIterator p = cache->PkgBegin(); !p.end(); ++p)
		if (p->CurrentVer != 0)
			n++;
	*count = n;
	return 0;
}

} // namespace shim

using namespace shim;

extern "C" int priv_aptshim_init(const char *root, char *err, size_t errlen)
{
	return guarded(err, errlen, [&] { return do_init(root, err, errlen); });
}

extern "C" int priv_aptshim_installed_count(long *count, char *err, size_t errlen)
{
	if (count == nullptr) {
		set_err(err, errlen, "no output for the count");
		return -1;
	}
	return guarded(err, errlen, [&] { return do_installed_count(count, err, errlen); });
}

extern "C" int priv_aptshim_config_find(const char *key, char *out, size_t len)
{
	if (key == nullptr || out == nullptr || len == 0 || !S.inited)
		return -1;
	return guarded(nullptr, 0, [&] {
		std::snprintf(out, len, "%s", _config->Find(key).c_str());
		return 0;
	});
}

extern "C" double priv_aptshim_idle_s(void)
{
	if (S.cache == nullptr)
		return -1;
	double idle = mono_now() - S.used;
	return idle < 0 ? 0 : idle;
}

/* The cache's memory is libapt-pkg's heap: the package cache read in, the
 * depcache's and the policy's tables.  Freed, most of it sits in glibc's
 * free lists, often below live blocks where the heap cannot shrink, so
 * malloc_trim(0) hands the free pages back to the kernel wherever they are. */
extern "C" int priv_aptshim_release(void)
{
	bool had = S.cache != nullptr;

	(void)guarded(nullptr, 0, [&] {
		cache_close();
		return 0;
	});
	malloc_trim(0);
#if defined(__SANITIZE_ADDRESS__)
	__sanitizer_purge_allocator();
#endif
	return had ? 1 : 0;
}

extern "C" int priv_aptshim_native_arch(char *out, size_t len)
{
	if (out == nullptr || len == 0 || !S.inited)
		return -1;
	return guarded(nullptr, 0, [&] {
		std::snprintf(out, len, "%s", _config->Find("APT::Architecture").c_str());
		return out[0] ? 0 : -1;
	});
}
