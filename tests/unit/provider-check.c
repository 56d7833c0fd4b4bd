/* provider-check.c: runs one OAuth provider / OAuth call from a JSON request on stdin and prints the
 * outcome as JSON. Built twice: google-check (tests/integration/test_google_provider.py against
 * tests/fakes/google.py) and outlook-check (test_outlook_provider.py against tests/fakes/microsoft.py);
 * the program's name picks the provider.
 *
 * Input: {"op": "authurl"|"exchange"|"refresh"|"revoke"|"userinfo"|"list"|"upsert"|"delete"|"pull"|
 *         "watch"|"unwatch"|"renew"|"reauthorize",
 *         "creds": {...}, "cal", "event": {"appointment_id", "start", "end", "sequence", "summary",
 *         "description", "location", "create_meet"}, "remote_id", "etag", "cursor", "code", "verifier",
 *         "token", "now", "horizon_days", "timezone", "address", "channel_id", "resource_id"}
 * Settings come from the environment (GOOGLE_* / MICROSOFT_*, BASE_URL, TF_HTTP_BACKOFF_MS).
 * Output: {"status", "error", "requests", "creds_changed", "creds", ...op-specific fields}. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "conf.h"
#include "crypto.h"
#include "http.h"
#include "log.h"
#include "oauth.h"
#include "bearer.h"
#include "provider.h"
#include "provider_google.h"
#include "provider_outlook.h"

/* What differs between the providers for this program. */
struct check_provider {
	const char *name;
	const struct provider_ops *ops;
	int (*endpoints)(struct conf *c, struct oauth_endpoints *ep, char *err, size_t errlen);
	enum prov_status (*email)(struct prov_ctx *c, char *email, size_t len);
	/* our id of the appointment's event (Google event id, Outlook transactionId) */
	void (*event_key)(struct conf *c, long long appointment_id, char *out, size_t len);
};

static void google_key(struct conf *c, long long id, char *out, size_t len)
{
	char eid[GOOGLE_EVENT_ID_MAX];

	google_event_id(c, id, eid);
	str_copy(out, eid, len);
}

static void outlook_key(struct conf *c, long long id, char *out, size_t len)
{
	char txn[OUTLOOK_TXN_MAX];

	outlook_transaction_id(c, id, txn);
	str_copy(out, txn, len);
}

static const struct check_provider providers[] = {
	{ "google", &google_provider, google_endpoints, google_userinfo_email, google_key },
	{ "outlook", &outlook_provider, outlook_endpoints, outlook_account_email, outlook_key },
};

struct sink_rec {
	json_t *upserts, *removes;
	json_t *known;     /* object_id -> etag (given in the input as "known") */
	int begun, ended;
};

static int s_upsert(void *ud, const struct prov_object *o)
{
	struct sink_rec *r = ud;
	json_t *busy = json_array();

	for (size_t i = 0; i < o->nbusy; i++)
		json_array_append_new(busy, json_pack("[I, I]", (json_int_t)o->busy[i].start, (json_int_t)o->busy[i].end));
	json_array_append_new(r->upserts, json_pack("{s:s, s:s, s:I, s:I, s:I, s:o}", "id", o->object_id, "etag",
						    o->etag ? o->etag : "", "own", (json_int_t)o->own_appointment_id,
						    "own_start", (json_int_t)o->own_start, "own_end",
						    (json_int_t)o->own_end, "busy", busy));
	return 0;
}

static int s_remove(void *ud, const char *id)
{
	struct sink_rec *r = ud;

	json_array_append_new(r->removes, json_string(id));
	return 0;
}

static int s_begin(void *ud)
{
	((struct sink_rec *)ud)->begun = 1;
	return 0;
}

static int s_end(void *ud)
{
	((struct sink_rec *)ud)->ended = 1;
	return 0;
}

static const char *s_known(void *ud, const char *id)
{
	return json_string_value(json_object_get(((struct sink_rec *)ud)->known, id));
}

static const char *str(json_t *in, const char *key)
{
	return json_string_value(json_object_get(in, key));
}

