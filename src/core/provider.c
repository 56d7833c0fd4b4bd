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

static const struct provider_ops *const providers[] = {
	&caldav_provider,
	&google_provider,
	&outlook_provider,
};

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
