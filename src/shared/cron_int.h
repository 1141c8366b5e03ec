/* Internal to the cron parser (cron.c, cron_field.c). */
#ifndef CR_CRON_INT_H
#define CR_CRON_INT_H

#include <stddef.h>
#include <stdint.h>

#define CRON_FIELDS 5

/* Parses field idx (0 = minute .. 4 = day of week) from [p, end) into a bit
 * mask (bit n = value n; day of week may set bit 7).  0, or -1 with
 * "field N (name): reason" in err. */
int cr_cron_parse_field(int idx, const char *p, const char *end, uint64_t *mask, char *err, size_t errlen);

#endif
