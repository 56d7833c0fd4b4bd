/* channels.c: push-notification channels of connections (Google events.watch, Outlook Graph subscriptions): create, verify, renew, stop.
 *
 * Rules (one function, channels_apply, does the work for channels_ensure and channels_renew):
 * - every blocking calendar of a connection wants one channel that lives beyond a threshold
 *   (ensure: now; renew: now + the provider's window). A calendar without one gets a new channel
 *   first; only then are its older channels stopped (overlap is fine, a gap is not). Providers
 *   whose channel covers the whole account (Outlook: one subscription to me/events) have one
 *   pseudo-calendar (id 0, calendar_id NULL) while the connection has any blocking calendar;
 * - providers that renew in place (Outlook: PATCH expirationDateTime) renew a due channel, or one
 *   a lifecycle event asked to renew; one the provider no longer knows (404) is marked stopped and
 *   replaced; a renewal that failed otherwise is retried next run (no second subscription while
 *   the first one still lives);
 * - the row of a new channel is inserted before events.watch is called (Google may deliver the
 *   "sync" notification before its answer) and deleted again when the call fails;
 * - channels of calendars that no longer block are stopped; a stop that fails is retried by the
 *   next run (the row stays unstopped); a channel already expired, or one whose watch never
 *   answered (no resource id), is only marked stopped;
 * - channel ids are random (UUID form); tokens are 256 random bits (base64url) of which only the
 *   SHA-256 is stored; the webhook's token is compared as SHA-256 in constant time.
 * tf-renew runs under the connection's sync lock (terminfinder_sync_<id>), so it never races a
 * sync of the same connection (whose channels_ensure would otherwise open a second channel). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels.h"
#include "crypto.h"
#include "integration.h"
#include "log.h"
#include "provider_outlook.h"

#define CHANNEL_ID_LEN       37        /* 36 characters of UUID form + NUL */
#define CHANNEL_TOKEN_MAX    256       /* Google's limit for X-Goog-Channel-Token */
#define CHANNEL_MAX_CONNS    100000    /* connections looked at by one tf-renew run */

#define MSG_NO_CHANNEL "Für einen Kalender dieser Verbindung konnte kein Benachrichtigungskanal " \
		       "eingerichtet werden; Änderungen werden bis dahin nur bei der regelmäßigen " \
		       "Synchronisierung übernommen."

struct chan {
	long long id, calendar_id;   /* calendar_id 0: the whole account */
	char *channel_id, *resource_id;
	time_t expires;     /* 0: unknown (watch never answered) */
	int renew_requested;/* a lifecycle event asked for a renewal */
	int kept;           /* renewed in place by this run */
	int stopped;        /* done with in this run */
};

/* How a provider's channels work (channels.h). renew: in-place renewal of channel resource_id
 * (*expires = the new expiry); NULL = replace by a new channel. */
struct chan_kind {
	const char *provider;
	int per_account;
	long renew_before;
	enum prov_status (*renew)(struct prov_ctx *c, const char *resource_id, time_t *expires);
};

static const struct chan_kind kinds[] = {
	{ "google",  0, CHANNEL_RENEW_BEFORE,         NULL },
	{ "outlook", 1, CHANNEL_RENEW_BEFORE_OUTLOOK, outlook_subscription_renew },
};

/* The kind of provider's channels; an unlisted provider with ops->watch gets Google's rules. */
static const struct chan_kind *kind_find(const char *provider)
{
	size_t i;

	for (i = 0; provider && i < TF_ARRAY_LEN(kinds); i++) {
		if (strcmp(kinds[i].provider, provider) == 0)
			return &kinds[i];
	}
	return &kinds[0];
}

struct bcal {
	long long id;
	char *remote_id;
};

