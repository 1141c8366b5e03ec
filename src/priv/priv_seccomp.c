/* priv's seccomp denylist (DESIGN §1).  priv must stay able to do what a
 * package operation needs: fork and exec dpkg, apt's methods and maintainer
 * scripts, which inherit this filter.  So the default is to allow, and only
 * what no package operation needs is refused with EPERM (not killed: a
 * maintainer script that probes, say, keyctl must fail softly, not take a
 * half-done dpkg run down with it).
 *
 * no_new_privs is deliberately NOT set: maintainer scripts may run setuid
 * helpers (su, for example).  priv is root with CAP_SYS_ADMIN, which is what
 * the kernel asks for to load a filter without no_new_privs. */
#include "config.h"
#include "priv.h"

#include <errno.h>
#include <seccomp.h>
#include <stddef.h>
#include <string.h>

#include "log.h"

/* Each group says why no package operation needs it. */
static const char *const priv_denied[] = {
	/* Kernel code: a compromised request path must not load modules or
	 * replace the running kernel.  (DKMS builds modules; it does not load
	 * them from postinst in a way we support here.) */
	"init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
	/* Power state: no package operation reboots the machine by itself. */
	"reboot",
	/* Other processes' memory: debugging and injection, never packaging. */
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
	/* Kernel programmability and tracing. */
	"bpf", "perf_event_open", "userfaultfd",
	/* The kernel keyring, shared by the whole system. */
	"keyctl", "add_key", "request_key",
	/* Mount table and namespaces: these could undo AppArmor's path policy. */
	"mount", "umount", "umount2", "pivot_root", "move_mount", "fsopen", "fsmount", "fspick", "open_tree",
	"setns", "unshare",
	/* Swap, process accounting and quotas are the administrator's. */
	"swapon", "swapoff", "acct", "quotactl",
	/* The system clock. */
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	/* Raw port I/O. */
	"iopl", "ioperm",
	/* File handles bypass path-based confinement (the "shocker" escape). */
	"open_by_handle_at", "name_to_handle_at",
	/* Watching the whole filesystem, profiling, the kernel log buffer. */
	"fanotify_init", "lookup_dcookie", "syslog",
	/* Obsolete or terminal-hijacking calls (vm86 is i386 only). */
	"vhangup", "uselib", "vm86", "vm86old",
};

/* On x86_64 a process can also make i386 (and x32) system calls.  Adding
 * those ABIs to the filter keeps 32-bit programs run by maintainer scripts
 * working, with the same denylist, instead of killing them as a bad arch. */
static void priv_add_compat_arches(scmp_filter_ctx ctx)
{
	if (seccomp_arch_native() != SCMP_ARCH_X86_64)
		return;
	if (seccomp_arch_add(ctx, SCMP_ARCH_X86) != 0)
		debug_f("cannot add the i386 ABI to the filter");
	if (seccomp_arch_add(ctx, SCMP_ARCH_X32) != 0)
		debug_f("cannot add the x32 ABI to the filter");
}

static int priv_deny(scmp_filter_ctx ctx, const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);
	int rc;

	/* Calls that only exist on a compat ABI (umount, vm86 on i386) resolve
	 * to a negative pseudo number that libseccomp maps per ABI; only names
	 * unknown to libseccomp altogether come back as an error. */
	if (nr == __NR_SCMP_ERROR) {
		debug_f("%s is unknown to libseccomp; skipped", name);
		return 0;
	}
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
	if (rc != 0) {
		error_f("cannot deny %s: %s", name, strerror(-rc));
		return -1;
	}
	return 0;
}

/* personality(0xffffffff) only asks for the current persona (setarch, some
 * libcs); setting one (ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC) weakens the
 * process, so every other value is refused. */
static int priv_deny_personality(scmp_filter_ctx ctx)
{
	int nr = seccomp_syscall_resolve_name("personality");
	int rc;

	if (nr == __NR_SCMP_ERROR)
		return 0;
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1,
			      SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)0xffffffffUL));
	if (rc != 0) {
		error_f("cannot restrict personality: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

int priv_sandbox_apply(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int rc;

	if (ctx == NULL) {
		error_f("seccomp_init failed");
		return -1;
	}
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) != 0) {
		error_f("cannot keep no_new_privs off: %s", strerror(-rc));
		goto fail;
	}
	priv_add_compat_arches(ctx);
	for (size_t i = 0; i < sizeof(priv_denied) / sizeof(priv_denied[0]); i++)
		if (priv_deny(ctx, priv_denied[i]) < 0)
			goto fail;
	if (priv_deny_personality(ctx) < 0)
		goto fail;
	if ((rc = seccomp_load(ctx)) != 0) {
		error_f("cannot load the seccomp denylist: %s", strerror(-rc));
		goto fail;
	}
	seccomp_release(ctx);
	debug_f("seccomp denylist loaded (%zu calls)", sizeof(priv_denied) / sizeof(priv_denied[0]) + 1);
	return 0;
fail:
	seccomp_release(ctx);
	return -1;
}
