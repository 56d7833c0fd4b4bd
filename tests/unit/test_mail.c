/* test_mail.c: mail units without a database: headers (RFC 2047, folding, injection), dates, settings, the composed MIME message, SMTP errors. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "booking.h"
#include "conf.h"
#include "crypto.h"
#include "doctor.h"
#include "log.h"
#include "mail.h"

/* 2026-11-24 08:00 UTC = Tuesday 09:00 in Berlin */
#define T_WINTER 1795507200LL
/* 2026-07-14 07:00 UTC = Tuesday 09:00 in Berlin (summer time) */
#define T_SUMMER 1784012400LL

/* Decode every encoded-word of a header value (unfolded) into out; plain text is copied. */
static void decode_words(const char *v, char *out, size_t outlen)
{
	size_t n = 0;

	while (*v && n + 1 < outlen) {
		if (strncmp(v, "=?UTF-8?B?", 10) == 0) {
			const char *e = strstr(v + 10, "?=");
			long k;

			assert_non_null(e);
			k = b64_decode(v + 10, (size_t)(e - v - 10), 0, out + n, outlen - n - 1);
			assert_true(k >= 0);
			n += (size_t)k;
			v = e + 2;
			/* whitespace between two encoded-words is not part of the text */
			while (*v == '\r' || *v == '\n' || *v == ' ')
				v++;
			continue;
		}
		if (*v == '\r' || *v == '\n') {
			v++;
			continue;
		}
		out[n++] = *v++;
	}
	out[n] = '\0';
}

static void assert_lines_max(const char *s, size_t max)
{
	for (const char *line = s; *line;) {
		const char *eol = strstr(line, "\r\n");

		assert_non_null(eol);
		assert_true((size_t)(eol - line) <= max);
		line = eol + 2;
	}
}

static void subject_ascii_and_encoded(void **state)
{
	struct buf b;
	char dec[512];

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(mail_header_text(&b, "Subject", "Hello world"), 0);
	assert_string_equal(b.data, "Subject: Hello world\r\n");
	buf_reset(&b);

	assert_int_equal(mail_header_text(&b, "Subject",
					  "Terminbestätigung: Sprechstunde am 24.11.2026 um 09:00"), 0);
	assert_non_null(strstr(b.data, "=?UTF-8?B?"));
	assert_null(strstr(b.data, "ä"));   /* 7-bit only */
	assert_lines_max(b.data, 78);
	decode_words(b.data + strlen("Subject: "), dec, sizeof(dec));
	assert_string_equal(dec, "Terminbestätigung: Sprechstunde am 24.11.2026 um 09:00");
	buf_reset(&b);

	/* long: several words, each line <= 78, no UTF-8 sequence split */
	assert_int_equal(mail_header_text(&b, "Subject",
					  "Ääääääääää Öööööööööö Üüüüüüüüüü ßßßßßßßßßß €€€€€€€€€€ "
					  "Ääääääääää Öööööööööö Üüüüüüüüüü"), 0);
	assert_lines_max(b.data, 78);
	assert_non_null(strstr(b.data, "\r\n =?UTF-8?B?"));
	decode_words(b.data + strlen("Subject: "), dec, sizeof(dec));
	assert_string_equal(dec, "Ääääääääää Öööööööööö Üüüüüüüüüü ßßßßßßßßßß €€€€€€€€€€ "
				 "Ääääääääää Öööööööööö Üüüüüüüüüü");
	buf_reset(&b);

	/* text that looks like an encoded-word is encoded itself */
	assert_int_equal(mail_header_text(&b, "Subject", "=?UTF-8?B?QQ==?="), 0);
	decode_words(b.data + strlen("Subject: "), dec, sizeof(dec));
	assert_string_equal(dec, "=?UTF-8?B?QQ==?=");
	buf_reset(&b);

	/* long ASCII is folded at spaces */
	assert_int_equal(mail_header_text(&b, "Subject",
					  "one two three four five six seven eight nine ten eleven "
					  "twelve thirteen fourteen fifteen sixteen"), 0);
	assert_lines_max(b.data, 78);
	assert_non_null(strstr(b.data, "\r\n "));
	buf_free(&b);
}

