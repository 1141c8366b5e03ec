/* Finding and starting the net program (celeryroot-net) from celeryrootd. */
#ifndef CR_NETEXEC_H
#define CR_NETEXEC_H

#include <stddef.h>
#include <sys/types.h>

/* Where net is: NET_PROGRAM ($(pkglibexecdir)/celeryroot-net) when this
 * celeryrootd is the installed one (the same file as SBINDIR/celeryrootd);
 * otherwise celeryroot-net in this program's own directory (a build tree,
 * for the tests and the demo).  Nothing in the environment or on the
 * command line can name it.  The file must be a regular executable owned
 * by root or by this program's owner and writable by nobody else, in a
 * directory with the same owners that others cannot write.  0 with the
 * path, or -1 with the reason. */
int netexec_find(char *path, size_t len, char *err, size_t errlen);

/* Forks; the child execs path with privfd as fd 3 and bootfd as fd 4 and
 * every other descriptor above 2 closed.  The child's pid, or -1. */
pid_t netexec_start(const char *path, int privfd, int bootfd);

#endif