struct chan_run {
	struct db *db;
	struct prov_ctx *ctx;
	const struct provider_ops *ops;
	const struct chan_kind *kind;
	long long integration_id;
	time_t now, threshold;
	struct chan *ch;
	size_t nch;
	struct bcal *cal;
	size_t ncal;
	/* counts */
	unsigned long due, renewed, failed, uncovered;
	int db_failed;
};

static void run_free(struct chan_run *r)
{
	size_t i;

	for (i = 0; i < r->nch; i++) {
		free(r->ch[i].channel_id);
		free(r->ch[i].resource_id);
	}
	for (i = 0; i < r->ncal; i++)
		free(r->cal[i].remote_id);
	free(r->ch);
	free(r->cal);
	r->ch = NULL;
	r->cal = NULL;
	r->nch = r->ncal = 0;
}

static int run_load(struct chan_run *r)
{
	struct db_rows rows;
	size_t i;

	if (db_query(r->db, STMT_CHAN_BLOCKING_CALS, DB_ARGS(DBP_INT(r->integration_id)), &rows) != TF_OK)
		return -1;
	r->cal = xcalloc(rows.nrows + 1, sizeof(*r->cal));
	if (r->kind->per_account) {
		/* one channel for the account while anything blocks: the pseudo-calendar 0 */
		r->ncal = rows.nrows > 0 ? 1 : 0;
	} else {
		for (i = 0; i < rows.nrows; i++) {
			r->cal[i].id = db_cell_int(&rows, i, 0, 0);
			r->cal[i].remote_id = xstrdup(db_cell(&rows, i, 1) ? db_cell(&rows, i, 1) : "");
		}
		r->ncal = rows.nrows;
	}
	db_rows_free(&rows);
	if (db_query(r->db, STMT_CHAN_LIVE, DB_ARGS(DBP_INT(r->integration_id)), &rows) != TF_OK)
		return -1;
	r->ch = xcalloc(rows.nrows + 1, sizeof(*r->ch));
	for (i = 0; i < rows.nrows; i++) {
		r->ch[i].id = db_cell_int(&rows, i, 0, 0);
		r->ch[i].calendar_id = db_cell_int(&rows, i, 1, 0);
		r->ch[i].channel_id = xstrdup(db_cell(&rows, i, 2) ? db_cell(&rows, i, 2) : "");
		r->ch[i].resource_id = xstrdup(db_cell(&rows, i, 3) ? db_cell(&rows, i, 3) : "");
		r->ch[i].expires = db_cell(&rows, i, 4) ? (time_t)db_cell_int(&rows, i, 4, 0) : 0;
		r->ch[i].renew_requested = db_cell_int(&rows, i, 5, 0) != 0;
	}
	r->nch = rows.nrows;
	db_rows_free(&rows);
	return 0;
}

/* A new channel id in UUID form from 128 random bits. */
static void new_channel_id(char out[CHANNEL_ID_LEN])
{
	unsigned char b[16];

	crypto_random(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);   /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, CHANNEL_ID_LEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
		 b[14], b[15]);
}

/* BASE_URL + "/webhooks/calendar/" + provider into out. 0, or -1 when BASE_URL is missing. */
static int hook_address(struct conf *c, const char *provider, char *out, size_t len)
{
	const char *base = conf_get(c, "BASE_URL");
	size_t n;
	int w;

	if (!base || !*base)
		return -1;
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	w = snprintf(out, len, "%.*s/webhooks/calendar/%s", (int)n, base, provider);
	return w > 0 && (size_t)w < len ? 0 : -1;
}

/* Open a channel for calendar k: row first, then events.watch, then the answer stored.
 * Returns 0 (a new live channel), -1 failed (logged; row removed). */
