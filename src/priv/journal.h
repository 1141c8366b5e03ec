/* The change journal: what priv knows about each change it started, by task
 * id, under the host root's state directory (var/lib/celeryroot, priv's own,
 * 0700; never a path from net):
 *
 *   change.lock              held (flock) by the change child for the whole
 *                            change; it holds the holder's pid
 *   changes/<task>.json      phase "started", then "finished" with the reply
 *   changes/<task>.status    dpkg's view when the task first started (before
 *                            any repair); removed once it has finished
 *
 * A task that is delivered again (net died, the pair was killed, the host
 * lost power) finds its own earlier run here: finished, it gets the same
 * answer again; started but cut short, its "before" is still the copy taken
 * when it first started.  Every file is written whole (tmp, fsync, rename,
 * fsync of the directory), so a power cut leaves the old or the new one. */
#ifndef CR_JOURNAL_H
#define CR_JOURNAL_H

#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <time.h>

#include "names.h"

#define JOURNAL_STATE_DIR "var/lib/celeryroot"
/* Finished entries are kept as long as jobs are (30 days), and never more
 * than this many files; a started one until its task comes back or 30 days. */
#define JOURNAL_KEEP_S (30L * 86400)
#define JOURNAL_MAX_FILES 1000
/* A reply fits a frame (64 KiB); this leaves room and bounds what is read. */
#define JOURNAL_MAX_BYTES (1024 * 1024)
#define JOURNAL_TIME_MAX 40

enum journal_phase { JOURNAL_STARTED = 1, JOURNAL_FINISHED = 2 };

struct journal_entry {
	enum journal_phase phase;
	char task[TASK_ID_MAX + 1];
	char job[TASK_ID_MAX + 1];          /* "" when the task came without one */
	char op[16];
	json_t *packages;                   /* array of spec strings (owned) */
	char started[JOURNAL_TIME_MAX];     /* when the task first started (ISO 8601, UTC) */
	double started_s;                   /* the same in seconds since the epoch */
	long pid;                           /* the change child that last wrote it */
	int attempt;                        /* 1, then +1 each time a cut-short run is resumed */
	/* finished only */
	char finished[JOURNAL_TIME_MAX];
	int audited;                        /* the audit line has been written */
	json_t *reply;                      /* the complete reply (owned) */
};

/* ---- journal_codec.c: pure, no I/O ---- */

/* JSON text of e (malloc'd, *len set); NULL on bad input or no memory. */
char *priv_journal_encode(const struct journal_entry *e, size_t *len);
/* Strictly decodes what priv_journal_encode wrote for task (the file is priv's
 * own, but a disk can hand back anything).  0, or -1 with a reason. */
int priv_journal_decode(const char *buf, size_t len, const char *task, struct journal_entry *e, char *err,
		   size_t errlen);
void priv_journal_entry_clear(struct journal_entry *e);
/* "2026-01-02T03:04:05.678Z" for t. */
void priv_journal_iso_time(double t, char *buf, size_t len);

/* ---- journal.c: the files ---- */

struct journal {
	int statefd;                /* var/lib/celeryroot */
	int dirfd;                  /* its changes/ */
	char dir[PATH_MAX];         /* the path of changes/, for messages */
};

/* Opens (creating 0700 where missing) the state directory of root and its
 * changes/.  Refuses one that is a symlink, not root's, or writable by
 * others.  0, or -1 with a reason. */
int priv_journal_open(struct journal *j, const char *root, char *err, size_t errlen);
void priv_journal_close(struct journal *j);
/* 1 and e filled when task has an entry, 0 when it has none (or an
 * unreadable one, which is logged), -1 on an I/O error (reason in err). */
int priv_journal_load(struct journal *j, const char *task, struct journal_entry *e, char *err, size_t errlen);
/* Writes e whole.  -1 with a reason ("no space left for the change journal
 * under DIR" on ENOSPC). */
int priv_journal_store(struct journal *j, const struct journal_entry *e, char *err, size_t errlen);
/* Writes the copy of root's dpkg view for task, whole. */
int priv_journal_save_status(struct journal *j, const char *task, const char *root, char *err, size_t errlen);
/* The copy's path (for priv_dpkg_snap_read_file); 0 when it does not fit. */
int priv_journal_status_path(const struct journal *j, const char *task, char *buf, size_t len);
void priv_journal_drop_status(struct journal *j, const char *task);
/* Removes finished entries older than keep_s, started ones older than
 * keep_s, leftovers of a crash (*.tmp, a copy without its entry), and then
 * the oldest finished entries while more than max_files remain.  Returns
 * how many files were removed. */
int priv_journal_prune(struct journal *j, time_t now, long keep_s, int max_files);

#endif