static void headers_refuse_injection(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(mail_header_text(&b, "Subject", "Hallo\r\nBcc: victim@example.org"), -1);
	assert_int_equal(mail_header_text(&b, "Subject", "Hallo\nBcc: x"), -1);
	assert_int_equal(mail_header_address(&b, "To", "Erika\r\nBcc: x@example.org",
					     "erika@example.org"), -1);
	assert_int_equal(mail_header_address(&b, "To", "Erika", "erika@example.org\r\nBcc: x@y.de"), -1);
	assert_int_equal(mail_header_address(&b, "To", "Erika", "erika@example.org>, <x@y.de"), -1);
	assert_int_equal(mail_header_address(&b, "To", NULL, "no-at-sign"), -1);
	assert_int_equal((int)b.len, 0);
	buf_free(&b);
}

static void address_headers(void **state)
{
	struct buf b;
	char dec[512];

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(mail_header_address(&b, "To", NULL, "erika@example.org"), 0);
	assert_string_equal(b.data, "To: erika@example.org\r\n");
	buf_reset(&b);
	assert_int_equal(mail_header_address(&b, "To", "Erika \"E.\" Muster\\mann",
					     "erika@example.org"), 0);
	assert_string_equal(b.data, "To: \"Erika \\\"E.\\\" Muster\\\\mann\"\r\n <erika@example.org>\r\n");
	buf_reset(&b);
	assert_int_equal(mail_header_address(&b, "To", "Jürgen Müller", "j@example.org"), 0);
	assert_non_null(strstr(b.data, "=?UTF-8?B?"));
	assert_non_null(strstr(b.data, "<j@example.org>\r\n"));
	*strstr(b.data, "<j@") = '\0';
	decode_words(b.data + 4, dec, sizeof(dec));
	assert_string_equal(dec, "Jürgen Müller");
	buf_free(&b);
}

static void dates(void **state)
{
	char out[64];

	(void)state;
	mail_date_rfc5322((time_t)T_WINTER, out);
	assert_string_equal(out, "Tue, 24 Nov 2026 08:00:00 +0000");
	mail_date_rfc5322((time_t)0, out);
	assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 +0000");
	mail_date_german(2026, 11, 24, out, sizeof(out));
	assert_string_equal(out, "Dienstag, 24. November 2026");
	mail_date_german(2026, 3, 29, out, sizeof(out));
	assert_string_equal(out, "Sonntag, 29. März 2026");
	mail_date_german(2027, 1, 1, out, sizeof(out));
	assert_string_equal(out, "Freitag, 1. Januar 2027");
	mail_date_german(2026, 2, 30, out, sizeof(out));
	assert_string_equal(out, "");
	assert_string_equal(mail_kind_name(MAIL_CONFIRMATION), "confirmation");
	assert_string_equal(mail_kind_name(MAIL_CANCELLATION), "cancellation");
	assert_string_equal(mail_kind_name(MAIL_RESCHEDULE), "reschedule");
	assert_string_equal(mail_kind_name(MAIL_REMINDER), "reminder");
	assert_string_equal(mail_kind_name(MAIL_KIND_MAX), "unknown");
}

static struct conf *good_conf(void)
{
	struct conf *c = conf_new();

	conf_set(c, "MAIL_FROM", "Praxis Dr. Müller <termine@praxis.example>");
	conf_set(c, "BASE_URL", "https://praxis.example/");
	conf_set(c, "SMTP_HOST", "127.0.0.1");
	conf_set(c, "SMTP_PORT", "25");
	conf_set(c, "SMTP_STARTTLS", "no");
	if (getenv("TF_SRCDIR"))
		conf_set(c, "TF_DATA_DIR", getenv("TF_SRCDIR"));
	else
		conf_set(c, "TF_DATA_DIR", TF_TEST_SRCDIR);
	return c;
}