static int open_channel(struct chan_run *r, const struct bcal *k)
{
	char id[CHANNEL_ID_LEN], token[64], hash[65], address[1200];
	char *resource = NULL;
	unsigned long long row = 0;
	time_t expires = 0;
	enum prov_status st;
	int rc = -1;

	if (hook_address(r->ctx->conf, r->ops->name, address, sizeof(address)) < 0) {
		log_error("channels: BASE_URL is not set (or too long): no notification channel can be opened");
		return -1;
	}
	new_channel_id(id);
	crypto_random_token(32, token, sizeof(token));
	sha256_hex(token, strlen(token), hash);
	if (db_exec(r->db, STMT_CHAN_INSERT,
		    DB_ARGS(DBP_INT(r->integration_id), DBP_TEXT(r->ops->name),
			    k->id > 0 ? DBP_INT(k->id) : DBP_NULL, DBP_TEXT(id), DBP_TEXT(hash)), NULL,
		    &row) != TF_OK) {
		r->db_failed = 1;
		goto out;
	}
	r->ctx->error[0] = '\0';
	st = r->ops->watch(r->ctx, r->kind->per_account ? NULL : k->remote_id, address, id, token, &resource,
			   &expires);
	if (st != PROV_OK) {
		log_warn("channels: integration %lld: calendar %lld: watch failed: %s", r->integration_id, k->id,
			 prov_status_name(st));
		if (db_exec(r->db, STMT_CHAN_DELETE, DB_ARGS(DBP_INT((long long)row)), NULL, NULL) != TF_OK)
			r->db_failed = 1;
		goto out;
	}
	if (db_exec(r->db, STMT_CHAN_OPENED,
		    DB_ARGS(DBP_TEXT(resource ? resource : ""), expires > 0 ? DBP_INT((long long)expires) : DBP_NULL,
			    DBP_INT((long long)row)), NULL, NULL) != TF_OK) {
		/* the channel is live at the provider but we could not record it: stop it again */
		r->db_failed = 1;
		if (r->ops->unwatch)
			r->ops->unwatch(r->ctx, id, resource ? resource : "");
		db_exec(r->db, STMT_CHAN_DELETE, DB_ARGS(DBP_INT((long long)row)), NULL, NULL);
		goto out;
	}
	log_info("channels: integration %lld: calendar %lld: channel %s open until %lld", r->integration_id,
		 k->id, id, (long long)expires);
	rc = 0;
out:
	explicit_bzero(token, sizeof(token));
	free(resource);
	return rc;
}

/* Stop channel h (already gone at the provider = stopped). 0 stopped, -1 failed (kept for the next run). */
static int stop_channel(struct chan_run *r, struct chan *h)
{
	enum prov_status st = PROV_OK;

	if (h->stopped)
		return 0;
	/* expired, or never answered: nothing to stop at the provider */
	if (h->resource_id[0] && h->expires > r->now && r->ops->unwatch) {
		r->ctx->error[0] = '\0';
		st = r->ops->unwatch(r->ctx, h->channel_id, h->resource_id);
	}
	if (st != PROV_OK && st != PROV_NOT_FOUND) {
		log_warn("channels: integration %lld: stopping channel %s failed: %s (retried next run)",
			 r->integration_id, h->channel_id, prov_status_name(st));
		return -1;
	}
	if (db_exec(r->db, STMT_CHAN_STOPPED, DB_ARGS(DBP_INT((long long)r->now), DBP_INT(h->id)), NULL,
		    NULL) != TF_OK) {
		r->db_failed = 1;
		return -1;
	}
	h->stopped = 1;
	log_info("channels: integration %lld: channel %s stopped", r->integration_id, h->channel_id);
	return 0;
}

/* Renew channel h in place (kind->renew). 0 renewed; 1 gone at the provider (marked stopped: a new
 * one is due); -1 failed (kept; retried next run). */
