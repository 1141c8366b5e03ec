/* net's seccomp allowlist (DESIGN §1), beyond net_sandbox_apply() in net.h. */
#ifndef CR_NET_SECCOMP_H
#define CR_NET_SECCOMP_H

/* As net_sandbox_apply(), but with use_trap the default action is
 * SECCOMP_RET_TRAP plus a SIGSYS handler that logs the offending system call
 * number before exiting: a debugging aid (as in OpenSSH) for finding what a
 * change needs.  Never use it in production: code running in net could
 * replace the handler and carry on. */
int net_sandbox_apply_trap(int use_trap);

#endif
