/* The only C++ in the tree: a small C interface to libapt-pkg.  It keeps one
 * configuration for one host root per process. */
#ifndef CR_APT_SHIM_H
#define CR_APT_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Sets Dir to root BEFORE pkgInitConfig (so the host's apt.conf.d is never
 * read for a sandbox), then pkgInitSystem.  Once per process. */
int aptshim_init(const char *root, char *err, size_t errlen);
/* Opens (or reuses) the cache without the lock and counts installed packages. */
int aptshim_installed_count(long *count, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