static int renew_channel(struct chan_run *r, struct chan *h)
{
	time_t expires = 0;
	enum prov_status st;

	r->ctx->error[0] = '\0';
	st = r->kind->renew(r->ctx, h->resource_id, &expires);
	if (st == PROV_NOT_FOUND) {
		log_info("channels: integration %lld: channel %s is gone at the provider; a new one is opened",
			 r->integration_id, h->channel_id);
		h->resource_id[0] = '\0';   /* nothing to stop there */
		return stop_channel(r, h) < 0 ? -1 : 1;
	}
	if (st != PROV_OK || expires <= r->now) {
		log_warn("channels: integration %lld: renewing channel %s failed: %s (retried next run)",
			 r->integration_id, h->channel_id, st != PROV_OK ? prov_status_name(st) : "no new expiry");
		return -1;
	}
	if (db_exec(r->db, STMT_CHAN_RENEWED, DB_ARGS(DBP_INT((long long)expires), DBP_INT(h->id)), NULL,
		    NULL) != TF_OK) {
		r->db_failed = 1;
		return -1;
	}
	h->expires = expires;
	h->renew_requested = 0;
	h->kept = 1;
	log_info("channels: integration %lld: channel %s renewed until %lld", r->integration_id, h->channel_id,
		 (long long)expires);
	return 0;
}

static const struct bcal *find_cal(const struct chan_run *r, long long id)
{
	size_t i;

	for (i = 0; i < r->ncal; i++) {
		if (r->cal[i].id == id)
			return &r->cal[i];
	}
	return NULL;
}

/* The work for one connection (see the top of the file). Returns 0, or -1 when something failed. */
static int channels_apply(struct chan_run *r)
{
	size_t i, j;
	int fresh, had_live, failed_before = (int)r->failed;

	if (run_load(r) < 0) {
		r->db_failed = 1;
		return -1;
	}
	/* channels of calendars that no longer block */
	for (j = 0; j < r->nch && !r->db_failed; j++) {
		if (!find_cal(r, r->ch[j].calendar_id) && stop_channel(r, &r->ch[j]) < 0)
			r->failed++;
	}
	for (i = 0; i < r->ncal && !r->db_failed; i++) {
		const struct bcal *k = &r->cal[i];
		int counted = 0;

		/* in-place renewal of the calendar's live channels that are due or asked for */
		for (j = 0; r->kind->renew && j < r->nch && !r->db_failed; j++) {
			struct chan *h = &r->ch[j];
			int rc;

			if (h->calendar_id != k->id || h->stopped || !h->resource_id[0] || h->expires <= r->now ||
			    (h->expires > r->threshold && !h->renew_requested))
				continue;
			r->due++;
			counted = 1;
			rc = renew_channel(r, h);
			if (rc == 0)
				r->renewed++;
			else if (rc < 0)
				r->failed++;
		}
		fresh = had_live = 0;
		for (j = 0; j < r->nch; j++) {
			const struct chan *h = &r->ch[j];

			if (h->calendar_id != k->id || h->stopped)
				continue;
			if (h->expires > r->threshold || h->kept)
				fresh = 1;
			if (h->expires > r->now)
				had_live = 1;
		}
		if (!fresh && r->kind->renew && had_live) {
			continue;   /* its renewal failed (counted): no second subscription while it lives */
		}
		if (!fresh) {
			if (!counted)
				r->due++;
			if (open_channel(r, k) < 0) {
				r->failed++;
				if (!had_live)
					r->uncovered++;
				continue;   /* the old channels stay: they still deliver until they expire */
			}
			r->renewed++;
		}
		/* a fresh channel exists: the older ones of this calendar go */
		for (j = 0; j < r->nch && !r->db_failed; j++) {
			struct chan *h = &r->ch[j];

			if (h->calendar_id == k->id && !h->stopped && !h->kept && h->expires <= r->threshold &&
			    stop_channel(r, h) < 0)
				r->failed++;
		}
	}
	if (r->db_failed)
		return -1;
	return (int)r->failed > failed_before ? -1 : 0;
}

