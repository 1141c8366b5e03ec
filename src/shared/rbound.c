/* Array bounds for hiredis's reader (rbound.h says why).  hiredis calls
 * createArray when an array's header has been read: that is the moment to
 * refuse, before its calloc.  The count is kept per reader (privdata) and
 * starts again at each top-level reply. */
#include "config.h"
#include "rbound.h"

#include <stdlib.h>

struct rbound {
	long budget;       /* elements one reply may announce */
	long used;         /* announced so far by the reply being read */
	int refused;       /* the last error was ours, not hiredis's OOM */
	void *(*array)(const redisReadTask *, int);   /* hiredis's own */
};

/* hiredis's default functions with createArray replaced; filled once from
 * the first reader attached (every reader of ours uses the defaults). */
static redisReplyObjectFunctions bounded_fn;
static void *(*default_array)(const redisReadTask *, int);

static void *bounded_array(const redisReadTask *task, int elements)
{
	struct rbound *b = task->privdata;

	if (b == NULL)
		return NULL;
	if (task->parent == NULL)
		b->used = 0;
	/* NULL makes hiredis stop with an error; nothing was allocated. */
	if (elements < 0 || elements > b->budget - b->used) {
		b->refused = 1;
		return NULL;
	}
	b->used += elements;
	return b->array(task, elements);
}

int cr_rbound_attach(redisReader *r, size_t reply_bytes)
{
	struct rbound *b;
	long cap = CR_RBOUND_ELEMENTS_MAX;

	if (r->fn == NULL || r->fn->createArray == NULL)
		return -1;
	if (default_array == NULL) {
		bounded_fn = *r->fn;
		default_array = r->fn->createArray;
		bounded_fn.createArray = bounded_array;
	}
	if (r->fn->createArray != default_array && r->fn != &bounded_fn)
		return -1;   /* someone else's functions: not ours to wrap */
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return -1;
	if (reply_bytes / 3 < (size_t)cap)
		cap = (long)(reply_bytes / 3);
	b->budget = cap;
	b->array = default_array;
	cr_rbound_release(r);
	r->privdata = b;
	r->fn = &bounded_fn;
	return 0;
}

void cr_rbound_release(redisReader *r)
{
	if (r != NULL && r->fn == &bounded_fn) {
		free(r->privdata);
		r->privdata = NULL;
	}
}

long cr_rbound_refused(const redisReader *r)
{
	const struct rbound *b = r != NULL && r->fn == &bounded_fn ? r->privdata : NULL;

	return b != NULL && b->refused ? b->budget : 0;
}