static void settings_checked(void **state)
{
	struct conf *c;
	char err[256];

	(void)state;
	/* the environment must not leak into these checks */
	unsetenv("MAIL_FROM");
	unsetenv("BASE_URL");
	unsetenv("SMTP_HOST");
	unsetenv("SMTP_PORT");
	unsetenv("SMTP_STARTTLS");
	unsetenv("SMTP_USER");
	unsetenv("SMTP_PASSWORD");
	c = good_conf();
	assert_int_equal(mail_config_check(c, err, sizeof(err)), 0);

	conf_set(c, "SMTP_STARTTLS", "maybe");
	assert_int_equal(mail_config_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "SMTP_STARTTLS"));
	conf_set(c, "SMTP_STARTTLS", "required");
	conf_set(c, "SMTP_PORT", "");
	assert_int_equal(mail_config_check(c, err, sizeof(err)), 0);
	conf_set(c, "SMTP_PORT", "70000");
	assert_int_equal(mail_config_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "SMTP_PORT"));
	conf_set(c, "SMTP_PORT", "2525");

	conf_set(c, "SMTP_USER", "user");
	assert_int_equal(mail_config_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "SMTP_PASSWORD"));
	conf_set(c, "SMTP_PASSWORD", "geheim-123456");
	assert_int_equal(mail_config_check(c, err, sizeof(err)), 0);

	conf_set(c, "SMTP_HOST", "");
	assert_int_equal(mail_config_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "SMTP_HOST"));
	conf_set(c, "SMTP_HOST", "mail.example.org;rm");
	assert_int_equal(mail_config_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "SMTP_HOST"));
	conf_set(c, "SMTP_HOST", "localhost");

	conf_set(c, "MAIL_FROM", "");
	assert_int_equal(mail_config_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "MAIL_FROM"));
	conf_set(c, "MAIL_FROM", "Praxis <termine@praxis.example>\r\nBcc: x@y.de");
	assert_int_equal(mail_config_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "MAIL_FROM"));
	conf_set(c, "MAIL_FROM", "Praxis <not an address>");
	assert_int_equal(mail_config_check(c, err, sizeof(err)), -1);
	conf_set(c, "MAIL_FROM", "termine@praxis.example");
	assert_int_equal(mail_config_check(c, err, sizeof(err)), 0);

	conf_set(c, "BASE_URL", "");
	assert_int_equal(mail_config_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "BASE_URL"));
	conf_set(c, "BASE_URL", "javascript:alert(1)");
	assert_int_equal(mail_config_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "BASE_URL"));
	conf_free(c);
}

static void sample(struct appointment *a, struct doctor *d)
{
	memset(a, 0, sizeof(*a));
	memset(d, 0, sizeof(*d));
	a->id = 42;
	a->doctor_id = 7;
	str_copy(a->service_name, "Sprechstunde", sizeof(a->service_name));
	a->start = (time_t)T_WINTER;
	a->end = (time_t)T_WINTER + 1800;
	str_copy(a->patient_name, "Erika <b>Müller</b>", sizeof(a->patient_name));
	str_copy(a->patient_email, "erika@example.org", sizeof(a->patient_email));
	str_copy(a->status, "confirmed", sizeof(a->status));
	d->id = 7;
	str_copy(d->name, "Dr. Anna Schäfer", sizeof(d->name));
	str_copy(d->slug, "dr-anna-schaefer", sizeof(d->slug));
	str_copy(d->timezone, "Europe/Berlin", sizeof(d->timezone));
	str_copy(d->practice_name, "Praxis Dr. Schäfer", sizeof(d->practice_name));
	str_copy(d->practice_address, "Hauptstraße 1, 10115 Berlin", sizeof(d->practice_address));
	str_copy(d->bundesland, "BE", sizeof(d->bundesland));
}

/* The decoded body of the first part whose header block contains ctype. */
static char *part_body(const char *msg, const char *ctype)
{
	const char *h = strstr(msg, ctype), *b, *e;
	struct buf clean;
	char *out;
	long n;

	assert_non_null(h);
	b = strstr(h, "\r\n\r\n");
	assert_non_null(b);
	b += 4;
	e = strstr(b, "\r\n--");
	assert_non_null(e);
	buf_init(&clean, 1024 * 1024);
	for (const char *p = b; p < e; p++)
		if (*p != '\r' && *p != '\n')
			assert_int_equal(buf_putc(&clean, *p), 0);
	out = calloc(1, clean.len + 1);
	n = b64_decode(clean.data, clean.len, 0, out, clean.len + 1);
	assert_true(n >= 0);
	out[n] = '\0';
	buf_free(&clean);
	return out;
}

