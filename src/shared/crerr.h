/* Errors that a caller tells apart by kind.  The message is for people (log,
 * record, terminal) and stays as it was; what code decides on is the code.
 *
 * The convention: a function that can fail in more than one way a caller
 * cares about returns 0, or the negated code (-CR_E_LOCK...), with the
 * message in the caller's error buffer.  Every code is > 0, so a caller that
 * only asks "did it fail" keeps testing rc < 0; cr_err_of(rc) gives the kind.
 *
 * Error buffers are CR_ERR_MAX bytes: one size, long enough for the longest
 * message written into one: cr_target_resolve()'s "unknown host X; known
 * hosts: ..." lists the registry's names (it had 2048 bytes), and apt's own
 * words after ours fill 1024.  A longer message is cut, never overrun.
 * PROTO_ERR_MAX (proto.h) is another thing: the bound on a reason carried
 * over the socketpair, which a receiver enforces. */
#ifndef CR_CRERR_H
#define CR_CRERR_H

#define CR_ERR_MAX 2048

enum cr_err {
	CR_OK = 0,
	CR_E_FAIL = 1,     /* any other failure: the message says what */
	CR_E_LOCK,         /* the dpkg (or lists) lock could not be taken */
	CR_E_EXISTS,       /* a name that must be new is taken */
	CR_E_MISSING,      /* a name that must exist is not there */
	CR_E_REPLAY,       /* a signed task's nonce was used by another task */
	CR_E_AGAIN,        /* could not be decided now (broker unreachable): try later */
};

/* The kind of a return value under the convention above. */
static inline enum cr_err cr_err_of(int rc)
{
	return rc >= 0 ? CR_OK : (enum cr_err)-rc;
}

#endif
