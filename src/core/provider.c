/* provider.c: the table of calendar providers and the helpers every provider shares. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "caldav.h"
#include "crypto.h"
#include "provider.h"
#include "provider_google.h"
#include "provider_outlook.h"

static const char *const prov_status_text[PROV_STATUS_MAX] = {
	[PROV_OK] = "ok",
	[PROV_NOT_FOUND] = "not_found",
	[PROV_PRECONDITION] = "precondition",
	[PROV_AUTH] = "auth",
	[PROV_TOKEN_INVALID] = "token_invalid",
	[PROV_RETRY] = "retry",
	[PROV_ERROR] = "error",
};

const char *prov_status_name(enum prov_status s)
{
	if ((unsigned)s >= PROV_STATUS_MAX)
		return "unknown";
	return prov_status_text[s];
}

void prov_calendars_free(struct prov_calendar *c, size_t n)
{
	if (!c)
		return;
	for (size_t i = 0; i < n; i++) {
		free(c[i].remote_id);
		free(c[i].name);
		free(c[i].color);
	}
	free(c);
}

struct prov_calendar *prov_calendars_push(struct prov_calendar **cals, size_t *n, const char *id,
					  const char *name, const char *color, int can_write)
{
	struct prov_calendar *k;

	*cals = xrealloc(*cals, (*n + 1) * sizeof(**cals));
	k = &(*cals)[(*n)++];
	memset(k, 0, sizeof(*k));
	k->remote_id = xstrdup(id);
	k->name = xstrdup(name ? name : "");
	k->color = xstrdup(color && strlen(color) == 7 && color[0] == '#' ? color : "");
	k->can_write = can_write;
	k->events = 1;
	return k;
}

static const struct provider_ops *const providers[] = {
	&caldav_provider,
	&google_provider,
	&outlook_provider,
};

int prov_object_unchanged(const struct prov_sink *sink, int full, const char *id, const char *etag)
{
	const char *known;

	return full && etag && sink->known_etag && (known = sink->known_etag(sink->ud, id)) && !strcmp(known, etag);
}

int prov_report_object(const struct prov_sink *sink, const char *id, const char *etag, long long own_id,
		       time_t start, time_t end, int blocks, time_t win_start, time_t win_end)
{
	struct prov_object o = { 0 };
	struct interval iv;

	o.object_id = id;
	o.etag = etag ? etag : "";
	if (own_id > 0) {
		o.own_appointment_id = own_id;
		o.own_start = start;
		o.own_end = end;
	} else if (blocks && end > start) {
		iv.start = start < win_start ? win_start : start;
		iv.end = end > win_end ? win_end : end;
		if (iv.end > iv.start) {
			o.busy = &iv;
			o.nbusy = 1;
		}
	}
	return sink->upsert(sink->ud, &o) ? -1 : 0;
}

void prov_instance_mark(struct conf *c, char out[PROV_MARK_LEN])
{
	const char *base = conf_get_default(c, "BASE_URL", "");
	char hex[65];

	sha256_hex(base, strlen(base), hex);
	str_copy(out, hex, PROV_MARK_LEN);
}

const struct provider_ops *provider_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < TF_ARRAY_LEN(providers); i++)
		if (!strcmp(providers[i]->name, name))
			return providers[i];
	return NULL;
}