static void composed_confirmation(void **state)
{
	struct conf *c = good_conf();
	struct appointment a;
	struct doctor d;
	char err[256], *msg, *text, *html, *ics, *hdr_end;
	const char *token = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";

	(void)state;
	sample(&a, &d);
	msg = mail_compose(c, &a, &d, token, MAIL_CONFIRMATION, (time_t)T_WINTER - 86400, err,
			   sizeof(err));
	assert_non_null(msg);
	/* headers, 7-bit, CRLF */
	hdr_end = strstr(msg, "\r\n\r\n");
	assert_non_null(hdr_end);
	for (const char *p = msg; *p; p++) {
		assert_true((unsigned char)*p < 0x80);
		if (*p == '\n')
			assert_true(p > msg && p[-1] == '\r');
	}
	assert_lines_max(msg, 998);
	assert_non_null(strstr(msg, "\r\n <termine@praxis.example>\r\n"));
	assert_non_null(strstr(msg, "\r\n <erika@example.org>\r\n"));
	assert_non_null(strstr(msg, "Date: Mon, 23 Nov 2026 08:00:00 +0000\r\n"));
	assert_non_null(strstr(msg, "Message-ID: <"));
	assert_non_null(strstr(msg, "@praxis.example>\r\n"));
	assert_non_null(strstr(msg, "MIME-Version: 1.0\r\n"));
	assert_non_null(strstr(msg, "Auto-Submitted: auto-generated\r\n"));
	assert_non_null(strstr(msg, "Content-Type: multipart/mixed; boundary=\""));
	assert_non_null(strstr(msg, "Content-Type: multipart/alternative; boundary=\""));
	assert_non_null(strstr(msg, "Content-Type: text/calendar; charset=utf-8; method=REQUEST;"
				    " name=\"termin.ics\"\r\n"));
	assert_non_null(strstr(msg, "Content-Disposition: attachment; filename=\"termin.ics\"\r\n"));
	/* the order: alternative (plain, html) inside mixed, then the calendar */
	assert_true(strstr(msg, "text/plain") < strstr(msg, "text/html"));
	assert_true(strstr(msg, "text/html") < strstr(msg, "text/calendar"));
	{
		char subj[512];
		const char *s = strstr(msg, "Subject: "), *e;

		assert_non_null(s);
		s += 9;
		e = strstr(s, "\r\n");
		while (e[2] == ' ')
			e = strstr(e + 2, "\r\n");
		*((char *)e) = '\0';
		decode_words(s, subj, sizeof(subj));
		*((char *)e) = '\r';
		assert_string_equal(subj, "Terminbestätigung: Sprechstunde am 24.11.2026 um 09:00");
	}

	text = part_body(msg, "Content-Type: text/plain");
	assert_non_null(strstr(text, "Guten Tag Erika <b>Müller</b>,"));
	assert_non_null(strstr(text, "Dienstag, 24. November 2026"));
	assert_non_null(strstr(text, "09:00 – 09:30 Uhr (30 Minuten)"));
	assert_non_null(strstr(text, "Praxis Dr. Schäfer"));
	assert_non_null(strstr(text, "Hauptstraße 1, 10115 Berlin"));
	assert_non_null(strstr(text, "https://praxis.example/termin/absage/"
				     "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde\r\n"));
	assert_non_null(strstr(text, "Zu Google Kalender hinzufügen:\r\n"
				     "https://calendar.google.com/calendar/render?action=TEMPLATE&text="));
	assert_non_null(strstr(text, "&dates=20261124T080000Z/20261124T083000Z&details="));
	assert_non_null(strstr(text, "&location=Hauptstra%C3%9Fe%201%2C%2010115%20Berlin"));
	assert_null(strstr(text, "Video"));

	html = part_body(msg, "Content-Type: text/html");
	assert_non_null(strstr(html, "<html lang=\"de\">"));
	assert_non_null(strstr(html, "Erika &lt;b&gt;Müller&lt;/b&gt;"));
	assert_null(strstr(html, "<b>Müller"));
	assert_non_null(strstr(html, "Zu Google Kalender hinzufügen</a>"));
	assert_non_null(strstr(html, "href=\"https://praxis.example/termin/absage/"));
	assert_non_null(strstr(html, "Dienstag, 24. November 2026"));
	assert_non_null(strstr(html, "Hauptstraße 1<br>10115 Berlin"));

	ics = part_body(msg, "Content-Type: text/calendar");
	assert_non_null(strstr(ics, "METHOD:REQUEST\r\n"));
	assert_non_null(strstr(ics, "UID:terminfinder-appointment-42@praxis.example\r\n"));
	assert_non_null(strstr(ics, "DTSTART:20261124T080000Z\r\n"));
	assert_non_null(strstr(ics, "DTEND:20261124T083000Z\r\n"));
	assert_non_null(strstr(ics, "SEQUENCE:0\r\n"));
	assert_non_null(strstr(ics, "STATUS:CONFIRMED\r\n"));
	free(text);
	free(html);
	free(ics);
	free(msg);
	conf_free(c);
}

