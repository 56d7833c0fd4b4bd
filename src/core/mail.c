/* mail.c: patient e-mail: the queue (atomic claims, back-off, reminders), MIME messages from the templates, SMTP via libesmtp. */
#include "config.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
/* openssl/ssl.h and auth-client.h first: libesmtp.h declares smtp_starttls_set_ctx and
 * smtp_auth_set_context only when it has seen them */
#include <openssl/ssl.h>
#include <auth-client.h>
#include <libesmtp.h>

#include "booking.h"
#include "crypto.h"
#include "doctor.h"
#include "escape.h"
#include "ics.h"
#include "integration.h"
#include "log.h"
#include "mail.h"
#include "paths.h"
#include "template.h"
#include "tztime.h"

/*
 * Delivery guarantees. A row of mail_queue is claimed with one UPDATE (pending -> sending) whose
 * WHERE repeats the due condition; InnoDB's row lock makes exactly one claimer see "1 row", so
 * overlapping tf-remind runs, several hosts, and the web app's flush after a booking never send a
 * row twice while the claimer lives. A row left in 'sending' for MAIL_STALE_SECONDS (its sender
 * crashed or lost the database) may be claimed again. That leaves one small at-least-once window:
 * a sender that dies after the SMTP server accepted the message but before it marked the row
 * 'sent' causes the mail to go out a second time 15 minutes later. SMTP timeouts (below) keep a
 * living sender far below those 15 minutes, so a slow send is never mistaken for a dead one.
 *
 * Reminders: mail_queue_reminders inserts (appointment, 'reminder', seq = reschedule_count) for
 * confirmed appointments starting in (now + 5 min, now + 24 h] that have no reminder sent
 * (appointments.reminder_sent_at IS NULL) and none pending. The unique key (appointment, kind,
 * seq) makes overlapping runs insert one row. booking_reschedule increments reschedule_count and
 * clears reminder_sent_at when it moves an appointment more than 24 h away, so a moved appointment
 * gets one new reminder for its new time; a reminder row whose seq no longer matches (the
 * appointment moved after it was queued) is not sent, and the next run queues the right one.
 */

#define MAIL_MAX_ATTEMPTS   10
#define MAIL_BACKOFF_CAP    (6 * 3600L)
#define MAIL_STALE_SECONDS  (15 * 60L)
#define MAIL_BATCH          100
#define MAIL_MSG_MAX        (2 * 1024 * 1024)
#define MAIL_PART_MAX       (256 * 1024)
#define MAIL_ERR_MAX        900            /* last_error is VARCHAR(1000) */
#define REMINDER_MIN_AHEAD  (5 * 60L)
#define REMINDER_MAX_AHEAD  (24 * 3600L)
#define VIDEO_WAIT_DEFAULT  10                 /* minutes (TF_VIDEO_LINK_WAIT_MINUTES) */
#define VIDEO_RECHECK       60L                /* seconds between checks while waiting */
/* SMTP timeouts in milliseconds (libesmtp's unit); together far below MAIL_STALE_SECONDS */
#define SMTP_TIMEOUT_SHORT  30000L
#define SMTP_TIMEOUT_LONG   60000L

static const char *const kind_names[MAIL_KIND_MAX] = {
	[MAIL_CONFIRMATION] = "confirmation",
	[MAIL_CANCELLATION] = "cancellation",
	[MAIL_RESCHEDULE] = "reschedule",
	[MAIL_REMINDER] = "reminder",
	[MAIL_VIDEO_LINK] = "video_link",
	[MAIL_REAUTH] = "reauth",
};

const char *mail_kind_name(enum mail_kind k)
{
	if ((unsigned)k >= MAIL_KIND_MAX)
		return "unknown";
	return kind_names[k];
}

static int kind_parse(const char *s, enum mail_kind *out)
{
	for (int k = 0; k < MAIL_KIND_MAX; k++) {
		if (s && strcmp(s, kind_names[k]) == 0) {
			*out = (enum mail_kind)k;
			return 0;
		}
	}
	return -1;
}

/* ------------------------------------------------------------------ settings */

struct mail_settings {
	char host[256];
	long port;
	enum starttls_option tls;
	const char *user, *password;
	const char *ca_file;      /* SMTP_CA_FILE: extra trusted CA certificates (PEM), or NULL */
	char from_addr[DOCTOR_EMAIL_MAX + 1];
	char from_name[256];      /* display name given in MAIL_FROM, or "" */
	char base_url[1024];      /* without a trailing '/' */
};

/* An address for an SMTP envelope and a header: doctor_email_valid's rules (no spaces, controls,
 * angle brackets, quotes or other specials; one '@'; a dot in the domain). */
static int addr_ok(const char *s)
{
	return s && doctor_email_valid(s);
}

static int settings_load(struct conf *c, int need_smtp, struct mail_settings *s, char *err,
			 size_t errlen)
{
	const char *v, *lt, *gt, *p;
	size_t n;

	memset(s, 0, sizeof(*s));

	v = conf_get(c, "MAIL_FROM");
	if (!v || !*v) {
		err_set(err, errlen, "missing required setting: MAIL_FROM");
		return -1;
	}
	if (!header_value_ok(v) || strlen(v) > 400) {
		err_set(err, errlen, "MAIL_FROM must be an address or \"Name <address>\" on one line");
		return -1;
	}
	lt = strchr(v, '<');
	if (lt) {
		const char *ns = v, *ne = lt;

		gt = strchr(lt, '>');
		if (!gt || (size_t)(gt - lt - 1) > DOCTOR_EMAIL_MAX) {
			err_set(err, errlen, "MAIL_FROM must be an address or \"Name <address>\"");
			return -1;
		}
		for (p = gt + 1; *p; p++) {
			if (*p != ' ' && *p != '\t') {
				err_set(err, errlen, "MAIL_FROM has text after the address");
				return -1;
			}
		}
		memcpy(s->from_addr, lt + 1, (size_t)(gt - lt - 1));
		s->from_addr[gt - lt - 1] = '\0';
		while (ns < ne && (*ns == ' ' || *ns == '\t'))
			ns++;
		while (ne > ns && (ne[-1] == ' ' || ne[-1] == '\t'))
			ne--;
		if (ne - ns >= 2 && *ns == '"' && ne[-1] == '"') {
			ns++;
			ne--;
		}
		n = (size_t)(ne - ns);
		if (n >= sizeof(s->from_name))
			n = sizeof(s->from_name) - 1;
		memcpy(s->from_name, ns, n);
		s->from_name[n] = '\0';
		for (char *q = s->from_name; *q; q++)
			if (*q == '"' || *q == '\\')
				*q = ' ';
	} else {
		while (*v == ' ' || *v == '\t')
			v++;
		n = strcspn(v, " \t");
		if (n > DOCTOR_EMAIL_MAX) {
			err_set(err, errlen, "MAIL_FROM is not a valid e-mail address");
			return -1;
		}
		memcpy(s->from_addr, v, n);
		s->from_addr[n] = '\0';
	}
	if (!addr_ok(s->from_addr)) {
		err_set(err, errlen, "MAIL_FROM is not a valid e-mail address");
		return -1;
	}

	v = conf_get(c, "BASE_URL");
	if (!v || !*v) {
		err_set(err, errlen, "missing required setting: BASE_URL (the links in the mails)");
		return -1;
	}
	if ((strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0) ||
	    strpbrk(v, " \t\r\n\"'<>\\") || !header_value_ok(v) ||
	    str_copy(s->base_url, v, sizeof(s->base_url)) >= sizeof(s->base_url)) {
		err_set(err, errlen, "BASE_URL must be an http:// or https:// URL");
		return -1;
	}
	n = strlen(s->base_url);
	while (n > 0 && s->base_url[n - 1] == '/')
		s->base_url[--n] = '\0';

	if (!need_smtp)
		return 0;

	v = conf_get(c, "SMTP_HOST");
	if (!v || !*v) {
		err_set(err, errlen, "missing required setting: SMTP_HOST");
		return -1;
	}
	if (!str_only_chars(v, sizeof(s->host) - 1,
			    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")) {
		err_set(err, errlen, "SMTP_HOST must be a host name or IPv4 address");
		return -1;
	}
	str_copy(s->host, v, sizeof(s->host));

	v = conf_get_default(c, "SMTP_STARTTLS", "no");
	if (strcmp(v, "no") == 0)
		s->tls = Starttls_DISABLED;
	else if (strcmp(v, "yes") == 0)
		s->tls = Starttls_ENABLED;
	else if (strcmp(v, "required") == 0)
		s->tls = Starttls_REQUIRED;
	else {
		err_set(err, errlen, "SMTP_STARTTLS must be no, yes or required");
		return -1;
	}
	if (conf_get_long(c, "SMTP_PORT", s->tls == Starttls_DISABLED ? 25 : 587, 1, 65535, &s->port,
			  err, errlen) < 0)
		return -1;

	s->ca_file = conf_get(c, "SMTP_CA_FILE");
	if (s->ca_file && !*s->ca_file)
		s->ca_file = NULL;
	if (s->ca_file && access(s->ca_file, R_OK) != 0) {
		err_set(err, errlen, "SMTP_CA_FILE names a file that cannot be read");
		return -1;
	}

	s->user = conf_get(c, "SMTP_USER");
	s->password = conf_get(c, "SMTP_PASSWORD");
	if (s->user && !*s->user)
		s->user = NULL;
	if (s->password && !*s->password)
		s->password = NULL;
	if (s->user && !s->password) {
		err_set(err, errlen, "SMTP_USER is set but SMTP_PASSWORD is missing");
		return -1;
	}
	if (!s->user && s->password) {
		err_set(err, errlen, "SMTP_PASSWORD is set but SMTP_USER is missing");
		return -1;
	}
	if (s->user && (strlen(s->user) > 255 || !header_value_ok(s->user))) {
		err_set(err, errlen, "SMTP_USER is too long or has control characters");
		return -1;
	}
	if (s->password && (strlen(s->password) > 255 || !header_value_ok(s->password))) {
		err_set(err, errlen, "SMTP_PASSWORD is too long or has control characters");
		return -1;
	}
	return 0;
}

int mail_config_check(struct conf *c, char *err, size_t errlen)
{
	struct mail_settings s;

	return settings_load(c, 1, &s, err, errlen);
}

/* ------------------------------------------------------------------ headers and dates */

static int ascii_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/* No CR, LF or other controls (TAB included: nothing of ours needs it in a header). */
static int header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return 0;
	return 1;
}