int channels_ensure(struct db *db, struct prov_ctx *ctx, const struct provider_ops *ops,
		    long long integration_id, time_t now)
{
	struct chan_run r;
	int rc;

	if (!ops || !ops->watch)
		return 0;
	memset(&r, 0, sizeof(r));
	r.db = db;
	r.ctx = ctx;
	r.ops = ops;
	r.kind = kind_find(ops->name);
	r.integration_id = integration_id;
	r.now = now;
	r.threshold = now;
	rc = channels_apply(&r);
	if (rc < 0) {
		log_warn("channels: integration %lld: %lu calendar(s) without a new channel, %lu failure(s)",
			 integration_id, r.uncovered, r.failed);
		if (r.uncovered)
			str_copy(ctx->error, MSG_NO_CHANNEL, sizeof(ctx->error));
	}
	run_free(&r);
	return rc;
}

int channels_stop_all(struct db *db, struct prov_ctx *ctx, const struct provider_ops *ops,
		      long long integration_id)
{
	struct chan_run r;
	size_t j;
	int rc = 0;

	memset(&r, 0, sizeof(r));
	r.db = db;
	r.ctx = ctx;
	r.ops = ops;
	r.kind = kind_find(ops ? ops->name : NULL);
	r.integration_id = integration_id;
	r.now = time(NULL);
	if (run_load(&r) < 0) {
		run_free(&r);
		return -1;
	}
	for (j = 0; j < r.nch; j++) {
		if (!ops || !ops->unwatch) {
			r.ch[j].resource_id[0] = '\0';   /* nothing to call: only mark it */
		}
		if (stop_channel(&r, &r.ch[j]) < 0)
			rc = -1;
	}
	run_free(&r);
	return rc;
}

#define DUMMY_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* The verdict on a row of STMT_CHAN_VERIFY(_RESOURCE) (columns: integration_id, token_hash,
 * expiration, live, resource_id, id) for a token whose SHA-256 hex is hash. resource_id NULL = not
 * checked. Frees rows. */
static enum channel_verdict verdict_of(struct db_rows *rows, const char *hash, size_t token_len,
				       const char *resource_id, time_t now, long long *integration_id,
				       long long *channel_row)
{
	const char *stored = db_cell(rows, 0, 1), *rid;
	enum channel_verdict v;
	int ok;

	ok = stored && strlen(stored) == 64 && ct_equal(hash, stored, 64);
	ok &= token_len <= CHANNEL_TOKEN_MAX;
	if (db_cell_int(rows, 0, 3, 1) == 0 ||
	    (db_cell(rows, 0, 2) && (time_t)db_cell_int(rows, 0, 2, 0) <= now)) {
		v = CHANNEL_UNKNOWN;   /* stopped or expired: as if it never was */
	} else if (!ok) {
		v = CHANNEL_BAD_TOKEN;
	} else {
		rid = db_cell(rows, 0, 4);
		/* the resource id is known once the watch answered (the sync message may come first) */
		if (resource_id && rid && *rid && strcmp(rid, resource_id) != 0) {
			v = CHANNEL_BAD_TOKEN;
		} else {
			*integration_id = db_cell_int(rows, 0, 0, 0);
			if (channel_row)
				*channel_row = db_cell_int(rows, 0, 5, 0);
			v = CHANNEL_OK;
		}
	}
	db_rows_free(rows);
	return v;
}

