/* page-integrations.c: the doctor's page /doctor/calendar-integrations: a card per provider and its connections. */
#include "config.h"

#include <string.h>

#include "integration.h"
#include "log.h"
#include "web.h"

static const char *const descriptions[INTEGRATION_PROVIDER_MAX] = {
	[INTEGRATION_GOOGLE] = "Termine mit Google Calendar abgleichen. Die Anmeldung läuft über "
			       "Google; der Zugriff lässt sich jederzeit widerrufen.",
	[INTEGRATION_OUTLOOK] = "Microsoft Outlook und Office 365 über Microsoft Graph verbinden.",
	[INTEGRATION_APPLE] = "Apple iCloud oder einen anderen CalDAV-Server mit einem "
			      "app-spezifischen Passwort verbinden.",
};

/* "A, B fehlen" / "A fehlt" for the hint of an unconfigured provider. */
static json_t *missing_text(const char **names, size_t n)
{
	struct buf b;
	json_t *s;
	size_t i;

	buf_init(&b, 1024);
	for (i = 0; i < n; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
	buf_puts(&b, n == 1 ? " fehlt" : " fehlen");
	s = json_string(b.data ? b.data : "");
	buf_free(&b);
	return s;
}

/* One card's context: the provider, its configuration state and the doctor's connections to it. */
static json_t *provider_card(struct app *app, enum integration_provider p, json_t *list)
{
	const char *missing[4];
	size_t n, i;
	json_t *card, *mine, *item;
	const char *key = integration_provider_key(p);

	n = integration_provider_missing(app->conf, p, missing, TF_ARRAY_LEN(missing));
	mine = json_array();
	json_array_foreach(list, i, item) {
		if (strcmp(json_string_value(json_object_get(item, "provider")) ?: "", key) == 0)
			json_array_append(mine, item);
	}
	card = json_pack("{s:s, s:s, s:s, s:b, s:b}", "key", key, "title",
			 integration_provider_title(p), "description", descriptions[p], "configured",
			 n == 0, "has_connections", json_array_size(mine) > 0);
	json_object_set_new(card, "connections", mine);
	if (n)
		json_object_set_new(card, "missing_text", missing_text(missing, n));
	return card;
}

void page_integrations_get(struct app *app, struct request *req, struct response *rs)
{
	json_t *ctx, *list, *cards;
	unsigned p;

	list = integration_list_json(app_db(app), req->doctor_id, 1);
	if (!list) {
		error_respond(app, req, rs, app_db_error_status(app), NULL);
		return;
	}
	ctx = page_context(app, req, rs, "Kalender-Integrationen", 1);
	cards = json_array();
	for (p = 0; p < INTEGRATION_PROVIDER_MAX; p++)
		json_array_append_new(cards, provider_card(app, (enum integration_provider)p, list));
	json_object_set_new(ctx, "providers", cards);
	json_object_set_new(ctx, "has_integrations", json_boolean(json_array_size(list) > 0));
	page_render(app, rs, 200, "integrations", ctx);
	json_decref(ctx);
	json_decref(list);
}
