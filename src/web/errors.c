/* errors.c: German error pages (400/401/403/404/405/409/410/413/415/422/429/500/503) and their JSON twins under /api/. */
#include "config.h"

#include <string.h>

#include "escape.h"
#include "log.h"
#include "web.h"

struct error_info {
	int status;
	const char *code;      /* JSON error code */
	const char *title;     /* German page title */
	const char *message;   /* German explanation */
};

static const struct error_info errors[] = {
	{ 400, "bad_request", "Ungültige Anfrage",
	  "Die Anfrage konnte nicht verarbeitet werden. Bitte prüfen Sie Ihre Eingaben." },
	{ 401, "unauthorized", "Anmeldung erforderlich",
	  "Bitte melden Sie sich an, um diese Seite zu nutzen." },
	{ 403, "forbidden", "Zugriff verweigert",
	  "Sie haben keine Berechtigung für diese Aktion." },
	{ 404, "not_found", "Seite nicht gefunden",
	  "Die angeforderte Seite gibt es nicht." },
	{ 405, "method_not_allowed", "Methode nicht erlaubt",
	  "Diese Adresse unterstützt die verwendete Anfragemethode nicht." },
	{ 409, "conflict", "Konflikt",
	  "Die Aktion passt nicht zum aktuellen Stand. Bitte laden Sie die Seite neu." },
	{ 410, "gone", "Nicht mehr verfügbar",
	  "Dieser Eintrag ist nicht mehr verfügbar." },
	{ 413, "payload_too_large", "Anfrage zu groß",
	  "Die gesendeten Daten sind zu groß (höchstens 64 KiB)." },
	{ 415, "unsupported_media_type", "Format nicht unterstützt",
	  "Das Format der gesendeten Daten wird nicht unterstützt." },
	{ 422, "unprocessable", "Nicht verarbeitbar",
	  "Die Anfrage konnte so nicht verarbeitet werden." },
	{ 429, "too_many_requests", "Zu viele Anfragen",
	  "Zu viele Anfragen in kurzer Zeit. Bitte warten Sie einige Minuten." },
	{ 500, "internal_error", "Interner Fehler",
	  "Es ist ein interner Fehler aufgetreten. Bitte versuchen Sie es später noch einmal." },
	{ 503, "service_unavailable", "Dienst nicht verfügbar",
	  "Der Dienst ist vorübergehend nicht erreichbar. Bitte versuchen Sie es später noch einmal." },
};

static const struct error_info *error_info(int status)
{
	size_t i;

	for (i = 0; i < TF_ARRAY_LEN(errors); i++) {
		if (errors[i].status == status)
			return &errors[i];
	}
	return &errors[TF_ARRAY_LEN(errors) - 2];   /* 500 */
}

void error_builtin(struct response *rs, int status)
{
	const struct error_info *e = error_info(status);
	struct buf b;

	buf_init(&b, 8192);
	/* trusted static texts only; escaped all the same */
	buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"de\">\n<head>\n<meta charset=\"utf-8\">\n"
		     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
	esc_html_str(&b, e->title);
	buf_puts(&b, " – TerminFinder Kalender</title>\n</head>\n<body>\n<main>\n<h1>");
	esc_html_str(&b, e->title);
	buf_puts(&b, "</h1>\n<p>");
	esc_html_str(&b, e->message);
	buf_puts(&b, "</p>\n</main>\n</body>\n</html>\n");
	if (resp_text(rs, status, "text/html; charset=utf-8", b.data ? b.data : "", b.len) < 0)
		rs->status = status;
	buf_free(&b);
}

static void error_json(struct response *rs, const struct error_info *e, int status,
		       const char *message)
{
	json_t *o = json_pack("{s:{s:s, s:s}}", "error", "code", e->code, "message",
			      message ? message : e->message);

	static const char fallback[] = "{\"error\":{\"code\":\"internal_error\",\"message\":\"\"}}";

	if (!o || resp_json(rs, status, o) < 0)
		resp_text(rs, status, "application/json; charset=utf-8", fallback, strlen(fallback));
	json_decref(o);
}

void error_json_field(struct response *rs, int status, const char *code, const char *field,
		      const char *message)
{
	static const char fallback[] = "{\"error\":{\"code\":\"internal_error\",\"message\":\"\"}}";
	json_t *o = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);

	buf_reset(&rs->body);
	if (o && field)
		json_object_set_new(json_object_get(o, "error"), "field", json_string(field));
	if (!o || resp_json(rs, status, o) < 0)
		resp_text(rs, status, "application/json; charset=utf-8", fallback, strlen(fallback));
	json_decref(o);
}

void error_respond(struct app *app, struct request *req, struct response *rs, int status,
		   const char *message)
{
	const struct error_info *e = error_info(status);
	json_t *ctx;

	/* keep headers already chosen for this answer (Allow, WWW-Authenticate, Set-Cookie) but
	 * replace any body and type */
	buf_reset(&rs->body);
	if (req->api) {
		error_json(rs, e, status, message);
		return;
	}
	ctx = page_context(app, req, rs, e->title, 0);
	json_object_set_new(ctx, "status", json_integer(status));
	json_object_set_new(ctx, "message", json_string(message ? message : e->message));
	page_render(app, rs, status, "error", ctx);
	json_decref(ctx);
}

void error_csrf(struct app *app, struct request *req, struct response *rs)
{
	error_respond(app, req, rs, 403,
		      "Die Sicherheitsprüfung ist fehlgeschlagen: Das Formular war abgelaufen oder "
		      "unvollständig. Bitte laden Sie die Seite neu und versuchen Sie es noch einmal.");
}
