/* priv's own small state files (change journal, nonces, host key): written
 * whole so that a power cut leaves the old file or the new one, never a torn
 * one, and read back with a size bound. */
#ifndef CR_PRIV_FILE_H
#define CR_PRIV_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Writes the new content to fd; < 0 with errno set on failure. */
typedef int (*priv_fill_fn)(int fd, const void *arg);

/* name.tmp in dirfd created afresh with mode (a stale one is removed
 * first), filled, fsynced and renamed over name, then the directory
 * fsynced.  Returns 0, or the errno value of the step that failed (the
 * tmp file is then removed). */
int priv_file_replace(int dirfd, const char *name, mode_t mode, priv_fill_fn fill, const void *arg);

/* The whole of the regular file open on fd, NUL-terminated, its length in
 * *len.  NULL when it is not a regular file, holds more than max bytes, or
 * memory runs out.  A read error ends it early: what was read is returned. */
char *priv_file_read(int fd, size_t max, size_t *len);

#endif
