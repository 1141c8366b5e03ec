/* priv does not change its own AppArmor profile: systemd (AppArmorProfile=)
 * or the path attachment of apparmor/celeryrootd put it there at exec.
 * It only says which profile that was, and with [daemon] apparmor =
 * require refuses to serve unconfined, so that a profile that failed to
 * load (the unit's "-" prefix tolerates that) cannot go unnoticed. */
#include "config.h"
#include "priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/apparmor.h>

#include "crconfig.h"
#include "log.h"

int priv_apparmor_check(int apparmor)
{
	char *label = NULL, *mode = NULL;
	int unconfined;

	if (apparmor == CR_APPARMOR_OFF)
		return 0;
	if (!aa_is_enabled()) {
		if (apparmor != CR_APPARMOR_REQUIRE)
			return 0;
		error_f("apparmor = require, but AppArmor is not enabled on this host: "
			"enable it or set [daemon] apparmor = auto");
		return -1;
	}
	if (aa_getcon(&label, &mode) < 0) {
		error_f("cannot read priv's AppArmor label: %s", strerror(errno));
		return apparmor == CR_APPARMOR_REQUIRE ? -1 : 0;
	}
	unconfined = strcmp(label, "unconfined") == 0;
	if (!unconfined)
		info_f("confined by AppArmor profile %s (%s)", label, mode ? mode : "enforce");
	else if (apparmor == CR_APPARMOR_REQUIRE)
		error_f("apparmor = require, but priv runs unconfined: load the profile "
			"(apparmor_parser -r /etc/apparmor.d/celeryrootd) and restart");
	else
		error_f("warning: AppArmor is enabled but priv runs unconfined: load "
			"/etc/apparmor.d/celeryrootd (apparmor_parser -r) and restart");
	free(label);   /* mode points into label's buffer */
	return unconfined && apparmor == CR_APPARMOR_REQUIRE ? -1 : 0;
}