int main(int argc, char **argv)
{
	const struct check_provider *cp = &providers[0];
	const char *me = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
	json_error_t jerr;
	json_t *in, *out = json_object();
	struct conf *conf;
	struct prov_ctx ctx;
	const char *op;
	enum prov_status ps = PROV_ERROR;
	char err[256];

	me = me ? me + 1 : (argc > 0 && argv[0] ? argv[0] : "google-check");
	if (!strncmp(me, "lt-", 3))
		me += 3;   /* libtool's wrapper */
	if (!strncmp(me, "outlook", 7))
		cp = &providers[1];
	if (crypto_init() != TF_OK)
		return 2;
	log_init(cp->name, 0, LOG_LVL_INFO);
	http_global_init();
	if (!(in = json_loadf(stdin, 0, &jerr)) || !(op = str(in, "op"))) {
		fprintf(stderr, "bad input: %s\n", jerr.text);
		return 2;
	}
	conf = conf_new();
	conf_register_secrets(conf);
	memset(&ctx, 0, sizeof(ctx));
	ctx.conf = conf;
	ctx.integration_id = 1;
	ctx.creds = json_deep_copy(json_object_get(in, "creds"));
	ctx.now = json_is_integer(json_object_get(in, "now")) ? (time_t)json_integer_value(json_object_get(in, "now"))
							       : time(NULL);
	ctx.horizon_days = json_is_integer(json_object_get(in, "horizon_days")) ?
			   (int)json_integer_value(json_object_get(in, "horizon_days")) : 90;
	ctx.timezone = str(in, "timezone") ? str(in, "timezone") : "Europe/Berlin";

	if (!strcmp(op, "authurl")) {
		struct oauth_endpoints ep;
		char verifier[OAUTH_TOKEN_LEN], challenge[OAUTH_TOKEN_LEN], state[OAUTH_TOKEN_LEN];
		struct buf b;

		if (cp->endpoints(conf, &ep, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			return 2;
		}
		crypto_random_token(32, verifier, sizeof(verifier));
		crypto_random_token(32, state, sizeof(state));
		oauth_pkce_challenge(verifier, challenge);
		buf_init(&b, HTTP_MAX_URL);
		ps = oauth_authorization_url(&ep, state, challenge, &b) == 0 ? PROV_OK : PROV_ERROR;
		json_object_set_new(out, "url", json_string(b.data));
		json_object_set_new(out, "verifier", json_string(verifier));
		json_object_set_new(out, "state", json_string(state));
		buf_free(&b);
	} else if (!strcmp(op, "exchange") || !strcmp(op, "refresh") || !strcmp(op, "revoke")) {
		struct oauth_endpoints ep;
		struct oauth_tokens t = { 0 };
		struct oauth_error e;
		enum oauth_result r;

		if (cp->endpoints(conf, &ep, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			return 2;
		}
		if (!strcmp(op, "exchange"))
			r = oauth_exchange_code(&ep, str(in, "code"), str(in, "verifier"), ctx.now, &ctx.requests, &t, &e);
		else if (!strcmp(op, "refresh"))
			r = oauth_refresh(&ep, str(in, "token"), ctx.now, &ctx.requests, &t, &e);
		else
			r = oauth_revoke(&ep, str(in, "token"), &ctx.requests, &e);
		json_object_set_new(out, "oauth", json_string(oauth_result_name(r)));
		json_object_set_new(out, "oauth_error", json_string(e.error));
		if (r == OAUTH_OK && t.access_token)
			json_object_set_new(out, "tokens", bearer_creds_from_tokens(&t));
		oauth_tokens_free(&t);
		ps = r == OAUTH_OK ? PROV_OK : PROV_ERROR;
	} else if (!strcmp(op, "userinfo")) {
		char email[255];

		ps = cp->email(&ctx, email, sizeof(email));
		json_object_set_new(out, "email", json_string(email));
	} else if (!strcmp(op, "list")) {
		struct prov_calendar *cals = NULL;
		size_t n = 0;
		json_t *arr = json_array();

		ps = cp->ops->list_calendars(&ctx, &cals, &n);
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:b, s:b}", "id", cals[i].remote_id, "name",
							     cals[i].name, "color", cals[i].color, "can_write",
							     cals[i].can_write, "events", cals[i].events));
		prov_calendars_free(cals, n);
		json_object_set_new(out, "calendars", arr);
	} else if (!strcmp(op, "upsert")) {
		json_t *ev = json_object_get(in, "event");
		struct prov_event e = {
			.appointment_id = json_integer_value(json_object_get(ev, "appointment_id")),
			.start = (time_t)json_integer_value(json_object_get(ev, "start")),
			.end = (time_t)json_integer_value(json_object_get(ev, "end")),
			.sequence = (int)json_integer_value(json_object_get(ev, "sequence")),
			.summary = str(ev, "summary"),
			.description = str(ev, "description"),
			.location = str(ev, "location"),
			.create_meet = json_is_true(json_object_get(ev, "create_meet")),
		};
		char *rid = NULL, *etag = NULL, eid[128];
		const char *link = NULL;

		ps = cp->ops->push_upsert(&ctx, str(in, "cal"), &e, str(in, "remote_id"), str(in, "etag"),
						 &rid, &etag);
		if (cp->ops == &google_provider)
			link = google_last_video_link(&ctx);
		else
			link = ctx.video_link;
		cp->event_key(conf, e.appointment_id, eid, sizeof(eid));
		json_object_set_new(out, "remote_id", rid ? json_string(rid) : json_null());
		json_object_set_new(out, "etag", etag ? json_string(etag) : json_null());
		json_object_set_new(out, "video_link", link ? json_string(link) : json_null());
		json_object_set_new(out, "event_id", json_string(eid));
		/* what the engine gets: the same link in ctx.video_link, video_pending while Meet is pending */
		json_object_set_new(out, "ctx_video_link", ctx.video_link ? json_string(ctx.video_link) : json_null());
		json_object_set_new(out, "video_pending", json_boolean(ctx.video_pending));
		free(ctx.video_link);
		ctx.video_link = NULL;
		free(rid);
		free(etag);
	} else if (!strcmp(op, "delete")) {
		ps = cp->ops->push_delete(&ctx, str(in, "cal"), str(in, "remote_id"), str(in, "etag"));
	} else if (!strcmp(op, "pull")) {
		struct sink_rec r = { json_array(), json_array(), json_object_get(in, "known"), 0, 0 };
		struct prov_sink sink = { &r, s_upsert, s_remove, s_begin, s_end, s_known };
		char *cursor = NULL;

		ps = cp->ops->pull(&ctx, str(in, "cal"), str(in, "cursor"), &sink, &cursor);
		json_object_set_new(out, "cursor", cursor ? json_string(cursor) : json_null());
		json_object_set_new(out, "upserts", r.upserts);
		json_object_set_new(out, "removes", r.removes);
		json_object_set_new(out, "full", json_boolean(r.begun));
		json_object_set_new(out, "full_ended", json_boolean(r.ended));
		free(cursor);
	} else if (!strcmp(op, "watch") && cp->ops->watch) {
		char *rid = NULL;
		time_t exp = 0;

		ps = cp->ops->watch(&ctx, str(in, "cal"), str(in, "address"), str(in, "channel_id"), str(in, "token"),
				    &rid, &exp);
		json_object_set_new(out, "resource_id", rid ? json_string(rid) : json_null());
		json_object_set_new(out, "expires", json_integer((json_int_t)exp));
		free(rid);
	} else if (!strcmp(op, "unwatch") && cp->ops->unwatch) {
		ps = cp->ops->unwatch(&ctx, str(in, "channel_id"), str(in, "resource_id"));
	} else if (!strcmp(op, "renew") && cp->ops == &outlook_provider) {
		time_t exp = 0;

		ps = outlook_subscription_renew(&ctx, str(in, "resource_id"), &exp);
		json_object_set_new(out, "expires", json_integer((json_int_t)exp));
	} else if (!strcmp(op, "reauthorize") && cp->ops == &outlook_provider) {
		ps = outlook_subscription_reauthorize(&ctx, str(in, "resource_id"));
	} else {
		fprintf(stderr, "unknown op %s\n", op);
		return 2;
	}
	json_object_set_new(out, "status", json_string(prov_status_name(ps)));
	json_object_set_new(out, "error", json_string(ctx.error));
	json_object_set_new(out, "requests", json_integer((json_int_t)ctx.requests));
	json_object_set_new(out, "creds_changed", json_boolean(ctx.creds_changed));
	json_object_set_new(out, "creds", ctx.creds ? json_incref(ctx.creds) : json_null());
	json_dumpf(out, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(out);
	json_decref(ctx.creds);
	json_decref(in);
	conf_free(conf);
	return 0;
}