static void composed_summer_video_no_token(void **state)
{
	struct conf *c = good_conf();
	struct appointment a;
	struct doctor d;
	char err[256], *msg, *text, *html, *ics;

	(void)state;
	sample(&a, &d);
	a.start = (time_t)T_SUMMER;
	a.end = (time_t)T_SUMMER + 3600;
	a.is_video = 1;
	str_copy(a.video_link, "https://meet.example/abc-defg-hij", sizeof(a.video_link));
	d.practice_name[0] = '\0';
	msg = mail_compose(c, &a, &d, NULL, MAIL_REMINDER, (time_t)T_SUMMER - 20 * 3600, err,
			   sizeof(err));
	assert_non_null(msg);
	text = part_body(msg, "Content-Type: text/plain");
	assert_non_null(strstr(text, "Dienstag, 14. Juli 2026"));
	assert_non_null(strstr(text, "09:00 – 10:00 Uhr (60 Minuten)"));
	assert_non_null(strstr(text, "Video:     https://meet.example/abc-defg-hij"));
	assert_non_null(strstr(text, "rufen Sie bitte in der Praxis an"));
	assert_null(strstr(text, "/termin/absage/"));
	/* without a practice name the doctor's name stands in */
	assert_non_null(strstr(text, "Dr. Anna Schäfer"));
	html = part_body(msg, "Content-Type: text/html");
	assert_non_null(strstr(html, "href=\"https://meet.example/abc-defg-hij\""));
	ics = part_body(msg, "Content-Type: text/calendar");
	assert_non_null(strstr(ics, "DTSTART:20260714T070000Z\r\n"));
	assert_non_null(strstr(ics, "DTEND:20260714T080000Z\r\n"));
	assert_non_null(strstr(ics, "URL:https://meet.example/abc-defg-hij\r\n"));
	free(text);
	free(html);
	free(ics);
	free(msg);

	/* a video link that is not http(s) is left out everywhere */
	str_copy(a.video_link, "javascript:alert(1)", sizeof(a.video_link));
	msg = mail_compose(c, &a, &d, NULL, MAIL_CONFIRMATION, (time_t)T_SUMMER - 86400, err,
			   sizeof(err));
	assert_non_null(msg);
	html = part_body(msg, "Content-Type: text/html");
	assert_null(strstr(html, "javascript:"));
	assert_non_null(strstr(html, "Den Link zur Videosprechstunde erhalten Sie"));
	free(html);
	free(msg);
	conf_free(c);
}

