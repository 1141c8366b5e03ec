/* The operation table (see ops.h for what reads it and how to add a row). */
#include "config.h"
#include "ops.h"

#include <stdio.h>
#include <string.h>

#include "pkgspec.h"
#include "proto.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define APT_CHANGE (CR_OP_CHANGES | CR_OP_WINDOWED | CR_OP_PACKAGES)
/* The guards' flags (issue 15): every change that can remove packages. */
#define APT_GUARDS (CR_KW_ALLOW_ESSENTIAL | CR_KW_ALLOW_REMOVALS)

/* The order is help's: changes first, then reads, then housekeeping. */
static const struct cr_op ops[] = {
	{ "ping", "celeryroot.ping", REQ_PING, 0, 0, 0, CR_KW_HOLD, "",
	  "check that each target host's worker answers" },
	{ "facts", "celeryroot.facts", REQ_FACTS, 0, 0, 0, 0, "",
	  "OS, kernel, uptime, packages and APT lists age" },
	{ "install", "celeryroot.apt.install", REQ_APT, APT_CHANGE, 1, PKG_SPECS_MAX,
	  CR_KW_CHECK | CR_KW_MAX_AGE | CR_KW_NOW | CR_KW_ALLOW_DOWNGRADE | APT_GUARDS | CR_KW_CONFFILE_NEW, "PKG[=VERSION]...",
	  "make sure the packages are installed (at VERSION when given);\n"
	  "already there: unchanged, answered from dpkg status" },
	{ "remove", "celeryroot.apt.remove", REQ_APT, APT_CHANGE, 1, PKG_SPECS_MAX,
	  CR_KW_CHECK | CR_KW_PURGE | CR_KW_NOW | APT_GUARDS, "PKG...", "remove them (--purge: their configuration too)" },
	{ "upgrade", "celeryroot.apt.upgrade", REQ_APT, APT_CHANGE, 0, PKG_SPECS_MAX,
	  CR_KW_CHECK | CR_KW_SECURITY | CR_KW_MAX_AGE | CR_KW_NOW | CR_KW_FULL | CR_KW_EXCLUDE | APT_GUARDS |
	  CR_KW_CONFFILE_NEW, "[PKG...]",
	  "upgrade these, or everything upgradable, as apt upgrade:\n"
	  "no removals (--full: apt full-upgrade, may remove;\n"
	  "--security: only to versions from security origins)" },
	{ "autoremove", "celeryroot.apt.autoremove", REQ_APT, APT_CHANGE, 0, 0, CR_KW_CHECK | CR_KW_PURGE | CR_KW_NOW | CR_KW_ALLOW_ESSENTIAL, "",
	  "remove dependencies nothing needs any more" },
	{ "clean", "celeryroot.apt.clean", REQ_APT, CR_OP_CHANGES, 0, 0, 0, "", "empty the downloaded-archives cache" },
	{ "query", "celeryroot.apt.query", REQ_APT, 0, 1, PKG_SPECS_MAX, 0, "PKG...",
	  "installed and candidate version, upgradable, origin:\n"
	  "a host x package matrix" },
	{ "list", "celeryroot.apt.list", REQ_APT, 0, 0, 0, CR_KW_UPGRADABLE | CR_KW_SECURITY, "",
	  "installed packages (--upgradable: only those with a\n"
	  "newer candidate; --security: only security upgrades)" },
	{ "update", "celeryroot.apt.update", REQ_APT, CR_OP_CHANGES, 0, 0, CR_KW_MAX_AGE, "", "refresh the APT lists" },
	/* A hold changes dpkg's selections, not the package set (no
	 * CR_OP_PACKAGES: no journal, repair or verify of versions), and
	 * disrupts nothing (no CR_OP_WINDOWED). */
	{ "hold", "celeryroot.apt.hold", REQ_APT, CR_OP_CHANGES, 1, PKG_SPECS_MAX, CR_KW_CHECK, "PKG...",
	  "hold them at their version (dpkg selection \"hold\"):\n"
	  "upgrade leaves them, changes that need them are refused" },
	{ "unhold", "celeryroot.apt.unhold", REQ_APT, CR_OP_CHANGES, 1, PKG_SPECS_MAX, CR_KW_CHECK, "PKG...",
	  "release a hold (dpkg selection back to \"install\")" },
};

