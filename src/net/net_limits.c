/* net's resource limits, set after the uid drop and before Landlock and
 * seccomp (setrlimit is not on the allowlist):
 *
 *  RLIMIT_NPROC 0   no new process or thread, whatever else fails (seccomp
 *                   already kills on clone; this holds even if it did not).
 *  RLIMIT_FSIZE 0   no byte written to any regular file.  Left alone when
 *                   net's stdout or stderr is a regular file (celeryrootd
 *                   --foreground > file), or net could not log at all; it
 *                   says so in the log.  In production stderr is the
 *                   journal's socket or /dev/null and the limit is set.
 *                   Not under valgrind either (see under_valgrind).
 *  RLIMIT_NOFILE    exactly what net holds at most: stdin/out/err, the
 *                   socketpair, the syslog socket, and one Redis connection
 *                   for commands plus one blocking connection per queue
 *                   (its host queue and one per role); one spare for a
 *                   reconnect in flight.  Measured: an idle pair with one
 *                   role holds 0-3 and three Redis sockets (DESIGN §1).
 * Soft and hard limits alike: net cannot raise them again. */
#include "config.h"
#include "net.h"

#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#include "log.h"

static int set_limit(int res, rlim_t v, const char *name)
{
	struct rlimit rl = { v, v };

	if (setrlimit(res, &rl) != 0) {
		error_f("cannot set %s to %lu: %s", name, (unsigned long)v, strerror(errno));
		return -1;
	}
	return 0;
}

static int is_regular(int fd)
{
	struct stat sb;

	return fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Under valgrind (tools/hardening-check.sh valgrind; detected as in
 * net_seccomp.c, by an instruction only valgrind's CPU answers), which
 * writes its report to a regular file from inside net and keeps
 * descriptors of its own above the soft limit: no RLIMIT_FSIZE, and only
 * the soft RLIMIT_NOFILE (valgrind refuses a new hard one).  net's
 * allowlist has no setrlimit or prlimit64 to raise it again. */
static int under_valgrind(void)
{
#ifdef HAVE_VALGRIND_VALGRIND_H
	return RUNNING_ON_VALGRIND != 0;
#else
	return 0;
#endif
}

static int set_nofile(rlim_t v)
{
	struct rlimit rl = { v, v };

	if (under_valgrind() && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = v;
		info_f("under valgrind: RLIMIT_NOFILE is a soft limit only");
	}
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		error_f("cannot set RLIMIT_NOFILE to %lu: %s", (unsigned long)v, strerror(errno));
		return -1;
	}
	return 0;
}

unsigned long net_nofile_limit(int nroles)
{
	/* 0-2, priv's socketpair, syslog, the command connection, the host
	 * queue and each role's queue, a spare. */
	return 3 + 1 + 1 + 1 + 1 + (unsigned long)(nroles > 0 ? nroles : 0) + 1;
}

int net_limits_apply(int nroles, char *said, size_t len)
{
	unsigned long nofile = net_nofile_limit(nroles);
	int fsize = !is_regular(STDOUT_FILENO) && !is_regular(STDERR_FILENO) && !under_valgrind();

	if (set_limit(RLIMIT_NPROC, 0, "RLIMIT_NPROC") < 0 ||
	    set_nofile((rlim_t)nofile) < 0 ||
	    (fsize && set_limit(RLIMIT_FSIZE, 0, "RLIMIT_FSIZE") < 0))
		return -1;
	if (!fsize && !under_valgrind())
		error_f("warning: stdout or stderr is a regular file, so RLIMIT_FSIZE is left unset for "
			"net to log there; run celeryrootd under systemd or detached for the limit");
	snprintf(said, len, "rlimits nproc 0, nofile %lu, fsize %s", nofile, fsize ? "0" : "unlimited");
	return 0;
}