static void composed_cancellation(void **state)
{
	struct conf *c = good_conf();
	struct appointment a;
	struct doctor d;
	char err[256], *msg, *text, *ics;

	(void)state;
	sample(&a, &d);
	str_copy(a.status, "cancelled", sizeof(a.status));
	str_copy(a.cancelled_by, "doctor", sizeof(a.cancelled_by));
	a.reschedule_count = 2;
	msg = mail_compose(c, &a, &d, "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde", MAIL_CANCELLATION,
			   (time_t)T_WINTER - 86400, err, sizeof(err));
	assert_non_null(msg);
	assert_non_null(strstr(msg, "method=CANCEL;"));
	text = part_body(msg, "Content-Type: text/plain");
	assert_non_null(strstr(text, "leider muss die Praxis Ihren Termin absagen"));
	assert_non_null(strstr(text, "https://praxis.example/termin/dr-anna-schaefer"));
	assert_null(strstr(text, "/termin/absage/"));      /* nothing left to cancel */
	assert_null(strstr(text, "calendar.google.com"));
	ics = part_body(msg, "Content-Type: text/calendar");
	assert_non_null(strstr(ics, "METHOD:CANCEL\r\n"));
	assert_non_null(strstr(ics, "STATUS:CANCELLED\r\n"));
	assert_non_null(strstr(ics, "SEQUENCE:3\r\n"));
	free(text);
	free(ics);
	free(msg);
	conf_free(c);
}

static void composed_header_injection_cleaned(void **state)
{
	struct conf *c = good_conf();
	struct appointment a;
	struct doctor d;
	char err[256], *msg, *hdr_end;

	(void)state;
	sample(&a, &d);
	str_copy(a.patient_name, "Eve\r\nBcc: victim@example.org", sizeof(a.patient_name));
	str_copy(a.service_name, "Check\r\nX-Evil: 1", sizeof(a.service_name));
	msg = mail_compose(c, &a, &d, NULL, MAIL_CONFIRMATION, (time_t)T_WINTER - 86400, err,
			   sizeof(err));
	assert_non_null(msg);
	hdr_end = strstr(msg, "\r\n\r\n");
	*hdr_end = '\0';
	assert_null(strstr(msg, "\r\nBcc:"));
	assert_null(strstr(msg, "\r\nX-Evil:"));
	free(msg);

	/* an unusable recipient address is an error, not a mail */
	sample(&a, &d);
	str_copy(a.patient_email, "erika@example.org>, <x@y.de", sizeof(a.patient_email));
	assert_null(mail_compose(c, &a, &d, NULL, MAIL_CONFIRMATION, (time_t)T_WINTER, err,
				 sizeof(err)));
	conf_free(c);
}

/* A port that refuses connections: bound once, then closed. */
static int closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void send_errors(void **state)
{
	struct conf *c = good_conf();
	char err[512], port[16];

	(void)state;
	snprintf(port, sizeof(port), "%d", closed_port());
	conf_set(c, "SMTP_PORT", port);
	conf_set(c, "SMTP_USER", "praxis");
	conf_set(c, "SMTP_PASSWORD", "Sehr-Geheim-Passwort-99");
	conf_register_secrets(c);
	assert_int_equal(mail_send(c, "erika@example.org", "Subject: x\r\n\r\nHallo\r\n", err,
				   sizeof(err)), TF_ERR_IO);
	assert_non_null(strstr(err, "127.0.0.1"));
	assert_null(strstr(err, "Sehr-Geheim"));
	assert_int_equal(mail_send(c, "not-an-address", "Subject: x\r\n\r\nHallo\r\n", err,
				   sizeof(err)), TF_ERR_INVALID);
	conf_set(c, "SMTP_HOST", "");
	assert_int_equal(mail_send(c, "erika@example.org", "Subject: x\r\n\r\nHallo\r\n", err,
				   sizeof(err)), TF_ERR_CONFIG);
	assert_non_null(strstr(err, "SMTP_HOST"));
	log_clear_secrets();
	conf_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(subject_ascii_and_encoded),
		cmocka_unit_test(headers_refuse_injection),
		cmocka_unit_test(address_headers),
		cmocka_unit_test(dates),
		cmocka_unit_test(settings_checked),
		cmocka_unit_test(composed_confirmation),
		cmocka_unit_test(composed_summer_video_no_token),
		cmocka_unit_test(composed_cancellation),
		cmocka_unit_test(composed_header_injection_cleaned),
		cmocka_unit_test(send_errors),
	};

	crypto_init();
	log_init("test_mail", 0, LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