/* The order is the CLI usage lines' option order. */
static const struct cr_kwarg kwargs[] = {
	{ CR_KW_UPGRADABLE, "upgradable", "--upgradable", 1 },
	{ CR_KW_SECURITY, "security", "--security", 1 },
	{ CR_KW_PURGE, "purge", "--purge", 1 },
	{ CR_KW_CHECK, "check", "--check", 1 },
	{ CR_KW_MAX_AGE, "max_age", "--max-age S", 0 },
	{ CR_KW_NOW, "now", "--now", 1 },
	{ CR_KW_ALLOW_DOWNGRADE, "allow_downgrade", "--allow-downgrade", 1 },
	{ CR_KW_HOLD, "hold", NULL, 0 },
	{ CR_KW_FULL, "full", "--full", 1 },
	{ CR_KW_EXCLUDE, "exclude", "--exclude PKG", 0 },
	{ CR_KW_ALLOW_ESSENTIAL, "allow_essential", "--allow-essential", 1 },
	{ CR_KW_ALLOW_REMOVALS, "allow_removals", "--allow-removals", 1 },
	{ CR_KW_CONFFILE_NEW, "conffile_new", "--conffile keep|new", 1 },
};

const struct cr_op *cr_op_at(size_t i)
{
	return i < N(ops) ? &ops[i] : NULL;
}

size_t cr_op_count(void)
{
	return N(ops);
}

const struct cr_op *cr_op_by_name(const char *name)
{
	for (size_t i = 0; name && i < N(ops); i++)
		if (!strcmp(ops[i].name, name))
			return &ops[i];
	return NULL;
}

const struct cr_op *cr_op_by_task(const char *task)
{
	for (size_t i = 0; task && i < N(ops); i++)
		if (!strcmp(ops[i].task, task))
			return &ops[i];
	return NULL;
}

const struct cr_op *cr_op_by_req(uint8_t req, const char *op)
{
	for (size_t i = 0; i < N(ops); i++)
		if (ops[i].req == req && (req != REQ_APT || (op && !strcmp(ops[i].name, op))))
			return &ops[i];
	return NULL;
}

const char *cr_op_req_name(uint8_t req, const char *op)
{
	const struct cr_op *row = cr_op_by_req(req, op);
	return row ? row->name : op ? op : "";
}

const struct cr_kwarg *cr_kwarg_at(size_t i)
{
	return i < N(kwargs) ? &kwargs[i] : NULL;
}

const struct cr_kwarg *cr_kwarg_by_name(const char *name)
{
	for (size_t i = 0; name && i < N(kwargs); i++)
		if (!strcmp(kwargs[i].name, name))
			return &kwargs[i];
	return NULL;
}

int cr_op_pkgs_fit(const struct cr_op *op, size_t n, char *why, size_t len)
{
	if (n < (size_t)op->min_pkgs && op->min_pkgs == 1)
		return snprintf(why, len, "needs at least one package"), -1;
	if (n < (size_t)op->min_pkgs)
		return snprintf(why, len, "needs at least %d packages", op->min_pkgs), -1;
	if (n > (size_t)op->max_pkgs && op->max_pkgs == 0)
		return snprintf(why, len, "takes no packages"), -1;
	if (n > (size_t)op->max_pkgs)
		return snprintf(why, len, "takes at most %d packages", op->max_pkgs), -1;
	return 0;
}

static int named(const struct cr_op *op, uint8_t req, unsigned flags)
{
	return (!req || op->req == req) && (op->flags & flags) == flags;
}

void cr_op_names(char *buf, size_t len, uint8_t req, unsigned flags, const char *sep, const char *last_sep)
{
	size_t used = 0, total = 0, k = 0;

	for (size_t i = 0; i < N(ops); i++)
		total += named(&ops[i], req, flags);
	if (len > 0)
		buf[0] = '\0';
	for (size_t i = 0; i < N(ops) && used < len; i++) {
		if (!named(&ops[i], req, flags))
			continue;
		int w = snprintf(buf + used, len - used, "%s%s", k == 0 ? "" : k + 1 == total ? last_sep : sep,
				 ops[i].name);
		k++;
		used += w > 0 ? (size_t)w : 0;
	}
}
