/* Maintenance windows in use (see winconf.h): apart from cr_winconf_load's
 * INI parsing in winconf.c, so that net, which evaluates windows but reads
 * no file, links no INI parser. */
#include "config.h"
#include "winconf.h"

#include <jansson.h>

int cr_winconf_open(const struct host_window *v, size_t n, time_t t)
{
	if (n == 0)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (cr_window_open_at(&v[i].w, t) == 1)
			return 1;
	return 0;
}

time_t cr_winconf_next_open(const struct host_window *v, size_t n, time_t t)
{
	time_t best = 0;

	if (cr_winconf_open(v, n, t))
		return t;
	for (size_t i = 0; i < n; i++) {
		time_t o = cr_window_next_open(&v[i].w, t);
		if (o > 0 && (best == 0 || o < best))
			best = o;
	}
	return best;
}

char *cr_winconf_json(const struct host_window *v, size_t n)
{
	json_t *a = json_array();
	char *s;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", v[i].name, "days", v[i].days,
						   "start", v[i].start, "duration", v[i].duration, "zone", v[i].zone));
	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return s;
}