/* An id from a notification: 1..64 characters of the set providers use. */
static int id_plausible(const char *id)
{
	return id && *id && strlen(id) <= 64 &&
	       str_only_chars(id, 64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=");
}

/* The lookup both checks share: the row by channel_id (provider NULL) or by (provider, resource id
 * = key), then verdict_of. An unknown or implausible key costs a hash comparison all the same. */
static enum channel_verdict check_key(struct db *db, const char *provider, const char *key, const char *token,
				      const char *resource_id, time_t now, long long *integration_id,
				      long long *channel_row)
{
	struct db_rows rows;
	char hash[65];
	int q;

	*integration_id = 0;
	if (channel_row)
		*channel_row = 0;
	if (!token)
		token = "";
	/* hash whatever came, so an unknown channel costs the same as a known one */
	sha256_hex(token, strnlen(token, CHANNEL_TOKEN_MAX + 1), hash);
	if (!id_plausible(key)) {
		ct_equal(hash, DUMMY_HASH, 64);
		return CHANNEL_UNKNOWN;
	}
	if (provider)
		q = db_query_one(db, STMT_CHAN_VERIFY_RESOURCE, DB_ARGS(DBP_TEXT(provider), DBP_TEXT(key)), &rows);
	else
		q = db_query_one(db, STMT_CHAN_VERIFY, DB_ARGS(DBP_TEXT(key)), &rows);
	if (q < 0)
		return CHANNEL_ERROR;
	if (q == 0) {
		ct_equal(hash, DUMMY_HASH, 64);
		return CHANNEL_UNKNOWN;
	}
	return verdict_of(&rows, hash, strlen(token), resource_id, now, integration_id, channel_row);
}

enum channel_verdict channels_check(struct db *db, const char *channel_id, const char *token,
				    const char *resource_id, time_t now, long long *integration_id)
{
	return check_key(db, NULL, channel_id, token, resource_id, now, integration_id, NULL);
}

enum channel_verdict channels_check_resource(struct db *db, const char *provider, const char *resource_id,
					     const char *token, time_t now, long long *integration_id,
					     long long *channel_row)
{
	if (!provider || !*provider) {
		*integration_id = 0;
		*channel_row = 0;
		return CHANNEL_UNKNOWN;
	}
	return check_key(db, provider, resource_id, token, NULL, now, integration_id, channel_row);
}

int channels_lifecycle(struct db *db, long long channel_row, long long integration_id, enum channel_event ev,
		       time_t now)
{
	enum tf_err e;

	switch (ev) {
	case CHANNEL_EV_REAUTHORIZE:
		e = db_exec(db, STMT_CHAN_RENEW_REQUEST, DB_ARGS(DBP_INT(channel_row)), NULL, NULL);
		break;
	case CHANNEL_EV_REMOVED:
		e = db_exec(db, STMT_CHAN_STOPPED, DB_ARGS(DBP_INT((long long)now), DBP_INT(channel_row)), NULL,
			    NULL);
		break;
	case CHANNEL_EV_MISSED:
		e = db_exec(db, STMT_CHAN_CURSORS_CLEAR, DB_ARGS(DBP_INT(integration_id)), NULL, NULL);
		break;
	default:
		return -1;
	}
	return e == TF_OK ? 0 : -1;
}

int channels_verify(struct db *db, const char *channel_id, const char *token, time_t now,
		    long long *integration_id)
{
	switch (channels_check(db, channel_id, token, NULL, now, integration_id)) {
	case CHANNEL_OK:
		return 1;
	case CHANNEL_ERROR:
		return -1;
	default:
		return 0;
	}
}

/* Renew the channels of one connection under its sync lock. Adds to the counters. */
static void renew_one(struct db *db, struct conf *c, long long id, time_t now, unsigned long *due,
		      unsigned long *renewed, unsigned long *failed)
{
	struct integration_conn conn;
	const struct provider_ops *ops;
	struct chan_run r;
	struct prov_ctx ctx;
	struct db_rows rows;
	char err[300];
	long horizon;
	int q, locked;

	q = db_query_one(db, STMT_SYNC_NAMED_LOCK, DB_ARGS(DBP_INT(id)), &rows);
	if (q <= 0) {
		(*failed)++;
		return;
	}
	locked = db_cell(&rows, 0, 0) && db_cell_int(&rows, 0, 0, 0) == 1;
	db_rows_free(&rows);
	if (!locked) {
		log_warn("channels: integration %lld is being synced; its channels are renewed next run", id);
		(*failed)++;
		return;
	}
	memset(&conn, 0, sizeof(conn));
	q = integration_load(db, c, id, &conn, err, sizeof(err));
	ops = q == 1 ? provider_find(conn.provider) : NULL;
	if (q != 1 || !conn.creds || !ops || !ops->watch) {
		if (q == -2)
			log_error("channels: integration %lld: %s", id, err);
		else if (q == 1 && (!ops || !ops->watch))
			goto release;   /* nothing to renew for this provider */
		(*failed)++;
		goto release;
	}
	if (conf_get_long(c, "TF_SYNC_HORIZON_DAYS", 120, 1, 3650, &horizon, NULL, 0) < 0)
		horizon = 120;
	memset(&ctx, 0, sizeof(ctx));
	ctx.conf = c;
	ctx.integration_id = id;
	ctx.creds = conn.creds;
	integration_ctx_autosave(&ctx, db);
	ctx.state = conn.state;
	ctx.horizon_days = (int)horizon;
	ctx.now = now;
	ctx.timezone = conn.timezone;
	memset(&r, 0, sizeof(r));
	r.db = db;
	r.ctx = &ctx;
	r.ops = ops;
	r.kind = kind_find(ops->name);
	r.integration_id = id;
	r.now = now;
	r.threshold = now + r.kind->renew_before;
	channels_apply(&r);
	if (ctx.creds_changed &&
	    integration_store_credentials(db, c, id, conn.creds, err, sizeof(err)) != TF_OK) {
		log_error("channels: integration %lld: refreshed credentials not stored: %s", id, err);
		r.failed++;
	}
	if (r.uncovered &&
	    db_exec(db, STMT_CHAN_REPORT, DB_ARGS(DBP_TEXT(MSG_NO_CHANNEL), DBP_INT(id)), NULL, NULL) != TF_OK)
		r.db_failed = 1;
	if (r.db_failed)
		r.failed++;
	log_info("channels: integration %lld: %lu due, %lu renewed, %lu failed, %lu request(s)", id, r.due,
		 r.renewed, r.failed, ctx.requests);
	*due += r.due;
	*renewed += r.renewed;
	*failed += r.failed;
	run_free(&r);
release:
	db_exec(db, STMT_SYNC_NAMED_UNLOCK, DB_ARGS(DBP_INT(id)), NULL, NULL);
	integration_conn_free(&conn);
}

int channels_renew_run(struct db *db, struct conf *c, time_t now, struct channels_renew_stats *st)
{
	struct db_rows rows;
	size_t i, k;
	long long t;

	memset(st, 0, sizeof(*st));
	if (db_exec(db, STMT_CHAN_PURGE, DB_ARGS(DBP_INT((long long)now)), NULL, NULL) != TF_OK)
		return -1;
	for (k = 0; k < TF_ARRAY_LEN(kinds); k++) {
		t = (long long)now + kinds[k].renew_before;
		if (db_query(db, STMT_CHAN_RENEW_DUE,
			     DB_ARGS(DBP_TEXT(kinds[k].provider), DBP_INT(t), DBP_INT(t), DBP_INT(CHANNEL_MAX_CONNS)),
			     &rows) != TF_OK)
			return -1;
		for (i = 0; i < rows.nrows; i++) {
			renew_one(db, c, db_cell_int(&rows, i, 0, 0), now, &st->channels, &st->renewed,
				  &st->failed);
			st->connections++;
		}
		db_rows_free(&rows);
	}
	return 0;
}

int channels_maintain(struct db *db, struct conf *c, long long integration_id, time_t now)
{
	unsigned long due = 0, renewed = 0, failed = 0;

	renew_one(db, c, integration_id, now, &due, &renewed, &failed);
	return failed ? -1 : 0;
}

long channels_renew(struct db *db, struct conf *c, time_t now, unsigned long *renewed)
{
	struct channels_renew_stats st;

	*renewed = 0;
	if (channels_renew_run(db, c, now, &st) < 0)
		return -1;
	*renewed = st.renewed;
	return (long)st.failed;
}
