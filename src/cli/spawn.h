/* Running other programs from the CLI (redis-server, celeryrootd, dpkg-deb,
 * dpkg-scanpackages): argv arrays only, never a shell. */
#ifndef CR_SPAWN_H
#define CR_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

/* Starts argv[0] (a path, or a name looked up in PATH) with fork + execvp.
 * out_fd/err_fd: -1 inherits, otherwise dup2'd onto 1/2.  env_extra: NULL or
 * a NULL-terminated list of "K=V" (at most 32) added to our environment; each
 * replaces an inherited K.  new_session: setsid() in the child, so a Ctrl-C
 * at the terminal does not reach it and kill(-pid) reaches all it started.
 * Returns the pid or -1. */
pid_t spawn_argv(const char *const argv[], const char *const env_extra[], int out_fd,
		 int err_fd, int new_session);
/* Runs to completion; returns the exit status (0..255), or -1 if it could not
 * start or died of a signal. */
int run_argv(const char *const argv[], const char *const env_extra[], int out_fd, int err_fd);
/* The same, started in directory cwd (NULL: ours). */
pid_t spawn_argv_in(const char *cwd, const char *const argv[], const char *const env_extra[],
		    int out_fd, int err_fd, int new_session);
int run_argv_in(const char *cwd, const char *const argv[], const char *const env_extra[], int out_fd,
		int err_fd);
/* Waits for pid; its exit status, or -1 if it died of a signal. */
int wait_exit(pid_t pid);
/* Directory of the running executable (for finding celeryrootd beside us). */
int self_exe_dir(char *buf, size_t len);
/* Finds a program (a bare name) into out: beside our executable first, then
 * PATH, then /usr/sbin, /usr/bin, /sbin, /bin.  0 on success. */
int find_program(const char *name, char *out, size_t len);
/* rm -rf of an absolute path other than / without a shell: nftw, never
 * following symlinks or crossing into another file system.  0 if all went. */
int rm_rf(const char *path);
/* mkdir -p (existing directories are fine). */
int mkdir_p(const char *path, unsigned mode);
/* Writes a whole file (create/truncate, never through a symlink). */
int write_file(const char *path, const char *content, unsigned mode);

#endif
