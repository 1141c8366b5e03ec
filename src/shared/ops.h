/* The operations: one table (ops.c) of everything Celeryroot can be asked
 * to do, and each one's properties.  Every place that needs to know the
 * operation set reads it here: the CLI's parser and help (cmd_apt.c,
 * schedule.c), the task table and argument check that net and priv share
 * (taskreq.c), priv's schema (proto.c), priv's dispatch and its "changes the
 * host" and "deferred outside the windows" decisions (priv.c, priv_defer.c,
 * priv_worker.c), net's deferral (defer.c), the key files' "operations ="
 * (keys.c), and the README's task table (tests/shared/test_ops.c checks it).
 *
 * Adding an operation (say "hold"):
 *   1. one row in ops.c: name, task, request type, flags, package counts,
 *      kwargs, the CLI's argument words and help summary;
 *   2. its handler: for a read (no CR_OP_CHANGES) a row of priv_apt.c's
 *      read_ops[]; for a change a row of priv_change.c's change_ops[]
 *      (priv_ops_check() refuses to start priv while one has none);
 *   3. a row in README.md's task table (test_ops fails until it is there).
 * A new kwarg is one CR_KW_ bit and one row of cr_kwargs[] (ops.c), plus
 * its field in struct proto_req (proto.c carries it to priv). */
#ifndef CR_OPS_H
#define CR_OPS_H

#include <stddef.h>
#include <stdint.h>

/* What an operation does, beyond its name. */
enum cr_op_flag {
	/* Changes the host: runs in priv's change worker, one at a time under
	 * the dpkg lock, counted against the audit budget, one audit line
	 * each.  Without it: a read, answered at once, counted per window. */
	CR_OP_CHANGES = 1 << 0,
	/* Disruptive: deferred outside the host's maintenance windows
	 * (unless a check, or sent with now). */
	CR_OP_WINDOWED = 1 << 1,
	/* Changes dpkg's package set: priv journals dpkg's status before it
	 * (the record's "before"), repairs first, verifies after.  Only with
	 * CR_OP_CHANGES. */
	CR_OP_PACKAGES = 1 << 2,
};

/* The keyword arguments a task may carry (the CLI options behind them). */
enum cr_kw {
	CR_KW_UPGRADABLE = 1 << 0,
	CR_KW_SECURITY = 1 << 1,
	CR_KW_PURGE = 1 << 2,
	CR_KW_CHECK = 1 << 3,
	CR_KW_MAX_AGE = 1 << 4,        /* a number of seconds */
	CR_KW_NOW = 1 << 5,
	CR_KW_ALLOW_DOWNGRADE = 1 << 6,
	CR_KW_HOLD = 1 << 7,           /* ping only: seconds to hold the answer */
	CR_KW_FULL = 1 << 12,          /* upgrade: apt's full-upgrade (may remove) */
	CR_KW_EXCLUDE = 1 << 13,       /* upgrade: a list of package names kept back
	                                * (neither bool nor number: taskreq.c) */
	/* Guards (issue 15): a plan that removes an Essential or Priority:
	 * required package, or packages the task did not name, is refused
	 * without these (signed) kwargs. */
	CR_KW_ALLOW_ESSENTIAL = 1 << 8,
	CR_KW_ALLOW_REMOVALS = 1 << 9,
	CR_KW_CONFFILE_NEW = 1 << 16,  /* --conffile new: dpkg installs the package's conffiles */
};

struct cr_kwarg {
	unsigned bit;          /* enum cr_kw */
	const char *name;      /* the task's kwarg: "max_age" */
	const char *option;    /* the CLI's: "--max-age S"; NULL when none */
	int is_bool;           /* else a number (bounds in taskreq.c) */
};

struct cr_op {
	const char *name;      /* "install": the CLI's word, keys' operations, audit */
	const char *task;      /* "celeryroot.apt.install" */
	uint8_t req;           /* enum proto_type: REQ_PING, REQ_FACTS or REQ_APT */
	unsigned flags;        /* enum cr_op_flag */
	int min_pkgs, max_pkgs;
	unsigned kwargs;       /* enum cr_kw: the kwargs it accepts */
	const char *args;      /* the CLI's positional words: "PKG[=VERSION]..." */
	const char *summary;   /* help text; '\n' starts a continuation line */
};

/* The table, in the order help lists it; NULL past the end. */
const struct cr_op *cr_op_at(size_t i);
size_t cr_op_count(void);
const struct cr_op *cr_op_by_name(const char *name);
const struct cr_op *cr_op_by_task(const char *task);
/* The row a decoded request is for: its op (REQ_APT) or its type. */
const struct cr_op *cr_op_by_req(uint8_t req, const char *op);
/* Its name for the audit: the row's, else op as it came ("" for HELLO). */
const char *cr_op_req_name(uint8_t req, const char *op);

const struct cr_kwarg *cr_kwarg_at(size_t i);
const struct cr_kwarg *cr_kwarg_by_name(const char *name);

/* The package-count rule, the one place it is written: 0 when n packages
 * fit op; else -1 with the reason ("needs at least one package", "takes no
 * packages", "takes at most N packages") in why. */
int cr_op_pkgs_fit(const struct cr_op *op, size_t n, char *why, size_t len);

/* "install, remove, ... or update" / "ping facts query ...": the names of
 * the rows with req (0: any) and all of flags, joined.  Cut at len (always
 * terminated). */
void cr_op_names(char *buf, size_t len, uint8_t req, unsigned flags, const char *sep, const char *last_sep);

#endif