/* Append value as encoded-words. Each word carries at most 36 bytes of
 * UTF-8 (48 base64 characters, 60 with the framing), cut only before a lead byte. */
static int put_encoded_words(struct buf *b, const char *value)
{
	const unsigned char *p = (const unsigned char *)value;
	size_t len = strlen(value), off = 0;
	char enc[64];

	while (off < len) {
		size_t k = len - off > 36 ? 36 : len - off;

		while (k > 1 && off + k < len && (p[off + k] & 0xc0) == 0x80)
			k--;
		if (b64_encode(p + off, k, 0, 1, enc, sizeof(enc)) < 0)
			return -1;
		/* the first word follows "Name: " (at most ~20 + 60 columns); each later one gets
		 * its own folded line */
		if (off > 0 && buf_puts(b, "\r\n ") < 0)
			return -1;
		if (buf_printf(b, "=?UTF-8?B?%s?=", enc) < 0)
			return -1;
		off += k;
	}
	return 0;
}

/* Append plain ASCII, folding at spaces so that lines stay within 78 characters where possible. */
static int put_folded_ascii(struct buf *b, const char *value, size_t col)
{
	const char *p = value;

	while (*p) {
		size_t w = strcspn(p, " ");

		if (w > 900)
			return -1;
		if (p != value) {
			if (col + 1 + w > 78) {
				if (buf_puts(b, "\r\n") < 0)
					return -1;
				col = 0;
			}
			if (buf_putc(b, ' ') < 0)
				return -1;
			col++;
		}
		if (buf_append(b, p, w) < 0)
			return -1;
		col += w;
		p += w;
		if (*p == ' ')
			p++;
	}
	return 0;
}

int mail_header_text(struct buf *b, const char *name, const char *value)
{
	size_t start = b->len, col;

	if (!name || !value || !header_safe(value) || strlen(value) > 2000 || !ascii_printable(name))
		return -1;
	if (buf_printf(b, "%s: ", name) < 0)
		goto fail;
	col = strlen(name) + 2;
	/* "=?" in plain text could be read as an encoded-word: encode such values too. */
	if (ascii_printable(value) && !strstr(value, "=?") && value[0] != ' ' &&
	    !strstr(value, "  ")) {
		if (put_folded_ascii(b, value, col) < 0)
			goto fail;
	} else if (put_encoded_words(b, value) < 0) {
		goto fail;
	}
	if (buf_puts(b, "\r\n") < 0)
		goto fail;
	return 0;
fail:
	b->len = start;
	if (b->data)
		b->data[start] = '\0';
	return -1;
}

int mail_header_address(struct buf *b, const char *name, const char *display, const char *addr)
{
	size_t start = b->len;

	if (!name || !ascii_printable(name) || !addr_ok(addr))
		return -1;
	if (display && (!header_safe(display) || strlen(display) > 400))
		return -1;
	if (buf_printf(b, "%s: ", name) < 0)
		goto fail;
	if (display && *display) {
		if (ascii_printable(display) && !strstr(display, "=?")) {
			if (buf_putc(b, '"') < 0)
				goto fail;
			for (const char *p = display; *p; p++) {
				if ((*p == '"' || *p == '\\') && buf_putc(b, '\\') < 0)
					goto fail;
				if (buf_putc(b, *p) < 0)
					goto fail;
			}
			if (buf_putc(b, '"') < 0)
				goto fail;
		} else if (put_encoded_words(b, display) < 0) {
			goto fail;
		}
		if (buf_printf(b, "\r\n <%s>\r\n", addr) < 0)
			goto fail;
	} else if (buf_printf(b, "%s\r\n", addr) < 0) {
		goto fail;
	}
	return 0;
fail:
	b->len = start;
	if (b->data)
		b->data[start] = '\0';
	return -1;
}

void mail_date_rfc5322(time_t t, char out[40])
{
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	if (!gmtime_r(&t, &tm)) {
		str_copy(out, "Thu, 01 Jan 1970 00:00:00 +0000", 40);
		return;
	}
	snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000", wd[tm.tm_wday], tm.tm_mday,
		 mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void mail_date_german(int year, int month, int day, char *out, size_t outlen)
{
	static const char *const wd[] = { "Montag", "Dienstag", "Mittwoch", "Donnerstag",
					  "Freitag", "Samstag", "Sonntag" };
	static const char *const mon[] = { "Januar", "Februar", "März", "April", "Mai", "Juni",
					   "Juli", "August", "September", "Oktober", "November",
					   "Dezember" };
	struct civil cv = { .year = year, .month = month, .day = day };
	int w;

	if (!civil_date_valid(year, month, day)) {
		str_copy(out, "", outlen);
		return;
	}
	w = civil_weekday(&cv);
	snprintf(out, outlen, "%s, %d. %s %d", wd[(w - 1) % 7], day, mon[month - 1], year);
}

/* ------------------------------------------------------------------ composing */

/* A copy of s for a header or a subject: controls become spaces. */
static void header_clean(const char *s, char *out, size_t outlen)
{
	size_t n = str_copy(out, s, outlen);

	if (n >= outlen)
		n = outlen - 1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = ' ';
}

/* LF or CRLF text into CRLF, appended to b. */
static int put_crlf(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\r')
			continue;
		if (*s == '\n') {
			if (buf_puts(b, "\r\n") < 0)
				return -1;
		} else if (buf_putc(b, *s) < 0) {
			return -1;
		}
	}
	return 0;
}

