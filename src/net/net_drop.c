/* net gives up root for good: an unprivileged uid and gid, no supplementary
 * groups, no capabilities (effective, permitted, inheritable, ambient or
 * bounding), and no_new_privs.  Then, like OpenSSH's permanently_set_uid,
 * it checks that getting root back fails, rather than trusting the calls. */
#include "config.h"
#include "net.h"

#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

#include "log.h"

#define DROP_MAX_GROUPS 64

/* Looked up before any sandbox: NSS needs files and sockets. */
static int drop_lookup(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	/* getpwnam(3): ENOENT, ESRCH, EBADF or EPERM may all mean "no such
	 * user"; these mean the lookup itself broke. */
	if (pw == NULL && (errno == EIO || errno == EINTR || errno == EMFILE || errno == ENFILE ||
			   errno == ENOMEM)) {
		error_f("cannot look up user '%s': %s", user, strerror(errno));
		return -1;
	}
	if (pw == NULL) {
		error_f("user '%s' does not exist: create it (adduser --system --group %s) or pass --user nobody",
			user, user);
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		error_f("user '%s' is root (uid %ld, gid %ld): net must run as an unprivileged user",
			user, (long)pw->pw_uid, (long)pw->pw_gid);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* Only gid itself may remain as a supplementary group. */
static int drop_groups_ok(gid_t gid)
{
	gid_t groups[DROP_MAX_GROUPS];
	int n = getgroups(DROP_MAX_GROUPS, groups);

	if (n < 0)
		return 0;
	return n == 0 || (n == 1 && groups[0] == gid);
}

/* Every way back to root must fail now. */
static int drop_verify(uid_t uid, gid_t gid)
{
	if (setuid(0) == 0 || seteuid(0) == 0) {
		error_f("could restore uid 0 after dropping privileges");
		return -1;
	}
	if (setgid(0) == 0 || setegid(0) == 0) {
		error_f("could restore gid 0 after dropping privileges");
		return -1;
	}
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid) {
		error_f("ids are %ld/%ld:%ld/%ld, wanted %ld:%ld", (long)getuid(), (long)geteuid(),
			(long)getgid(), (long)getegid(), (long)uid, (long)gid);
		return -1;
	}
	if (!drop_groups_ok(gid)) {
		error_f("supplementary groups remain after dropping privileges");
		return -1;
	}
	/* Re-read from the kernel: libcap-ng's own state could be stale. */
	if (capng_get_caps_process() != 0 ||
	    capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE) {
		error_f("capabilities remain after dropping privileges");
		return -1;
	}
	if (capng_have_capabilities(CAPNG_SELECT_BOUNDS) != CAPNG_NONE) {
		error_f("the capability bounding set is not empty after dropping privileges");
		return -1;
	}
	return 0;
}

int net_drop_privileges(const char *user, int apparmor)
{
	uid_t uid;
	gid_t gid;
	int rc;

	if (user == NULL || user[0] == '\0')
		user = "_celeryroot";
	if (drop_lookup(user, &uid, &gid) < 0)
		return -1;
	capng_clear(CAPNG_SELECT_BOTH);
	rc = capng_change_id((int)uid, (int)gid, CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
	if (rc != 0) {
		error_f("cannot switch to user '%s' (uid %ld): libcap-ng error %d (%s)", user,
			(long)uid, rc, strerror(errno));
		return -1;
	}
	if (drop_verify(uid, gid) < 0)
		return -1;
	/* Before no_new_privs, which would forbid the change of profile. */
	if (net_apparmor_enter(apparmor) < 0)
		return -1;
	/* Nothing net execs (it execs nothing) may gain privileges. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		error_f("cannot set no_new_privs: %s", strerror(errno));
		return -1;
	}
	/* Other processes of the same user (nobody!) must not ptrace net or read
	 * its memory.  root still reads /proc/<pid>/status. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		error_f("cannot clear the dumpable flag: %s", strerror(errno));
		return -1;
	}
	info_f("running as %s (uid %ld, gid %ld), no capabilities", user, (long)uid, (long)gid);
	return 0;
}
