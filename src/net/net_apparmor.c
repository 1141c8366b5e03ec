/* net changes into its own AppArmor profile (apparmor/celeryroot-net).
 *
 * Called after the uid and capability drop, so that the profile needs no
 * capability rule at all, and before no_new_privs and the seccomp
 * allowlist: under no_new_privs the kernel only allows a change into a
 * profile stacked on the current one, and after seccomp net can no longer
 * open /proc/<tid>/attr/current, which is how the change is requested.
 * The change itself is allowed by priv's profile ("change_profile ->
 * celeryroot-net"), which net runs under until this point. */
#include "config.h"
#include "net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/apparmor.h>

#include "log.h"

/* aa_is_enabled(2) says why AppArmor is off in errno. */
static const char *aa_off_reason(int err)
{
	switch (err) {
	case ENOSYS: return "not available in this kernel";
	case ECANCELED: return "built into the kernel but disabled at boot";
	case ENOENT: return "securityfs is not mounted";
	default: return strerror(err);
	}
}

/* What an operator can do about a failed change (aa_change_profile(2)). */
static const char *aa_change_hint(int err)
{
	switch (err) {
	case ENOENT:
		return "the profile is not loaded: apparmor_parser -r /etc/apparmor.d/" NET_APPARMOR_PROFILE;
	case EACCES:
		return "the profile celeryrootd runs under does not allow 'change_profile -> "
		       NET_APPARMOR_PROFILE "' (load /etc/apparmor.d/celeryrootd)";
	default:
		return strerror(err);
	}
}

/* The label net now runs under, for the log: the change is immediate. */
static void aa_report(void)
{
	char *label = NULL, *mode = NULL;

	if (aa_getcon(&label, &mode) < 0) {
		info_f("changed into AppArmor profile %s", NET_APPARMOR_PROFILE);
		return;
	}
	info_f("confined by AppArmor profile %s (%s)", label, mode ? mode : "enforce");
	free(label);   /* mode points into label's buffer */
}

int net_apparmor_enter(int mode)
{
	int err;

	if (mode == CR_APPARMOR_OFF) {
		debug_f("apparmor = off: net keeps the AppArmor label it was started with");
		return 0;
	}
	if (!aa_is_enabled()) {
		err = errno;
		if (mode == CR_APPARMOR_REQUIRE) {
			error_f("apparmor = require, but AppArmor is %s: enable it or set [daemon] apparmor = auto",
				aa_off_reason(err));
			return -1;
		}
		debug_f("AppArmor is %s: net is confined by its user, capabilities and seccomp",
			aa_off_reason(err));
		return 0;
	}
	if (aa_change_profile(NET_APPARMOR_PROFILE) < 0) {
		err = errno;
		if (mode == CR_APPARMOR_REQUIRE) {
			error_f("cannot change into AppArmor profile %s (apparmor = require): %s",
				NET_APPARMOR_PROFILE, aa_change_hint(err));
			return -1;
		}
		error_f("warning: AppArmor is enabled but net cannot change into profile %s: %s; "
			"carrying on under its current label ([daemon] apparmor = auto)",
			NET_APPARMOR_PROFILE, aa_change_hint(err));
		return 0;
	}
	aa_report();
	return 0;
}