/* Body as base64 lines of 76 characters. */
static int put_base64(struct buf *b, const char *data, size_t n)
{
	char line[80];

	for (size_t off = 0; off < n; off += 57) {
		size_t k = n - off < 57 ? n - off : 57;

		if (b64_encode(data + off, k, 0, 1, line, sizeof(line)) < 0)
			return -1;
		if (buf_puts(b, line) < 0 || buf_puts(b, "\r\n") < 0)
			return -1;
	}
	return 0;
}

static void utc_compact(time_t t, char out[17])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) == 0)
		str_copy(out, "19700101T000000Z", 17);
}

static int video_link_ok(const char *s)
{
	return s && (strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0) &&
	       !strpbrk(s, " \t\r\n\"'<>\\`") && header_safe(s) && strlen(s) <= 2048;
}

static void set_str(json_t *o, const char *key, const char *v)
{
	if (v && *v)
		json_object_set_new(o, key, json_string(v));
}

/* The practice address as lines (split at newlines and commas) for the HTML part, and as one line
 * for the text part. */
static void address_parts(const char *addr, json_t *lines, struct buf *oneline)
{
	const char *p = addr;

	while (*p) {
		size_t n = strcspn(p, ",\n");
		const char *s = p, *e = p + n;

		while (s < e && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		if (e > s) {
			char *line = xstrndup(s, (size_t)(e - s));

			json_array_append_new(lines, json_string(line));
			if (oneline->len)
				buf_puts(oneline, ", ");
			buf_puts(oneline, line);
			free(line);
		}
		p += n;
		if (*p)
			p++;
	}
}

static int render(const char *dir, const char *name, json_t *ctx, struct buf *out, char *err,
		  size_t errlen)
{
	char terr[256];

	buf_init(out, MAIL_PART_MAX);
	if (tmpl_render_file(dir, name, ctx, out, terr, sizeof(terr)) != TF_OK) {
		err_set(err, errlen, "template %s: %s", name, terr);
		buf_free(out);
		return -1;
	}
	if (!out->data && buf_append(out, "", 0) < 0) {
		err_set(err, errlen, "template %s: out of memory", name);
		return -1;
	}
	return 0;
}

static void boundary(const char *prefix, char *out, size_t outlen)
{
	unsigned char rnd[12];
	size_t n;

	crypto_random(rnd, sizeof(rnd));
	n = (size_t)snprintf(out, outlen, "%s", prefix);
	for (size_t i = 0; i < sizeof(rnd) && n + 2 < outlen; i++, n += 2)
		snprintf(out + n, outlen - n, "%02x", rnd[i]);
}

/* mail_compose; video_later: a video appointment's confirmation that goes without the link says
 * that another mail brings it (MAIL_VIDEO_LINK). */
static char *compose(struct conf *c, const struct appointment *a, const struct doctor *d,
		     const char *cancel_token, enum mail_kind kind, int video_later, time_t now, char *err,
		     size_t errlen)
{
	static const char *const subject_word[MAIL_KIND_MAX] = {
		[MAIL_CONFIRMATION] = "Terminbestätigung",
		[MAIL_CANCELLATION] = "Terminabsage",
		[MAIL_RESCHEDULE] = "Terminänderung",
		[MAIL_REMINDER] = "Terminerinnerung",
		[MAIL_VIDEO_LINK] = "Link zur Videosprechstunde",
	};
	struct mail_settings s;
	struct civil ls, le;
	struct buf text = { 0 }, html = { 0 }, msg = { 0 }, url = { 0 }, details = { 0 },
		   addr1 = { 0 };
	char date_long[64], date_short[16], time_s[8], end_s[8], duration[32], tz_note[128] = "";
	char subject[512], service[BOOKING_SERVICE_MAX + 1], practice[DOCTOR_NAME_MAX + 1];
	char patient[BOOKING_NAME_MAX + 1], cancel_url[1200] = "", booking_url[1200] = "";
	char uid[400], dates[40], rfcdate[40], rnd[32], b1[40], b2[40], tmpl[64], tdir[4096];
	char from_display[256];
	const char *tz, *video, *domain;
	json_t *ctx = NULL, *lines = NULL;
	char *ics = NULL, *out = NULL;
	long minutes;
	struct ics_event ev;

	if ((unsigned)kind >= MAIL_KIND_MAX || kind == MAIL_REAUTH || !a || !d) {
		err_set(err, errlen, "bad arguments");
		return NULL;
	}
	if (settings_load(c, 0, &s, err, errlen) < 0)
		return NULL;
	if (!addr_ok(a->patient_email)) {
		err_set(err, errlen, "appointment %lld: the patient's e-mail address is not usable", a->id);
		return NULL;
	}
	tz = d->timezone[0] ? d->timezone : "Europe/Berlin";
	if (a->end <= a->start || tz_utc_to_local(tz, a->start, &ls) < 0 ||
	    tz_utc_to_local(tz, a->end, &le) < 0) {
		err_set(err, errlen, "appointment %lld: bad times or time zone %s", a->id, tz);
		return NULL;
	}

	mail_date_german(ls.year, ls.month, ls.day, date_long, sizeof(date_long));
	snprintf(date_short, sizeof(date_short), "%02d.%02d.%04d", ls.day, ls.month, ls.year);
	snprintf(time_s, sizeof(time_s), "%02d:%02d", ls.hour, ls.minute);
	snprintf(end_s, sizeof(end_s), "%02d:%02d", le.hour, le.minute);
	minutes = (long)((a->end - a->start) / 60);
	snprintf(duration, sizeof(duration), minutes == 1 ? "%ld Minute" : "%ld Minuten", minutes);
	if (strcmp(tz, "Europe/Berlin") != 0)
		snprintf(tz_note, sizeof(tz_note), "Uhrzeit in der Zeitzone %s", tz);

	header_clean(a->service_name, service, sizeof(service));
	header_clean(d->practice_name[0] ? d->practice_name : d->name, practice, sizeof(practice));
	header_clean(a->patient_name, patient, sizeof(patient));
	/* "Terminbestätigung: Sprechstunde am 24.11.2026 um 09:00" (a reschedule: "jetzt am") */
	snprintf(subject, sizeof(subject), "%s: %s %sam %s um %s", subject_word[kind], service,
		 kind == MAIL_RESCHEDULE ? "jetzt " : "", date_short, time_s);
	header_clean(s.from_name[0] ? s.from_name : practice, from_display, sizeof(from_display));

	if (cancel_token && *cancel_token && kind != MAIL_CANCELLATION &&
	    str_only_chars(cancel_token, BOOKING_TOKEN_MAX,
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
		snprintf(cancel_url, sizeof(cancel_url), "%s/termin/absage/%s", s.base_url, cancel_token);
	if (doctor_slug_valid(d->slug))
		snprintf(booking_url, sizeof(booking_url), "%s/termin/%s", s.base_url, d->slug);
	video = video_link_ok(a->video_link) ? a->video_link : NULL;

	buf_init(&addr1, 1024);
	lines = json_array();
	address_parts(d->practice_address, lines, &addr1);

	/* What the calendar entry says (Google link and .ics) */
	buf_init(&details, 8192);
	buf_printf(&details, "%s bei %s", service, practice);
	if (addr1.len)
		buf_printf(&details, "\n%s", addr1.data);
	if (video)
		buf_printf(&details, "\nVideosprechstunde: %s", video);
	if (cancel_url[0])
		buf_printf(&details, "\nTermin absagen: %s", cancel_url);
	if (!details.data) {
		err_set(err, errlen, "out of memory");
		goto out;
	}

	ctx = json_object();
	set_str(ctx, "subject", subject);
	set_str(ctx, "patient_name", patient);
	set_str(ctx, "service", service);
	set_str(ctx, "date_long", date_long);
	set_str(ctx, "date_short", date_short);
	set_str(ctx, "time", time_s);
	set_str(ctx, "end_time", end_s);
	set_str(ctx, "duration", duration);
	set_str(ctx, "tz_note", tz_note);
	set_str(ctx, "practice_name", practice);
	set_str(ctx, "practice_address", addr1.data);
	json_object_set_new(ctx, "address_lines", lines);
	set_str(ctx, "video_link", video);
	if ((a->is_video || a->create_meet) && !video && kind != MAIL_CANCELLATION) {
		json_object_set_new(ctx, "video_pending", json_true());
		if (video_later)
			json_object_set_new(ctx, "video_later", json_true());
	}
	set_str(ctx, "cancel_url", cancel_url);
	set_str(ctx, "booking_url", booking_url);
	if (strcmp(a->cancelled_by, "doctor") == 0)
		json_object_set_new(ctx, "cancelled_by_doctor", json_true());
	if (kind != MAIL_CANCELLATION) {
		char sd[17], ed[17];

		utc_compact(a->start, sd);
		utc_compact(a->end, ed);
		snprintf(dates, sizeof(dates), "%s/%s", sd, ed);
		buf_init(&url, 16384);
		buf_puts(&url, "https://calendar.google.com/calendar/render?action=TEMPLATE&text=");
		{
			char summary[400];

			snprintf(summary, sizeof(summary), "%s – %s", service, practice);
			esc_url(&url, summary);
		}
		buf_printf(&url, "&dates=%s&details=", dates);
		esc_url(&url, details.data);
		buf_puts(&url, "&location=");
		esc_url(&url, addr1.len ? addr1.data : (video ? video : ""));
		if (!url.data) {
			err_set(err, errlen, "out of memory");
			goto out;
		}
		set_str(ctx, "google_url", url.data);
	}

	/* The .ics */
	ics_uid_for_appointment(a->id, s.base_url, uid, sizeof(uid));
	{
		char summary[400];

		snprintf(summary, sizeof(summary), "%s – %s", service, practice);
		memset(&ev, 0, sizeof(ev));
		ev.uid = uid;
		ev.start = a->start;
		ev.end = a->end;
		ev.stamp = now;
		ev.sequence = a->reschedule_count + (kind == MAIL_CANCELLATION ? 1 : 0);
		ev.cancelled = kind == MAIL_CANCELLATION;
		ev.summary = summary;
		ev.description = details.data;
		ev.location = addr1.len ? addr1.data : video;
		ev.url = video;
		ev.organizer_email = s.from_addr;
		ev.organizer_name = practice;
		ev.attendee_email = a->patient_email;
		ev.attendee_name = patient;
		ics = ics_build(&ev, kind == MAIL_CANCELLATION ? "CANCEL" : "REQUEST");
	}
	if (!ics) {
		err_set(err, errlen, "appointment %lld: the calendar attachment could not be built", a->id);
		goto out;
	}

	paths_data_sub(c, "templates", tdir, sizeof(tdir));
	snprintf(tmpl, sizeof(tmpl), "mail-%s-text", mail_kind_name(kind));
	if (render(tdir, tmpl, ctx, &text, err, errlen) < 0)
		goto out;
	snprintf(tmpl, sizeof(tmpl), "mail-%s-html", mail_kind_name(kind));
	if (render(tdir, tmpl, ctx, &html, err, errlen) < 0)
		goto out;

	/* The message */
	mail_date_rfc5322(now, rfcdate);
	crypto_random_token(15, rnd, sizeof(rnd));
	domain = strchr(s.from_addr, '@') + 1;
	boundary("=_tf_mixed_", b1, sizeof(b1));
	boundary("=_tf_alt_", b2, sizeof(b2));
	buf_init(&msg, MAIL_MSG_MAX);
	if (mail_header_address(&msg, "From", from_display, s.from_addr) < 0 ||
	    mail_header_address(&msg, "To", patient, a->patient_email) < 0 ||
	    mail_header_text(&msg, "Subject", subject) < 0 ||
	    buf_printf(&msg, "Date: %s\r\n", rfcdate) < 0 ||
	    buf_printf(&msg, "Message-ID: <%s.%lld.%s@%s>\r\n", rnd, a->id, mail_kind_name(kind),
		       domain) < 0 ||
	    buf_puts(&msg, "MIME-Version: 1.0\r\n"
			   "Auto-Submitted: auto-generated\r\n"
			   "X-Auto-Response-Suppress: All\r\n") < 0 ||
	    buf_printf(&msg, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", b1) < 0 ||
	    buf_puts(&msg, "This is a multi-part message in MIME format.\r\n\r\n") < 0 ||
	    buf_printf(&msg, "--%s\r\nContent-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n",
		       b1, b2) < 0 ||
	    buf_printf(&msg, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
			     "Content-Transfer-Encoding: base64\r\n\r\n", b2) < 0)
		goto toobig;
	{
		struct buf crlf;

		buf_init(&crlf, MAIL_PART_MAX * 2);
		if (put_crlf(&crlf, text.data) < 0 || !crlf.data ||
		    put_base64(&msg, crlf.data, crlf.len) < 0) {
			buf_free(&crlf);
			goto toobig;
		}
		buf_reset(&crlf);
		if (buf_printf(&msg, "\r\n--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
				     "Content-Transfer-Encoding: base64\r\n\r\n", b2) < 0 ||
		    put_crlf(&crlf, html.data) < 0 || !crlf.data ||
		    put_base64(&msg, crlf.data, crlf.len) < 0) {
			buf_free(&crlf);
			goto toobig;
		}
		buf_free(&crlf);
	}
	if (buf_printf(&msg, "\r\n--%s--\r\n\r\n", b2) < 0 ||
	    buf_printf(&msg, "--%s\r\nContent-Type: text/calendar; charset=utf-8; method=%s;"
			     " name=\"termin.ics\"\r\n"
			     "Content-Disposition: attachment; filename=\"termin.ics\"\r\n"
			     "Content-Transfer-Encoding: base64\r\n\r\n",
		       b1, kind == MAIL_CANCELLATION ? "CANCEL" : "REQUEST") < 0 ||
	    put_base64(&msg, ics, strlen(ics)) < 0 ||
	    buf_printf(&msg, "\r\n--%s--\r\n", b1) < 0)
		goto toobig;
	out = buf_detach(&msg);
	goto out;
toobig:
	err_set(err, errlen, "appointment %lld: the message is too large or a header is not valid",
		a->id);
out:
	free(ics);
	json_decref(ctx);
	if (!ctx)
		json_decref(lines);
	buf_free(&text);
	buf_free(&html);
	buf_free(&msg);
	buf_free(&url);
	buf_free(&details);
	buf_free(&addr1);
	return out;
}

char *mail_compose(struct conf *c, const struct appointment *a, const struct doctor *d,
		   const char *cancel_token, enum mail_kind kind, time_t now, char *err, size_t errlen)
{
	return compose(c, a, d, cancel_token, kind, 0, now, err, errlen);
}

/* ------------------------------------------------------------------ building from the database */

/* The cancel token of an appointment, decrypted with CALENDAR_ENCRYPTION_KEY into out (or "" when
 * there is none or it cannot be decrypted: the mail then tells the patient to call). */
static int load_cancel_token(struct db *db, struct conf *c, long long id, char *out, size_t outlen)
{
	struct db_rows rows;
	const char *enc, *keys;
	struct fernet_keyring *kr;
	char kerr[200], *plain;
	size_t n = 0;
	int r;

	out[0] = '\0';
	r = db_query_one(db, STMT_MAIL_APPT_TOKEN, DB_ARGS(DBP_INT(id)), &rows);
	if (r <= 0)
		return r;
	enc = db_cell(&rows, 0, 0);
	keys = conf_get(c, "CALENDAR_ENCRYPTION_KEY");
	if (enc && *enc) {
		if (!keys || !*keys) {
			log_warn("mail: appointment %lld: CALENDAR_ENCRYPTION_KEY is not set; the mail"
				 " goes without the cancel link", id);
		} else if (!(kr = fernet_keyring_parse(keys, kerr, sizeof(kerr)))) {
			log_warn("mail: CALENDAR_ENCRYPTION_KEY: %s; the mail goes without the cancel"
				 " link", kerr);
		} else {
			plain = fernet_decrypt(kr, enc, &n);
			fernet_keyring_free(kr);
			if (!plain)
				log_warn("mail: appointment %lld: the cancel token does not decrypt with"
					 " CALENDAR_ENCRYPTION_KEY; the mail goes without the cancel"
					 " link", id);
			else if (n < outlen && n == strlen(plain))
				str_copy(out, plain, outlen);
			if (plain) {
				explicit_bzero(plain, n);
				free(plain);
			}
		}
	}
	db_rows_free(&rows);
	return 1;
}

static char *build_message(struct db *db, struct conf *c, long long id, enum mail_kind kind,
			   int video_later, time_t now, char *err, size_t errlen)
{
	struct appointment *a = xcalloc(1, sizeof(*a));
	struct doctor *d = xcalloc(1, sizeof(*d));
	char token[BOOKING_TOKEN_MAX + 1];
	char *msg = NULL;
	int r;

	token[0] = '\0';
	r = appointment_by_id(db, id, a);
	if (r <= 0) {
		err_set(err, errlen, r < 0 ? "database error loading appointment %lld"
					   : "appointment %lld not found", id);
		goto out;
	}
	r = doctor_by_id(db, a->doctor_id, d);
	if (r <= 0) {
		err_set(err, errlen, r < 0 ? "database error loading doctor %lld"
					   : "doctor %lld not found", a->doctor_id);
		goto out;
	}
	if (load_cancel_token(db, c, id, token, sizeof(token)) < 0) {
		err_set(err, errlen, "database error loading appointment %lld", id);
		goto out;
	}
	msg = compose(c, a, d, token, kind, video_later, now, err, errlen);
out:
	explicit_bzero(token, sizeof(token));
	free(a);
	free(d);
	return msg;
}

char *mail_build(struct db *db, struct conf *c, long long appointment_id, enum mail_kind kind,
		 time_t now)
{
	char err[512];
	char *msg = build_message(db, c, appointment_id, kind, 0, now, err, sizeof(err));

	if (!msg)
		log_error("mail: %s", err);
	return msg;
}

/* ------------------------------------------------------------------ SMTP */

struct msg_source {
	const char *data;
	size_t len;
};

/* libesmtp's message callback: len == NULL rewinds; otherwise the next chunk (*len 0 at the end).
 * *ctx is ours to allocate with malloc; libesmtp frees it. */
static const char *msg_cb(void **ctx, int *len, void *arg)
{
	const struct msg_source *src = arg;
	size_t *pos, n;

	if (!*ctx) {
		*ctx = malloc(sizeof(size_t));
		if (!*ctx) {
			if (len)
				*len = 0;
			return NULL;
		}
		*(size_t *)*ctx = 0;
	}
	pos = *ctx;
	if (!len) {
		*pos = 0;
		return NULL;
	}
	n = src->len - *pos;
	if (n > 16384)
		n = 16384;
	*len = (int)n;
	*pos += n;
	return src->data + *pos - n;
}

struct auth_creds {
	const char *user, *password;
};

static int auth_interact(auth_client_request_t req, char **result, int fields, void *arg)
{
	const struct auth_creds *cr = arg;

	for (int i = 0; i < fields; i++) {
		if (req[i].flags & AUTH_USER)
			result[i] = (char *)cr->user;
		else if (req[i].flags & AUTH_PASS)
			result[i] = (char *)cr->password;
		else
			return 0;   /* a realm or anything else: we have none */
	}
	return 1;
}

struct send_diag {
	char note[200];
	int auth_refused;
};

/* Protocol monitor: only the server's replies are looked at (what we write may carry the AUTH
 * exchange and is never read or logged). A 535/534/538 reply means AUTH was refused; libesmtp
 * then goes on without it and the server's later 530 would hide the real cause. */
static void monitor_cb(const char *buf, int buflen, int writing, void *arg)
{
	struct send_diag *dg = arg;
	char line[200];
	int n;

	if (writing != SMTP_CB_READING || buflen <= 0)
		return;
	if (buflen >= 3 && buf[0] == '5' && buf[1] == '3' &&
	    (buf[2] == '5' || buf[2] == '4' || buf[2] == '8'))
		dg->auth_refused = 1;
	n = buflen < (int)sizeof(line) - 1 ? buflen : (int)sizeof(line) - 1;
	for (int i = 0; i < n; i++)
		line[i] = (buf[i] < 0x20 || buf[i] > 0x7e) ? ' ' : buf[i];
	line[n] = '\0';
	log_debug("smtp < %s", line);
}

/* Events: we only note why a session was refused; every "ok?" answer stays no (the default). */
static void event_cb(smtp_session_t session, int event_no, void *arg, ...)
{
	struct send_diag *dg = arg;
	const char *what = NULL;

	switch (event_no) {
	case SMTP_EV_EXTNA_STARTTLS:
		what = "the server does not offer STARTTLS (SMTP_STARTTLS=required)";
		break;
	case SMTP_EV_INVALID_PEER_CERTIFICATE:
		what = "TLS: the server's certificate is not trusted";
		break;
	case SMTP_EV_NO_PEER_CERTIFICATE:
		what = "TLS: the server sent no certificate";
		break;
	case SMTP_EV_WRONG_PEER_CERTIFICATE:
		what = "TLS: the server's certificate does not name SMTP_HOST";
		break;
	case SMTP_EV_WEAK_CIPHER:
		what = "TLS: the negotiated cipher is too weak";
		break;
	case SMTP_EV_NO_CLIENT_CERTIFICATE:
	case SMTP_EV_UNUSABLE_CLIENT_CERTIFICATE:
	case SMTP_EV_UNUSABLE_CA_LIST:
		what = "TLS: unusable client certificate files (libesmtp's ~/.authenticate)";
		break;
	default:
		break;
	}
	if (what && !dg->note[0])
		str_copy(dg->note, what, sizeof(dg->note));
}

/* A server's text for our logs and last_error: printable ASCII only, at most 300 bytes. */
static void server_text(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	if (!in)
		in = "";
	for (; *in && n + 1 < outlen && n < 300; in++) {
		unsigned char ch = (unsigned char)*in;

		out[n++] = (ch < 0x20 || ch > 0x7e) ? ' ' : (char)ch;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

static int status_ok(const smtp_status_t *st)
{
	return st && st->code >= 200 && st->code <= 299;
}

/* Our own TLS context for STARTTLS: TLS 1.2 exactly, the system's CAs plus SMTP_CA_FILE. The peer
 * check stays libesmtp's: the verify result and the certificate's name against SMTP_HOST, refused
 * unless both are right.
 * Why not TLS 1.3: libesmtp 1.1 polls the socket before SSL_read and asks only SSL_pending(); with
 * TLS 1.3 the session tickets a server sends after the handshake let OpenSSL buffer the reply to
 * EHLO unseen by poll(), and the session stalls until the read timeout (in about one STARTTLS
 * session of ten against aiosmtpd; test_mail.py runs several). TLS 1.2 has no such tickets. */
static SSL_CTX *tls_context(const struct mail_settings *s, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		err_set(err, errlen, "TLS: cannot create a context");
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_default_verify_paths(ctx) ||
	    (s->ca_file && !SSL_CTX_load_verify_locations(ctx, s->ca_file, NULL))) {
		err_set(err, errlen, "TLS: cannot load the trusted certificates%s",
			s->ca_file ? " (SMTP_CA_FILE)" : "");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

enum tf_err mail_send(struct conf *c, const char *to, const char *message, char *err, size_t errlen)
{
	SSL_CTX *tls = NULL;
	struct mail_settings s;
	struct send_diag diag = { "", 0 };
	struct auth_creds creds;
	struct msg_source src;
	struct buf crlf;
	struct sigaction ign, old_pipe;
	smtp_session_t session = NULL;
	smtp_message_t m;
	smtp_recipient_t rcpt;
	auth_context_t actx = NULL;
	const smtp_status_t *st;
	char hostport[300], text[320], raw[512];
	enum tf_err rc = TF_ERR_IO;

	if (settings_load(c, 1, &s, err, errlen) < 0)
		return TF_ERR_CONFIG;
	if (!addr_ok(to)) {
		err_set(err, errlen, "recipient address is not valid");
		return TF_ERR_INVALID;
	}
	if (!message || !*message) {
		err_set(err, errlen, "empty message");
		return TF_ERR_INVALID;
	}
	/* SMTP wants CRLF; a message from elsewhere may have bare LFs. */
	buf_init(&crlf, MAIL_MSG_MAX + MAIL_MSG_MAX / 8);
	for (const char *p = message; *p; p++) {
		if (*p == '\n' && (p == message || p[-1] != '\r') && buf_putc(&crlf, '\r') < 0)
			break;
		if (buf_putc(&crlf, *p) < 0)
			break;
	}
	if (!crlf.data || crlf.len < strlen(message)) {
		buf_free(&crlf);
		err_set(err, errlen, "message too large");
		return TF_ERR_TOOBIG;
	}
	src.data = crlf.data;
	src.len = crlf.len;

	/* libesmtp writes with write(2): a server that hangs up must not kill us with SIGPIPE. */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, &old_pipe);

	snprintf(hostport, sizeof(hostport), "%s:%ld", s.host, s.port);
	session = smtp_create_session();
	if (!session) {
		err_set(err, errlen, "SMTP: cannot create a session (out of memory)");
		goto out;
	}
	if (s.tls != Starttls_DISABLED) {
		tls = tls_context(&s, err, errlen);
		if (!tls)
			goto out;
		smtp_starttls_set_ctx(session, tls);
	}
	if (!smtp_set_server(session, hostport) ||
	    !smtp_starttls_enable(session, s.tls) ||
	    !smtp_set_eventcb(session, event_cb, &diag) ||
	    !smtp_set_monitorcb(session, monitor_cb, &diag, 0)) {
		err_set(err, errlen, "SMTP: cannot configure the session");
		goto out;
	}
	smtp_set_timeout(session, Timeout_GREETING | Timeout_OVERRIDE_RFC2822_MINIMUM,
			 SMTP_TIMEOUT_SHORT);
	smtp_set_timeout(session, Timeout_ENVELOPE | Timeout_OVERRIDE_RFC2822_MINIMUM,
			 SMTP_TIMEOUT_SHORT);
	smtp_set_timeout(session, Timeout_DATA | Timeout_OVERRIDE_RFC2822_MINIMUM,
			 SMTP_TIMEOUT_SHORT);
	smtp_set_timeout(session, Timeout_TRANSFER | Timeout_OVERRIDE_RFC2822_MINIMUM,
			 SMTP_TIMEOUT_LONG);
	smtp_set_timeout(session, Timeout_DATA2 | Timeout_OVERRIDE_RFC2822_MINIMUM,
			 SMTP_TIMEOUT_LONG);
	if (s.user) {
		auth_client_init();
		actx = auth_create_context();
		if (!actx) {
			err_set(err, errlen, "SMTP: cannot create the AUTH context");
			goto out;
		}
		creds.user = s.user;
		creds.password = s.password;
		/* PLAIN and LOGIN send the password as is: allowed (servers that want them behind
		 * STARTTLS only offer them after it). */
		auth_set_mechanism_flags(actx, AUTH_PLUGIN_PLAIN, 0);
		auth_set_interact_cb(actx, auth_interact, &creds);
		smtp_auth_set_context(session, actx);
	}
	m = smtp_add_message(session);
	if (!m || !smtp_set_reverse_path(m, s.from_addr) ||
	    !smtp_set_messagecb(m, msg_cb, &src)) {
		err_set(err, errlen, "SMTP: cannot set up the message");
		goto out;
	}
	rcpt = smtp_add_recipient(m, to);
	if (!rcpt) {
		err_set(err, errlen, "SMTP: cannot add the recipient");
		goto out;
	}
	if (!smtp_start_session(session)) {
		char eb[160];
		const char *e = smtp_strerror(smtp_errno(), eb, sizeof(eb));

		server_text(e ? e : "unknown error", text, sizeof(text));
		err_set(err, errlen, "SMTP %s: %s%s%s", hostport, text, diag.note[0] ? "; " : "",
			diag.note);
		goto out;
	}
	st = smtp_message_transfer_status(m);
	if (!status_ok(st)) {
		const smtp_status_t *rs = smtp_reverse_path_status(m);
		const smtp_status_t *ps = smtp_recipient_status(rcpt);
		const smtp_status_t *why = NULL;

		if (rs && rs->code && !status_ok(rs))
			why = rs;
		else if (ps && ps->code && !status_ok(ps))
			why = ps;
		else if (st && st->code)
			why = st;
		if (diag.note[0]) {
			err_set(err, errlen, "SMTP %s: %s", hostport, diag.note);
		} else if (diag.auth_refused) {
			err_set(err, errlen, "SMTP %s: authentication failed (check SMTP_USER and"
				" SMTP_PASSWORD)", hostport);
		} else if (why) {
			server_text(why->text, raw, sizeof(raw));
			err_set(err, errlen, "SMTP %s refused the mail: %d %s", hostport, why->code, raw);
		} else {
			err_set(err, errlen, "SMTP %s: the session ended before the mail was accepted",
				hostport);
		}
		goto out;
	}
	rc = TF_OK;
out:
	if (session)
		smtp_destroy_session(session);
	if (tls)
		SSL_CTX_free(tls);
	if (actx) {
		auth_destroy_context(actx);
		auth_client_exit();
	}
	sigaction(SIGPIPE, &old_pipe, NULL);
	buf_free(&crlf);
	if (rc != TF_OK && err && errlen) {
		/* a server might echo what it got; never let a secret through */
		char safe[1024];

		log_redact(err, safe, sizeof(safe));
		str_copy(err, safe, errlen);
	}
	return rc;
}

/* ------------------------------------------------------------------ the queue */

enum tf_err mail_enqueue(struct db *db, long long appointment_id, enum mail_kind kind, int seq)
{
	if ((unsigned)kind >= MAIL_KIND_MAX || kind == MAIL_REAUTH || appointment_id <= 0 || seq < 0)
		return TF_ERR_INVALID;
	return db_exec(db, STMT_MAIL_ENQUEUE,
		       DB_ARGS(DBP_INT(appointment_id), DBP_TEXT(mail_kind_name(kind)), DBP_INT(seq)),
		       NULL, NULL);
}

long mail_queue_reminders(struct db *db, time_t now)
{
	unsigned long long n = 0;

	if (db_exec(db, STMT_MAIL_QUEUE_REMINDERS,
		    DB_ARGS(DBP_INT(now), DBP_INT(now + REMINDER_MIN_AHEAD),
			    DBP_INT(now + REMINDER_MAX_AHEAD)), &n, NULL) != TF_OK)
		return -1;
	if (n)
		log_info("mail: queued %llu reminder(s)", n);
	return (long)n;
}

static long backoff_seconds(long attempts)
{
	long d = 60;

	for (long i = 1; i < attempts && d < MAIL_BACKOFF_CAP; i++)
		d *= 2;
	return d > MAIL_BACKOFF_CAP ? MAIL_BACKOFF_CAP : d;
}

/* Finish a claimed row that was not sent: 'failed' for good (give_up) or 'pending' again. */
static int finish_unsent(struct db *db, long long id, int give_up, time_t next, const char *why)
{
	char safe[MAIL_ERR_MAX + 100];

	log_redact(why, safe, sizeof(safe));
	safe[MAIL_ERR_MAX] = '\0';
	return db_exec(db, STMT_MAIL_MARK_UNSENT,
		       DB_ARGS(DBP_TEXT(give_up ? "failed" : "pending"), DBP_INT(next), DBP_TEXT(safe),
			       DBP_INT(id)), NULL, NULL) == TF_OK ? 0 : -1;
}

/* A claimed row that could not be built or sent: back off, or give up after MAIL_MAX_ATTEMPTS. */
static int retry_later(struct db *db, long long id, enum mail_kind kind, long long target, const char *err,
		       time_t now, struct mail_flush_result *r)
{
	struct db_rows st;
	long long attempts;

	r->failed++;
	if (db_query_one(db, STMT_MAIL_ATTEMPTS, DB_ARGS(DBP_INT(id)), &st) < 0)
		return -1;
	attempts = db_cell_int(&st, 0, 0, MAIL_MAX_ATTEMPTS);
	db_rows_free(&st);
	if (attempts >= MAIL_MAX_ATTEMPTS) {
		log_error("mail %lld (%s, %lld): giving up after %lld attempts: %s", id, mail_kind_name(kind),
			  target, attempts, err);
		return finish_unsent(db, id, 1, now, err);
	}
	log_warn("mail %lld (%s, %lld): attempt %lld failed, retry in %ld s: %s", id, mail_kind_name(kind),
		 target, attempts, backoff_seconds((long)attempts), err);
	return finish_unsent(db, id, 0, now + backoff_seconds((long)attempts), err);
}

/* Does the confirmation of appointment id wait for its video link? 1: wait until *until (a
 * connection that makes links still has to push it, within TF_VIDEO_LINK_WAIT_MINUTES of the
 * booking); 0: send now (*later = 1 when the link will come in another mail); -1 database error. */
static int video_wait(struct db *db, struct conf *c, long long id, time_t now, int *later, time_t *until)
{
	struct db_rows rows;
	long long awaited, created;
	long wait;
	int q;

	*later = 0;
	*until = now;
	q = db_query_one(db, STMT_MAIL_VIDEO_AWAITED, DB_ARGS(DBP_INT(id)), &rows);
	if (q < 0)
		return -1;
	if (q == 0)
		return 0;
	awaited = db_cell_int(&rows, 0, 0, 0);
	created = db_cell_int(&rows, 0, 1, 0);
	db_rows_free(&rows);
	if (awaited <= 0)
		return 0;
	if (conf_get_long(c, "TF_VIDEO_LINK_WAIT_MINUTES", VIDEO_WAIT_DEFAULT, 0, 1440, &wait, NULL, 0) < 0) {
		log_warn("mail: TF_VIDEO_LINK_WAIT_MINUTES is malformed, using %d", VIDEO_WAIT_DEFAULT);
		wait = VIDEO_WAIT_DEFAULT;
	}
	*later = 1;
	if ((long long)now >= created + wait * 60)
		return 0;
	*until = (time_t)(created + wait * 60);
	return 1;
}

/* The doctor's mail about a connection that needs a new consent (text/plain, German). */
static char *reauth_message(struct conf *c, const char *to, const char *doctor_name, const char *provider,
			    const char *account, int keep, time_t now, char *err, size_t errlen)
{
	struct mail_settings s;
	struct buf text = { 0 }, msg = { 0 }, crlf = { 0 };
	char url[1200], rfcdate[40], rnd[32], tdir[4096], name[DOCTOR_NAME_MAX + 1], acct[300];
	const char *title = integration_provider_title(integration_provider_parse(provider));
	json_t *ctx;
	char *out = NULL;

	if (settings_load(c, 0, &s, err, errlen) < 0)
		return NULL;
	header_clean(doctor_name, name, sizeof(name));
	header_clean(account, acct, sizeof(acct));
	snprintf(url, sizeof(url), "%s/doctor/calendar-integrations", s.base_url);
	ctx = json_object();
	set_str(ctx, "doctor_name", name);
	set_str(ctx, "provider_title", title);
	set_str(ctx, "account_email", acct);
	set_str(ctx, "integrations_url", url);
	if (keep)
		json_object_set_new(ctx, "policy_keep", json_true());
	paths_data_sub(c, "templates", tdir, sizeof(tdir));
	if (render(tdir, "mail-reauth-text", ctx, &text, err, errlen) < 0)
		goto out;
	mail_date_rfc5322(now, rfcdate);
	crypto_random_token(15, rnd, sizeof(rnd));
	buf_init(&msg, MAIL_MSG_MAX);
	buf_init(&crlf, MAIL_PART_MAX * 2);
	if (mail_header_address(&msg, "From", s.from_name[0] ? s.from_name : "TerminFinder", s.from_addr) < 0 ||
	    mail_header_address(&msg, "To", name, to) < 0 ||
	    mail_header_text(&msg, "Subject", "Kalenderverbindung unterbrochen – bitte erneut verbinden") < 0 ||
	    buf_printf(&msg, "Date: %s\r\n", rfcdate) < 0 ||
	    buf_printf(&msg, "Message-ID: <%s.reauth@%s>\r\n", rnd, strchr(s.from_addr, '@') + 1) < 0 ||
	    buf_puts(&msg, "MIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n"
			   "X-Auto-Response-Suppress: All\r\n"
			   "Content-Type: text/plain; charset=utf-8\r\n"
			   "Content-Transfer-Encoding: base64\r\n\r\n") < 0 ||
	    put_crlf(&crlf, text.data) < 0 || !crlf.data || put_base64(&msg, crlf.data, crlf.len) < 0) {
		err_set(err, errlen, "the doctor's mail is too large or a header is not valid");
		goto out;
	}
	out = buf_detach(&msg);
out:
	json_decref(ctx);
	buf_free(&text);
	buf_free(&msg);
	buf_free(&crlf);
	return out;
}

/* Send one claimed 'reauth' row (seq = the connection's outage number). 0, or -1 (database). */
static int process_reauth(struct db *db, struct conf *c, long long id, long long seq, time_t now,
			  struct mail_flush_result *r)
{
	struct db_rows st;
	char err[1024], to[DOCTOR_EMAIL_MAX + 1], name[DOCTOR_NAME_MAX + 1], provider[16], account[255];
	const char *skip = NULL;
	char *msg;
	int found, keep;

	found = db_query_one(db, STMT_MAIL_REAUTH_STATE, DB_ARGS(DBP_INT(id)), &st);
	if (found < 0)
		return -1;
	if (found == 0) {
		r->skipped++;
		return finish_unsent(db, id, 1, now, "not sent: the connection no longer exists");
	}
	if (!db_cell(&st, 0, 0) || strcmp(db_cell(&st, 0, 0), "reauth_required") != 0 ||
	    db_cell_int(&st, 0, 1, -1) != seq)
		skip = "not sent: the connection was renewed meanwhile";
	str_copy(provider, db_cell(&st, 0, 2) ? db_cell(&st, 0, 2) : "", sizeof(provider));
	str_copy(account, db_cell(&st, 0, 3) ? db_cell(&st, 0, 3) : "", sizeof(account));
	str_copy(to, db_cell(&st, 0, 4) ? db_cell(&st, 0, 4) : "", sizeof(to));
	str_copy(name, db_cell(&st, 0, 5) ? db_cell(&st, 0, 5) : "", sizeof(name));
	keep = !db_cell(&st, 0, 6) || strcmp(db_cell(&st, 0, 6), "free") != 0;
	db_rows_free(&st);
	if (skip) {
		r->skipped++;
		log_info("mail %lld (reauth): %s", id, skip);
		return finish_unsent(db, id, 1, now, skip);
	}
	msg = reauth_message(c, to, name, provider, account, keep, now, err, sizeof(err));
	if (msg) {
		enum tf_err rc = mail_send(c, to, msg, err, sizeof(err));

		free(msg);
		if (rc == TF_OK) {
			if (db_exec(db, STMT_MAIL_MARK_SENT, DB_ARGS(DBP_INT(now), DBP_INT(id)), NULL, NULL) != TF_OK)
				return -1;
			r->sent++;
			log_info("mail %lld (reauth) sent to the doctor", id);
			return 0;
		}
	}
	return retry_later(db, id, MAIL_REAUTH, 0, err, now, r);
}

/* Send one claimed row. Returns 0, or -1 when the database failed (the row then stays 'sending'
 * and is claimed again after MAIL_STALE_SECONDS). */
static int process_claimed(struct db *db, struct conf *c, long long id, long long appt_id,
			   enum mail_kind kind, long long seq, time_t now, struct mail_flush_result *r)
{
	struct db_rows st;
	char err[1024], email[BOOKING_EMAIL_MAX + 1];
	const char *skip = NULL, *status;
	long long start, resched, reminded;
	time_t until;
	int found, later = 0;
	char *msg;

	if (kind == MAIL_REAUTH)
		return process_reauth(db, c, id, seq, now, r);
	found = db_query_one(db, STMT_MAIL_APPT_STATE, DB_ARGS(DBP_INT(appt_id)), &st);
	if (found < 0)
		return -1;
	if (found == 0) {
		r->skipped++;
		return finish_unsent(db, id, 1, now, "not sent: the appointment no longer exists");
	}
	status = db_cell(&st, 0, 0);
	start = db_cell_int(&st, 0, 1, 0);
	resched = db_cell_int(&st, 0, 2, 0);
	reminded = db_cell_int(&st, 0, 3, 0);
	str_copy(email, db_cell(&st, 0, 4) ? db_cell(&st, 0, 4) : "", sizeof(email));
	if (kind != MAIL_CANCELLATION && (!status || strcmp(status, "confirmed") != 0))
		skip = "not sent: the appointment was cancelled";
	else if (kind == MAIL_REMINDER && reminded)
		skip = "not sent: a reminder for this appointment was already sent";
	else if ((kind == MAIL_REMINDER || kind == MAIL_RESCHEDULE) && seq != resched)
		skip = "not sent: the appointment was moved again after this mail was queued";
	else if (kind != MAIL_CANCELLATION && start <= (long long)now)
		skip = "not sent: the appointment has already begun";
	db_rows_free(&st);
	if (!skip && kind == MAIL_VIDEO_LINK) {
		struct appointment *a = xcalloc(1, sizeof(*a));

		found = appointment_by_id(db, appt_id, a);
		if (found > 0 && !video_link_ok(a->video_link))
			skip = "not sent: the appointment has no video link";
		free(a);
		if (found < 0)
			return -1;
	}
	if (skip) {
		r->skipped++;
		log_info("mail %lld (%s, appointment %lld): %s", id, mail_kind_name(kind), appt_id, skip);
		return finish_unsent(db, id, 1, now, skip);
	}
	if (kind == MAIL_CONFIRMATION) {
		found = video_wait(db, c, appt_id, now, &later, &until);
		if (found < 0)
			return -1;
		if (found > 0) {
			/* the video link is on its way: check again in a minute (not an attempt) */
			log_info("mail %lld (confirmation, appointment %lld): waiting for the video link", id,
				 appt_id);
			return db_exec(db, STMT_MAIL_DEFER,
				       DB_ARGS(DBP_INT(until < now + VIDEO_RECHECK ? until : now + VIDEO_RECHECK),
					       DBP_TEXT("waiting for the video link"), DBP_INT(id)),
				       NULL, NULL) == TF_OK ? 0 : -1;
		}
	}

	msg = build_message(db, c, appt_id, kind, later, now, err, sizeof(err));
	if (msg) {
		enum tf_err rc = mail_send(c, email, msg, err, sizeof(err));

		free(msg);
		if (rc == TF_OK) {
			if (db_exec(db, STMT_MAIL_MARK_SENT, DB_ARGS(DBP_INT(now), DBP_INT(id)), NULL,
				    NULL) != TF_OK)
				return -1;
			if (kind == MAIL_REMINDER &&
			    db_exec(db, STMT_MAIL_REMINDER_DONE, DB_ARGS(DBP_INT(now), DBP_INT(appt_id)),
				    NULL, NULL) != TF_OK)
				return -1;
			/* sent without the link: if it arrived meanwhile, the follow-up goes now */
			if (later && db_exec(db, STMT_SYNC_VIDEO_FOLLOWUP, DB_ARGS(DBP_INT(appt_id)), NULL, NULL) !=
			    TF_OK)
				return -1;
			r->sent++;
			log_info("mail %lld (%s, appointment %lld) sent%s", id, mail_kind_name(kind),
				 appt_id, later ? " without the video link (it follows)" : "");
			return 0;
		}
	}
	return retry_later(db, id, kind, appt_id, err, now, r);
}

long mail_flush_ex(struct db *db, struct conf *c, long long appointment_id, long limit, time_t now,
		   struct mail_flush_result *res)
{
	struct mail_flush_result r = { 0, 0, 0 };
	char err[512];
	long done = 0, ret = 0;

	if (mail_config_check(c, err, sizeof(err)) < 0) {
		log_error("mail: not sending (the mails stay queued): %s", err);
		goto out;
	}
	for (;;) {
		struct db_rows rows;
		long batch = MAIL_BATCH, claimed = 0;
		size_t i, nrows;
		enum tf_err rc;

		if (limit > 0 && limit - done < batch)
			batch = limit - done;
		if (batch <= 0)
			break;
		if (appointment_id > 0)
			rc = db_query(db, STMT_MAIL_DUE_APPT,
				      DB_ARGS(DBP_INT(appointment_id), DBP_INT(now),
					      DBP_INT(now - MAIL_STALE_SECONDS), DBP_INT(batch)), &rows);
		else
			rc = db_query(db, STMT_MAIL_DUE,
				      DB_ARGS(DBP_INT(now), DBP_INT(now - MAIL_STALE_SECONDS),
					      DBP_INT(batch)), &rows);
		if (rc != TF_OK) {
			ret = -1;
			goto out;
		}
		nrows = rows.nrows;
		for (i = 0; i < nrows; i++) {
			long long id = db_cell_int(&rows, i, 0, 0);
			long long appt = db_cell_int(&rows, i, 1, 0);
			long long seq = db_cell_int(&rows, i, 3, 0);
			unsigned long long affected = 0;
			enum mail_kind kind;

			if (kind_parse(db_cell(&rows, i, 2), &kind) < 0)
				continue;
			if (db_exec(db, STMT_MAIL_CLAIM,
				    DB_ARGS(DBP_INT(now), DBP_INT(id), DBP_INT(now),
					    DBP_INT(now - MAIL_STALE_SECONDS)), &affected, NULL) != TF_OK) {
				db_rows_free(&rows);
				ret = -1;
				goto out;
			}
			if (affected != 1)
				continue;   /* another sender has it */
			claimed++;
			done++;
			if (process_claimed(db, c, id, appt, kind, seq, now, &r) < 0) {
				db_rows_free(&rows);
				ret = -1;
				goto out;
			}
		}
		db_rows_free(&rows);
		if ((long)nrows < batch || claimed == 0)
			break;
	}
out:
	if (res)
		*res = r;
	return ret < 0 ? -1 : r.sent;
}

long mail_flush(struct db *db, struct conf *c, long long appointment_id, int limit, time_t now)
{
	return mail_flush_ex(db, c, appointment_id, limit, now, NULL);
}
