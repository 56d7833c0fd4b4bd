/* icsbusy.c: busy intervals of an iCalendar object with libical: time zones resolved, recurrences expanded. */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libical/ical.h>

#include "icsbusy.h"
#include "log.h"
#include "tztime.h"
#include "util.h"

/*
 * Decisions (the tests in tests/unit/test_icsbusy.c hold us to them):
 * - Parsing: libical with non-fatal errors. The parser drops what it cannot read and leaves an
 *   X-LIC-ERROR property. A VEVENT whose DTSTART, DTEND, DURATION, RRULE or RECURRENCE-ID was
 *   dropped (or that has no valid DTSTART) is logged and skipped; dropped EXDATE/RDATE values and
 *   any other property are only logged (the rest of the series still counts). -1 when libical
 *   returns nothing, the root is neither a VCALENDAR nor a VEVENT (nor a group of them), or
 *   there are VEVENTs and none of them is usable. A calendar without VEVENTs is 0 intervals.
 * - Time zones, in this order: the object's own VTIMEZONE (libical converts; a VTIMEZONE whose
 *   observances are not yearly rules or has too many RDATEs is ignored, so a hostile one cannot
 *   make libical expand billions of transitions), an IANA name from the system's tzdata
 *   (tztime.c; also the last "Area/City" of prefixed ids such as "/citadel.org/.../Europe/Berlin"),
 *   a Windows name or Outlook display name (icsbusy_windows_zone), else the time is floating in
 *   tz and a log line says so. Floating times are in tz. A local time in a DST gap (tzdata path)
 *   uses the offset before the gap (RFC 5545 3.3.5); a repeated hour is its first occurrence.
 * - Recurrence: libical's iterator over the wall-clock DTSTART (so 09:00 stays 09:00 across DST);
 *   UNTIL is applied by us in absolute time (a UTC UNTIL against a zoned DTSTART; a DATE-TIME UNTIL
 *   against an all-day series compares the day's local midnight in tz). DTSTART counts only when
 *   the rule produces it (libical's reading); a rule libical rejects leaves DTSTART alone.
 *   RDATE (DATE, DATE-TIME, PERIOD) adds instances, EXDATE removes them (compared in UTC; a DATE
 *   EXDATE removes the instance on that local day). An RRULE on an override is ignored.
 * - Overrides: a RECURRENCE-ID replaces the instance it names (matched in UTC, or by day for
 *   all-day series, including Exchange's midnight DATE-TIME ids against DATE masters); the
 *   override is busy on its own terms (cancelled/transparent: not busy). Without DTEND/DURATION
 *   it keeps the master's length. Overrides without a master still count. RANGE=THISANDFUTURE
 *   (RFC 5545 3.8.4.4): later instances of the same series are shifted by the override's
 *   (DTSTART - RECURRENCE-ID), take its length and its busy flag, until a later THISANDFUTURE
 *   override; plain overrides still replace their own instance.
 * - Lengths: master instances take the master's DTEND - DTSTART (in UTC seconds; DTEND wins over
 *   DURATION when both are present); all-day events cover local days in tz from midnight to the
 *   exclusive end day's midnight; DTEND <= DTSTART (or no DTEND/DURATION on a timed event) is zero
 *   length: not busy.
 * - Limits: ICSBUSY_MAX_INPUT bytes; ICSBUSY_MAX_ITER rule steps per object (a FREQ=SECONDLY rule
 *   from years ago stops there, logged); at most 4 * ICSBUSY_MAX_INTERVALS raw intervals are
 *   collected and at most ICSBUSY_MAX_INTERVALS (the earliest) are returned, logged when cut.
 */

#define ICSBUSY_MAX_ITER    500000   /* recurrence steps (rule, RDATE, EXDATE) per object */
#define ICSBUSY_MAX_RAW     (4 * ICSBUSY_MAX_INTERVALS)
#define ICSBUSY_TZ_CACHE    64
#define ICSBUSY_VTZ_MAXOBS  400      /* observances in one VTIMEZONE */
#define ICSBUSY_VTZ_MAXRDATE 2000    /* RDATEs over all observances of one VTIMEZONE */
#define ICSBUSY_VTZ_MAXCHG  50000    /* estimated transitions libical would expand (to 2035) */
#define ICSBUSY_YEAR_MIN    1
#define ICSBUSY_YEAR_MAX    9999

enum zkind { Z_UTC, Z_IANA, Z_ICAL };

struct zref {
	enum zkind kind;
	const char *iana;        /* Z_IANA: tz, a table entry, or text inside the parsed object */
	icaltimezone *ical;      /* Z_ICAL: owned by the parsed object */
};

/* A DATE or DATE-TIME value with its zone (wall clock t in z). */
struct ptime {
	struct icaltimetype t;
	struct zref z;
	int is_date;
	int floating;            /* no TZID and no Z: z is the zone the caller chose */
};

struct ev {
	icalcomponent *c;
	const char *uid;          /* points into c; NULL when the VEVENT has none */
	size_t order;
	int ok;
	int has_rid, rid_future;
	struct ptime start, rid;
	int end_kind;             /* 0 none, 1 DTEND, 2 DURATION */
	struct ptime end;
	long long dur_secs;
	int busy;
};

struct tzcache {
	const char *tzid;
	struct zref z;
};

struct ctx {
	const char *tz;
	time_t from, to;
	struct zref local;        /* the doctor's zone */
	struct interval *iv;
	size_t niv, cap;
	long budget;              /* recurrence steps left */
	int nomem, cut_raw, cut_iter;
	struct tzcache cache[ICSBUSY_TZ_CACHE];
	size_t ncache;
};

/* One instance of a series before it becomes an interval. */
struct future {
	long long key;            /* the RECURRENCE-ID's key */
	long long delta;          /* shift: seconds (timed) or days (all-day) */
	long long len;            /* seconds or days */
	int busy;
};

struct series {
	const struct ev *m;
	int is_date;
	long long len;            /* seconds (timed) or days (all-day) */
	long long *ex_utc;        /* excluded instance starts (timed series) */
	size_t nex_utc;
	long long *ex_day;        /* excluded local days */
	size_t nex_day;
	struct future *fut;
	size_t nfut;
	long long max_shift;      /* largest THISANDFUTURE shift either way, seconds */
};

static pthread_once_t ical_once = PTHREAD_ONCE_INIT;

static void ical_setup(void)
{
	icalerror_set_errors_are_fatal(0);
}

/* ------------------------------------------------------------------ Windows zone names */

/* Windows zone id, IANA zone, Outlook display names without the "(UTC+01:00) " prefix ('|'
 * separates several). From CLDR's windowsZones.xml (territory 001) and Windows' tzres names. */
static const struct {
	const char *win, *iana, *display;
} win_zones[] = {
	{ "Dateline Standard Time", "Etc/GMT+12", "International Date Line West" },
	{ "UTC-11", "Etc/GMT+11", "Coordinated Universal Time-11" },
	{ "Aleutian Standard Time", "America/Adak", "Aleutian Islands" },
	{ "Hawaiian Standard Time", "Pacific/Honolulu", "Hawaii" },
	{ "Marquesas Standard Time", "Pacific/Marquesas", "Marquesas Islands" },
	{ "Alaskan Standard Time", "America/Anchorage", "Alaska" },
	{ "UTC-09", "Etc/GMT+9", "Coordinated Universal Time-09" },
	{ "Pacific Standard Time (Mexico)", "America/Tijuana", "Baja California" },
	{ "UTC-08", "Etc/GMT+8", "Coordinated Universal Time-08" },
	{ "Pacific Standard Time", "America/Los_Angeles", "Pacific Time (US & Canada)" },
	{ "US Mountain Standard Time", "America/Phoenix", "Arizona" },
	{ "Mountain Standard Time (Mexico)", "America/Mazatlan", "Chihuahua, La Paz, Mazatlan|La Paz, Mazatlan" },
	{ "Mountain Standard Time", "America/Denver", "Mountain Time (US & Canada)" },
	{ "Yukon Standard Time", "America/Whitehorse", "Yukon" },
	{ "Central America Standard Time", "America/Guatemala", "Central America" },
	{ "Central Standard Time", "America/Chicago", "Central Time (US & Canada)" },
	{ "Easter Island Standard Time", "Pacific/Easter", "Easter Island" },
	{ "Central Standard Time (Mexico)", "America/Mexico_City", "Guadalajara, Mexico City, Monterrey" },
	{ "Canada Central Standard Time", "America/Regina", "Saskatchewan" },
	{ "SA Pacific Standard Time", "America/Bogota", "Bogota, Lima, Quito, Rio Branco|Bogota, Lima, Quito" },
	{ "Eastern Standard Time (Mexico)", "America/Cancun", "Chetumal" },
	{ "Eastern Standard Time", "America/New_York", "Eastern Time (US & Canada)" },
	{ "Haiti Standard Time", "America/Port-au-Prince", "Haiti" },
	{ "Cuba Standard Time", "America/Havana", "Havana" },
	{ "US Eastern Standard Time", "America/Indiana/Indianapolis", "Indiana (East)" },
	{ "Turks And Caicos Standard Time", "America/Grand_Turk", "Turks and Caicos" },
	{ "Paraguay Standard Time", "America/Asuncion", "Asuncion" },
	{ "Atlantic Standard Time", "America/Halifax", "Atlantic Time (Canada)" },
	{ "Venezuela Standard Time", "America/Caracas", "Caracas" },
	{ "Central Brazilian Standard Time", "America/Cuiaba", "Cuiaba" },
	{ "SA Western Standard Time", "America/La_Paz", "Georgetown, La Paz, Manaus, San Juan" },
	{ "Pacific SA Standard Time", "America/Santiago", "Santiago" },
	{ "Newfoundland Standard Time", "America/St_Johns", "Newfoundland" },
	{ "Tocantins Standard Time", "America/Araguaina", "Araguaina" },
	{ "E. South America Standard Time", "America/Sao_Paulo", "Brasilia" },
	{ "SA Eastern Standard Time", "America/Cayenne", "Cayenne, Fortaleza" },
	{ "Argentina Standard Time", "America/Argentina/Buenos_Aires", "City of Buenos Aires|Buenos Aires" },
	{ "Greenland Standard Time", "America/Nuuk", "Greenland" },
	{ "Montevideo Standard Time", "America/Montevideo", "Montevideo" },
	{ "Magallanes Standard Time", "America/Punta_Arenas", "Punta Arenas" },
	{ "Saint Pierre Standard Time", "America/Miquelon", "Saint Pierre and Miquelon" },
	{ "Bahia Standard Time", "America/Bahia", "Salvador" },
	{ "UTC-02", "Etc/GMT+2", "Coordinated Universal Time-02" },
	{ "Mid-Atlantic Standard Time", "Etc/GMT+2", "Mid-Atlantic - Old" },
	{ "Azores Standard Time", "Atlantic/Azores", "Azores" },
	{ "Cape Verde Standard Time", "Atlantic/Cape_Verde", "Cabo Verde Is.|Cape Verde Is." },
	{ "UTC", "UTC", "Coordinated Universal Time" },
	{ "GMT Standard Time", "Europe/London",
	  "Dublin, Edinburgh, Lisbon, London|Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London" },
	{ "Greenwich Standard Time", "Atlantic/Reykjavik", "Monrovia, Reykjavik|Casablanca, Monrovia, Reykjavik" },
	{ "Sao Tome Standard Time", "Africa/Sao_Tome", "Sao Tome" },
	{ "Morocco Standard Time", "Africa/Casablanca", "Casablanca" },
	{ "W. Europe Standard Time", "Europe/Berlin", "Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna" },
	{ "Central Europe Standard Time", "Europe/Budapest", "Belgrade, Bratislava, Budapest, Ljubljana, Prague" },
	{ "Romance Standard Time", "Europe/Paris", "Brussels, Copenhagen, Madrid, Paris" },
	{ "Central European Standard Time", "Europe/Warsaw", "Sarajevo, Skopje, Warsaw, Zagreb" },
	{ "W. Central Africa Standard Time", "Africa/Lagos", "West Central Africa" },
	{ "Jordan Standard Time", "Asia/Amman", "Amman" },
	{ "GTB Standard Time", "Europe/Bucharest", "Athens, Bucharest|Athens, Bucharest, Istanbul" },
	{ "Middle East Standard Time", "Asia/Beirut", "Beirut" },
	{ "Egypt Standard Time", "Africa/Cairo", "Cairo" },
	{ "E. Europe Standard Time", "Europe/Chisinau", "Chisinau|E. Europe" },
	{ "Syria Standard Time", "Asia/Damascus", "Damascus" },
	{ "West Bank Standard Time", "Asia/Hebron", "Gaza, Hebron" },
	{ "South Africa Standard Time", "Africa/Johannesburg", "Harare, Pretoria" },
	{ "FLE Standard Time", "Europe/Kyiv",
	  "Helsinki, Kyiv, Riga, Sofia, Tallinn, Vilnius|Helsinki, Kiev, Riga, Sofia, Tallinn, Vilnius" },
	{ "Israel Standard Time", "Asia/Jerusalem", "Jerusalem" },
	{ "South Sudan Standard Time", "Africa/Juba", "Juba" },
	{ "Kaliningrad Standard Time", "Europe/Kaliningrad", "Kaliningrad" },
	{ "Sudan Standard Time", "Africa/Khartoum", "Khartoum" },
	{ "Libya Standard Time", "Africa/Tripoli", "Tripoli" },
	{ "Namibia Standard Time", "Africa/Windhoek", "Windhoek" },
	{ "Arabic Standard Time", "Asia/Baghdad", "Baghdad" },
	{ "Turkey Standard Time", "Europe/Istanbul", "Istanbul" },
	{ "Arab Standard Time", "Asia/Riyadh", "Kuwait, Riyadh" },
	{ "Belarus Standard Time", "Europe/Minsk", "Minsk" },
	{ "Russian Standard Time", "Europe/Moscow", "Moscow, St. Petersburg|Moscow, St. Petersburg, Volgograd" },
	{ "E. Africa Standard Time", "Africa/Nairobi", "Nairobi" },
	{ "Volgograd Standard Time", "Europe/Volgograd", "Volgograd" },
	{ "Iran Standard Time", "Asia/Tehran", "Tehran" },
	{ "Arabian Standard Time", "Asia/Dubai", "Abu Dhabi, Muscat" },
	{ "Astrakhan Standard Time", "Europe/Astrakhan", "Astrakhan, Ulyanovsk" },
	{ "Azerbaijan Standard Time", "Asia/Baku", "Baku" },
	{ "Russia Time Zone 3", "Europe/Samara", "Izhevsk, Samara" },
	{ "Mauritius Standard Time", "Indian/Mauritius", "Port Louis" },
	{ "Saratov Standard Time", "Europe/Saratov", "Saratov" },
	{ "Georgian Standard Time", "Asia/Tbilisi", "Tbilisi" },
	{ "Caucasus Standard Time", "Asia/Yerevan", "Yerevan" },
	{ "Afghanistan Standard Time", "Asia/Kabul", "Kabul" },
	{ "West Asia Standard Time", "Asia/Tashkent", "Ashgabat, Tashkent" },
	{ "Ekaterinburg Standard Time", "Asia/Yekaterinburg", "Ekaterinburg" },
	{ "Pakistan Standard Time", "Asia/Karachi", "Islamabad, Karachi" },
	{ "Qyzylorda Standard Time", "Asia/Qyzylorda", "Qyzylorda" },
	{ "India Standard Time", "Asia/Kolkata", "Chennai, Kolkata, Mumbai, New Delhi" },
	{ "Sri Lanka Standard Time", "Asia/Colombo", "Sri Jayawardenepura" },
	{ "Nepal Standard Time", "Asia/Kathmandu", "Kathmandu" },
	{ "Central Asia Standard Time", "Asia/Almaty", "Astana|Bishkek" },
	{ "Bangladesh Standard Time", "Asia/Dhaka", "Dhaka" },
	{ "Omsk Standard Time", "Asia/Omsk", "Omsk" },
	{ "Myanmar Standard Time", "Asia/Yangon", "Yangon (Rangoon)" },
	{ "SE Asia Standard Time", "Asia/Bangkok", "Bangkok, Hanoi, Jakarta" },
	{ "Altai Standard Time", "Asia/Barnaul", "Barnaul, Gorno-Altaysk" },
	{ "W. Mongolia Standard Time", "Asia/Hovd", "Hovd" },
	{ "North Asia Standard Time", "Asia/Krasnoyarsk", "Krasnoyarsk" },
	{ "N. Central Asia Standard Time", "Asia/Novosibirsk", "Novosibirsk" },
	{ "Tomsk Standard Time", "Asia/Tomsk", "Tomsk" },
	{ "China Standard Time", "Asia/Shanghai", "Beijing, Chongqing, Hong Kong, Urumqi" },
	{ "North Asia East Standard Time", "Asia/Irkutsk", "Irkutsk" },
	{ "Singapore Standard Time", "Asia/Singapore", "Kuala Lumpur, Singapore" },
	{ "W. Australia Standard Time", "Australia/Perth", "Perth" },
	{ "Taipei Standard Time", "Asia/Taipei", "Taipei" },
	{ "Ulaanbaatar Standard Time", "Asia/Ulaanbaatar", "Ulaanbaatar" },
	{ "Aus Central W. Standard Time", "Australia/Eucla", "Eucla" },
	{ "Transbaikal Standard Time", "Asia/Chita", "Chita" },
	{ "Tokyo Standard Time", "Asia/Tokyo", "Osaka, Sapporo, Tokyo" },
	{ "North Korea Standard Time", "Asia/Pyongyang", "Pyongyang" },
	{ "Korea Standard Time", "Asia/Seoul", "Seoul" },
	{ "Yakutsk Standard Time", "Asia/Yakutsk", "Yakutsk" },
	{ "Cen. Australia Standard Time", "Australia/Adelaide", "Adelaide" },
	{ "AUS Central Standard Time", "Australia/Darwin", "Darwin" },
	{ "E. Australia Standard Time", "Australia/Brisbane", "Brisbane" },
	{ "AUS Eastern Standard Time", "Australia/Sydney", "Canberra, Melbourne, Sydney" },
	{ "West Pacific Standard Time", "Pacific/Port_Moresby", "Guam, Port Moresby" },
	{ "Tasmania Standard Time", "Australia/Hobart", "Hobart" },
	{ "Vladivostok Standard Time", "Asia/Vladivostok", "Vladivostok" },
	{ "Lord Howe Standard Time", "Australia/Lord_Howe", "Lord Howe Island" },
	{ "Bougainville Standard Time", "Pacific/Bougainville", "Bougainville Island" },
	{ "Russia Time Zone 10", "Asia/Srednekolymsk", "Chokurdakh" },
	{ "Magadan Standard Time", "Asia/Magadan", "Magadan" },
	{ "Norfolk Standard Time", "Pacific/Norfolk", "Norfolk Island" },
	{ "Sakhalin Standard Time", "Asia/Sakhalin", "Sakhalin" },
	{ "Central Pacific Standard Time", "Pacific/Guadalcanal", "Solomon Is., New Caledonia" },
	{ "Russia Time Zone 11", "Asia/Kamchatka", "Anadyr, Petropavlovsk-Kamchatsky" },
	{ "New Zealand Standard Time", "Pacific/Auckland", "Auckland, Wellington" },
	{ "UTC+12", "Etc/GMT-12", "Coordinated Universal Time+12" },
	{ "Fiji Standard Time", "Pacific/Fiji", "Fiji" },
	{ "Kamchatka Standard Time", "Asia/Kamchatka", "Petropavlovsk-Kamchatsky - Old" },
	{ "Chatham Islands Standard Time", "Pacific/Chatham", "Chatham Islands" },
	{ "UTC+13", "Etc/GMT-13", "Coordinated Universal Time+13" },
	{ "Tonga Standard Time", "Pacific/Tongatapu", "Nuku'alofa" },
	{ "Samoa Standard Time", "Pacific/Apia", "Samoa" },
	{ "Line Islands Standard Time", "Pacific/Kiritimati", "Kiritimati Island" },
};

/* Case-insensitive comparison of a display name with one candidate, where " and " in either
 * matches " & " in the other, and runs of spaces count once. */
static int display_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0, j = 0;

	while (i < alen && j < blen) {
		if (alen - i >= 5 && strncasecmp(a + i, " and ", 5) == 0 && blen - j >= 3 &&
		    strncmp(b + j, " & ", 3) == 0) {
			i += 5, j += 3;
			continue;
		}
		if (blen - j >= 5 && strncasecmp(b + j, " and ", 5) == 0 && alen - i >= 3 &&
		    strncmp(a + i, " & ", 3) == 0) {
			i += 3, j += 5;
			continue;
		}
		if (a[i] == ' ' && b[j] == ' ') {
			while (i < alen && a[i] == ' ')
				i++;
			while (j < blen && b[j] == ' ')
				j++;
			continue;
		}
		if ((unsigned char)a[i] >= 0x80 || (unsigned char)b[j] >= 0x80) {
			if (a[i] != b[j])
				return 0;
		} else if (strncasecmp(a + i, b + j, 1) != 0) {
			return 0;
		}
		i++, j++;
	}
	return i == alen && j == blen;
}

const char *icsbusy_windows_zone(const char *name)
{
	const char *s, *e, *p;
	size_t i, n;

	if (!name)
		return NULL;
	/* trim blanks and one pair of quotes */
	s = name;
	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
		s++, n -= 2;
	if (n == 0 || n > 200)
		return NULL;
	for (i = 0; i < TF_ARRAY_LEN(win_zones); i++)
		if (strlen(win_zones[i].win) == n && strncasecmp(win_zones[i].win, s, n) == 0)
			return win_zones[i].iana;
	/* Outlook display names: "(UTC+01:00) Amsterdam, ..." or "(GMT+10:00) Canberra, ...";
	 * "(UTC) Coordinated Universal Time" has no offset. */
	if (s[0] != '(' || (strncasecmp(s + 1, "UTC", 3) != 0 && strncasecmp(s + 1, "GMT", 3) != 0))
		return NULL;
	p = memchr(s, ')', n);
	if (!p)
		return NULL;
	p++;
	while (p < s + n && *p == ' ')
		p++;
	e = s + n;
	if (p >= e)
		return NULL;
	for (i = 0; i < TF_ARRAY_LEN(win_zones); i++) {
		const char *d = win_zones[i].display;

		while (*d) {
			const char *bar = strchr(d, '|');
			size_t dl = bar ? (size_t)(bar - d) : strlen(d);

			if (display_eq(p, (size_t)(e - p), d, dl))
				return win_zones[i].iana;
			d += dl;
			if (*d == '|')
				d++;
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ time arithmetic */

static long long fields_utc(int y, int mo, int d, int h, int mi, int s)
{
	return (long long)civil_to_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static int time_fields_ok(const struct icaltimetype *t)
{
	if (t->year < ICSBUSY_YEAR_MIN || t->year > ICSBUSY_YEAR_MAX ||
	    !civil_date_valid(t->year, t->month, t->day))
		return 0;
	if (t->is_date)
		return 1;
	return t->hour >= 0 && t->hour <= 23 && t->minute >= 0 && t->minute <= 59 &&
	       t->second >= 0 && t->second <= 60;
}

static long t_day(const struct icaltimetype *t)
{
	return civil_to_days(t->year, t->month, t->day);
}

/* Wall-clock t (a DATE is its midnight) in zone z -> UTC seconds. 0 or -1. */
static int wall_to_utc(const struct zref *z, struct icaltimetype t, long long *out)
{
	struct civil c;
	time_t u;
	long long naive;

	if (!time_fields_ok(&t))
		return -1;
	if (t.is_date)
		t.hour = t.minute = t.second = 0;
	naive = fields_utc(t.year, t.month, t.day, t.hour, t.minute, t.second);
	switch (z->kind) {
	case Z_UTC:
		*out = naive;
		return 0;
	case Z_ICAL:
		t.is_date = 0;
		t.zone = NULL;
		*out = (long long)icaltime_as_timet_with_zone(t, z->ical);
		return 0;
	case Z_IANA:
		c.year = t.year, c.month = t.month, c.day = t.day, c.hour = t.hour, c.minute = t.minute;
		if (tz_local_to_utc(z->iana, &c, &u) == 0) {
			*out = (long long)u + t.second;
			return 0;
		}
		/* in a DST gap: the offset in force a day earlier (before the gap) */
		if (tz_utc_to_local(z->iana, (time_t)(naive - t.second - 86400), &c) != 0)
			return -1;
		*out = naive - (fields_utc(c.year, c.month, c.day, c.hour, c.minute, 0) -
				(naive - t.second - 86400));
		return 0;
	}
	return -1;
}

/* The local day (in tz) of a UTC instant. */
static int utc_day_in(const struct ctx *x, long long u, long *day)
{
	struct civil c;

	if (tz_utc_to_local(x->tz, (time_t)u, &c) != 0)
		return -1;
	*day = civil_to_days(c.year, c.month, c.day);
	return 0;
}

/* Midnight of a local day in tz, as UTC. */
static int day_start(const struct ctx *x, long long day, long long *out)
{
	struct civil c;
	struct icaltimetype t = icaltime_null_time();

	if (day < civil_to_days(ICSBUSY_YEAR_MIN, 1, 1) || day > civil_to_days(ICSBUSY_YEAR_MAX, 12, 31))
		return -1;
	civil_from_days((long)day, &c);
	t.year = c.year, t.month = c.month, t.day = c.day;
	return wall_to_utc(&x->local, t, out);
}

/* The day a value names: a DATE's own day; a DATE-TIME's wall-clock day, or for UTC values the
 * local day in tz (Exchange's "midnight in some zone" ids against all-day series). */
static int ptime_day(const struct ctx *x, const struct ptime *p, long *day)
{
	long long u;

	if (p->is_date || p->z.kind != Z_UTC) {
		*day = t_day(&p->t);
		return 0;
	}
	if (wall_to_utc(&p->z, p->t, &u) != 0)
		return -1;
	return utc_day_in(x, u, day);
}

/* ------------------------------------------------------------------ time zones */

/* Entries in a libical BY* array (ends at ICAL_RECURRENCE_ARRAY_MAX); at least 1. */
static size_t array_len(const short *a, size_t max)
{
	size_t n = 0;

	while (n < max && a[n] != ICAL_RECURRENCE_ARRAY_MAX)
		n++;
	return n ? n : 1;
}

/* A VTIMEZONE libical can expand cheaply: only yearly rules, bounded RDATEs and observances. */
static int vtimezone_sane(icalcomponent *vtz)
{
	icalcomponent *obs;
	icalproperty *p;
	size_t nobs = 0, nrdate = 0;
	long changes = 0;

	if (!vtz)
		return 0;
	for (obs = icalcomponent_get_first_component(vtz, ICAL_ANY_COMPONENT); obs;
	     obs = icalcomponent_get_next_component(vtz, ICAL_ANY_COMPONENT)) {
		icalcomponent_kind k = icalcomponent_isa(obs);
		struct icaltimetype st;

		if (k != ICAL_XSTANDARD_COMPONENT && k != ICAL_XDAYLIGHT_COMPONENT)
			continue;
		if (++nobs > ICSBUSY_VTZ_MAXOBS)
			return 0;
		p = icalcomponent_get_first_property(obs, ICAL_DTSTART_PROPERTY);
		if (!p)
			return 0;
		st = icalproperty_get_dtstart(p);
		if (icaltime_is_null_time(st) || !time_fields_ok(&st))
			return 0;
		if (!icalcomponent_get_first_property(obs, ICAL_TZOFFSETTO_PROPERTY))
			return 0;
		for (p = icalcomponent_get_first_property(obs, ICAL_RRULE_PROPERTY); p;
		     p = icalcomponent_get_next_property(obs, ICAL_RRULE_PROPERTY)) {
			struct icalrecurrencetype r = icalproperty_get_rrule(p);
			long years, per;

			/* real zones: yearly, BYMONTH + BYDAY (+ a week of BYMONTHDAY) */
			if (r.freq != ICAL_YEARLY_RECURRENCE || r.interval != 1 ||
			    r.by_second[0] != ICAL_RECURRENCE_ARRAY_MAX ||
			    r.by_minute[0] != ICAL_RECURRENCE_ARRAY_MAX ||
			    r.by_hour[0] != ICAL_RECURRENCE_ARRAY_MAX ||
			    r.by_year_day[0] != ICAL_RECURRENCE_ARRAY_MAX ||
			    r.by_week_no[0] != ICAL_RECURRENCE_ARRAY_MAX)
				return 0;
			per = (long)array_len(r.by_month, 12) * array_len(r.by_day, 7) *
			      array_len(r.by_month_day, 31);
			if (per > 31)
				return 0;
			years = (!icaltime_is_null_time(r.until) ? r.until.year : 2035) - st.year + 1;
			if (years > 0)
				changes += years * per;
			if (changes > ICSBUSY_VTZ_MAXCHG)
				return 0;
		}
		for (p = icalcomponent_get_first_property(obs, ICAL_RDATE_PROPERTY); p;
		     p = icalcomponent_get_next_property(obs, ICAL_RDATE_PROPERTY))
			if (++nrdate > ICSBUSY_VTZ_MAXRDATE)
				return 0;
	}
	return nobs > 0;
}

/* An IANA name inside tzid: the whole of it, or the tail of a prefixed id
 * ("/citadel.org/20260414_1/Europe/Berlin", "/freeassociation.sourceforge.net/Europe/Berlin"). */
static const char *iana_in(const char *tzid)
{
	const char *p;

	if (strlen(tzid) > 200)
		return NULL;
	if (tz_valid(tzid))
		return tzid;
	if (tzid[0] != '/')
		return NULL;
	for (p = tzid; (p = strchr(p, '/')) != NULL; p++)
		if (p[1] && strchr(p + 1, '/') && tz_valid(p + 1))
			return p + 1;
	return NULL;
}

/* TZID of property value in VEVENT c -> zone (see the order at the top). */
static void resolve_tzid(struct ctx *x, icalcomponent *c, const char *tzid, struct zref *z)
{
	icalcomponent *anc;
	icaltimezone *zone = NULL;
	const char *name;
	size_t i;

	for (i = 0; i < x->ncache; i++)
		if (strcmp(x->cache[i].tzid, tzid) == 0) {
			*z = x->cache[i].z;
			return;
		}
	for (anc = icalcomponent_get_parent(c); anc && !zone; anc = icalcomponent_get_parent(anc)) {
		zone = icalcomponent_get_timezone(anc, tzid);
		if (zone && !vtimezone_sane(icaltimezone_get_component(zone))) {
			log_warn("icsbusy: VTIMEZONE \"%.64s\" not used (unusual rules)", tzid);
			zone = NULL;
			break;
		}
	}
	if (zone) {
		z->kind = Z_ICAL, z->ical = zone, z->iana = NULL;
	} else if ((name = iana_in(tzid)) != NULL || (name = icsbusy_windows_zone(tzid)) != NULL) {
		z->kind = strcmp(name, "UTC") == 0 ? Z_UTC : Z_IANA;
		z->iana = name, z->ical = NULL;
	} else {
		log_info("icsbusy: unknown TZID \"%.64s\": times taken as local time in %s", tzid, x->tz);
		*z = x->local;
	}
	if (x->ncache < ICSBUSY_TZ_CACHE) {
		x->cache[x->ncache].tzid = tzid;
		x->cache[x->ncache].z = *z;
		x->ncache++;
	}
}

/* A date or date-time value of property p (v already read from p) with its zone; floating
 * values take *floating. 0 or -1 (invalid value). */
static int prop_ptime(struct ctx *x, icalcomponent *c, icalproperty *p, struct icaltimetype v,
		      const struct zref *floating, struct ptime *out)
{
	icalparameter *param;
	const char *tzid;

	if (icaltime_is_null_time(v) || !time_fields_ok(&v))
		return -1;
	out->is_date = v.is_date;
	out->floating = 0;
	if (icaltime_is_utc(v)) {
		out->z.kind = Z_UTC, out->z.iana = NULL, out->z.ical = NULL;
	} else if ((param = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER)) != NULL &&
		   (tzid = icalparameter_get_tzid(param)) != NULL && tzid[0] && !v.is_date) {
		resolve_tzid(x, c, tzid, &out->z);
	} else {
		out->z = *floating;
		out->floating = 1;
	}
	v.zone = NULL;
	out->t = v;
	return 0;
}

/* ------------------------------------------------------------------ output */

static void add_interval(struct ctx *x, long long s, long long e)
{
	struct interval *n;

	if (e <= s || e <= (long long)x->from || s >= (long long)x->to)
		return;
	if (x->niv >= ICSBUSY_MAX_RAW) {
		x->cut_raw = 1;
		return;
	}
	if (x->niv == x->cap) {
		size_t nc = x->cap ? x->cap * 2 : 16;

		n = realloc(x->iv, nc * sizeof(*n));
		if (!n) {
			x->nomem = 1;
			return;
		}
		x->iv = n, x->cap = nc;
	}
	if (s < (long long)x->from)
		s = x->from;
	if (e > (long long)x->to)
		e = x->to;
	x->iv[x->niv].start = (time_t)s;
	x->iv[x->niv].end = (time_t)e;
	x->niv++;
}

static int iv_cmp(const void *a, const void *b)
{
	const struct interval *p = a, *q = b;

	if (p->start != q->start)
		return p->start < q->start ? -1 : 1;
	if (p->end != q->end)
		return p->end < q->end ? -1 : 1;
	return 0;
}

static size_t merge_intervals(struct interval *iv, size_t n)
{
	size_t i, k = 0;

	if (n == 0)
		return 0;
	qsort(iv, n, sizeof(*iv), iv_cmp);
	for (i = 1; i < n; i++) {
		if (iv[i].start <= iv[k].end) {
			if (iv[i].end > iv[k].end)
				iv[k].end = iv[i].end;
		} else {
			iv[++k] = iv[i];
		}
	}
	return k + 1;
}

/* ------------------------------------------------------------------ one VEVENT */

/* An X-LIC-ERROR about one of the properties that define when the event is. */
static int time_prop_lost(icalcomponent *c)
{
	static const char *const names[] = { "DTSTART property", "DTEND property", "DURATION property",
					     "RRULE property", "RECURRENCE-ID property" };
	icalproperty *p;
	size_t i;

	for (p = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY); p;
	     p = icalcomponent_get_next_property(c, ICAL_XLICERROR_PROPERTY)) {
		const char *msg = icalproperty_get_xlicerror(p);

		for (i = 0; msg && i < TF_ARRAY_LEN(names); i++)
			if (strstr(msg, names[i]))
				return 1;
	}
	return 0;
}

static void ev_read(struct ctx *x, icalcomponent *c, size_t order, struct ev *e)
{
	icalproperty *p;
	icalparameter *param;
	icalproperty_status st;

	memset(e, 0, sizeof(*e));
	e->c = c;
	e->order = order;
	p = icalcomponent_get_first_property(c, ICAL_UID_PROPERTY);
	e->uid = p ? icalproperty_get_uid(p) : NULL;
	if (e->uid && !e->uid[0])
		e->uid = NULL;
	if (time_prop_lost(c)) {
		log_warn("icsbusy: VEVENT %.80s skipped: a time property could not be read",
			 e->uid ? e->uid : "(no UID)");
		return;
	}
	p = icalcomponent_get_first_property(c, ICAL_DTSTART_PROPERTY);
	if (!p || prop_ptime(x, c, p, icalproperty_get_dtstart(p), &x->local, &e->start) != 0) {
		log_warn("icsbusy: VEVENT %.80s skipped: no valid DTSTART", e->uid ? e->uid : "(no UID)");
		return;
	}
	p = icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY);
	if (p) {
		/* floating ids take the zone of DTSTART (see series_build for the master's) */
		if (prop_ptime(x, c, p, icalproperty_get_recurrenceid(p), &e->start.z, &e->rid) != 0) {
			log_warn("icsbusy: VEVENT %.80s skipped: invalid RECURRENCE-ID",
				 e->uid ? e->uid : "(no UID)");
			return;
		}
		e->has_rid = 1;
		param = icalproperty_get_first_parameter(p, ICAL_RANGE_PARAMETER);
		e->rid_future = param && icalparameter_get_range(param) == ICAL_RANGE_THISANDFUTURE;
	}
	p = icalcomponent_get_first_property(c, ICAL_DTEND_PROPERTY);
	if (p) {
		if (prop_ptime(x, c, p, icalproperty_get_dtend(p), &e->start.z, &e->end) != 0) {
			log_warn("icsbusy: VEVENT %.80s skipped: invalid DTEND", e->uid ? e->uid : "(no UID)");
			return;
		}
		e->end_kind = 1;
	} else if ((p = icalcomponent_get_first_property(c, ICAL_DURATION_PROPERTY)) != NULL) {
		struct icaldurationtype d = icalproperty_get_duration(p);

		if (icaldurationtype_is_bad_duration(d)) {
			log_warn("icsbusy: VEVENT %.80s skipped: invalid DURATION", e->uid ? e->uid : "(no UID)");
			return;
		}
		e->dur_secs = (long long)d.weeks * 7 * 86400 + (long long)d.days * 86400 +
			      (long long)d.hours * 3600 + (long long)d.minutes * 60 + d.seconds;
		if (d.is_neg)
			e->dur_secs = -e->dur_secs;
		e->end_kind = 2;
	}
	st = icalcomponent_get_status(c);
	p = icalcomponent_get_first_property(c, ICAL_TRANSP_PROPERTY);
	e->busy = st != ICAL_STATUS_CANCELLED;
	if (p) {
		icalproperty_transp tr = icalproperty_get_transp(p);

		if (tr == ICAL_TRANSP_TRANSPARENT || tr == ICAL_TRANSP_TRANSPARENTNOCONFLICT)
			e->busy = 0;
	}
	e->ok = 1;
}

/* The length of e: seconds for a timed event, days for an all-day one; have = 0 when it has
 * neither DTEND nor DURATION. A value <= 0 means zero length. */
static long long ev_len(const struct ctx *x, const struct ev *e, int *have)
{
	long long s, en;
	long d;

	*have = e->end_kind != 0;
	if (e->start.is_date) {
		if (e->end_kind == 1) {
			if (ptime_day(x, &e->end, &d) != 0)
				return 0;
			/* a DATE-TIME end after midnight still covers that day */
			if (!e->end.is_date && (e->end.t.hour || e->end.t.minute || e->end.t.second) &&
			    e->end.z.kind != Z_UTC)
				d++;
			return (long long)d - t_day(&e->start.t);
		}
		if (e->end_kind == 2)
			return e->dur_secs <= 0 ? e->dur_secs : (e->dur_secs + 86399) / 86400;
		return 1;
	}
	if (e->end_kind == 1) {
		if (wall_to_utc(&e->start.z, e->start.t, &s) != 0 || wall_to_utc(&e->end.z, e->end.t, &en) != 0)
			return 0;
		return en - s;
	}
	if (e->end_kind == 2)
		return e->dur_secs;
	return 0;
}

/* Busy time of one occurrence that starts at (UTC) s, or on local day d for all-day. */
static void emit(struct ctx *x, int is_date, long long s_or_day, long long len, int busy)
{
	long long s, e;

	if (!busy || len <= 0)
		return;
	if (is_date) {
		if (len > 366 * 100)
			len = 366 * 100;
		if (day_start(x, s_or_day, &s) != 0 || day_start(x, s_or_day + len, &e) != 0)
			return;
		add_interval(x, s, e);
	} else {
		add_interval(x, s_or_day, s_or_day + len);
	}
}

/* ------------------------------------------------------------------ series */

static int ll_cmp(const void *a, const void *b)
{
	long long p = *(const long long *)a, q = *(const long long *)b;

	return p < q ? -1 : p > q;
}

static int fut_cmp(const void *a, const void *b)
{
	const struct future *p = a, *q = b;

	return p->key < q->key ? -1 : p->key > q->key;
}

static int ll_push(long long **arr, size_t *n, long long v)
{
	long long *na;

	if (*n == 0 || (*n >= 8 && (*n & (*n - 1)) == 0)) {
		size_t nc = *n ? *n * 2 : 8;

		na = realloc(*arr, nc * sizeof(**arr));
		if (!na)
			return -1;
		*arr = na;
	}
	(*arr)[(*n)++] = v;
	return 0;
}

static int ll_has(const long long *arr, size_t n, long long v)
{
	return n && bsearch(&v, arr, n, sizeof(*arr), ll_cmp) != NULL;
}

/* Record that the instance named by p (an EXDATE or a RECURRENCE-ID) does not come from the
 * rule. Timed series: DATE values by day, others by UTC start; all-day series: by day. */
static int series_exclude(struct ctx *x, struct series *s, const struct ptime *p)
{
	long long u;
	long d;

	if (s->is_date || p->is_date) {
		if (ptime_day(x, p, &d) != 0)
			return 0;
		return ll_push(&s->ex_day, &s->nex_day, d);
	}
	if (wall_to_utc(&p->z, p->t, &u) != 0)
		return 0;
	return ll_push(&s->ex_utc, &s->nex_utc, u);
}

/* The key of an instance named by p: its UTC start (timed) or its day (all-day). */
static int series_key(struct ctx *x, const struct series *s, const struct ptime *p, long long *key)
{
	long d;

	if (s->is_date) {
		if (ptime_day(x, p, &d) != 0)
			return -1;
		*key = d;
		return 0;
	}
	if (p->is_date)
		return -1;
	return wall_to_utc(&p->z, p->t, key);
}

static void series_free(struct series *s)
{
	free(s->ex_utc);
	free(s->ex_day);
	free(s->fut);
}

/* Exclusions and THISANDFUTURE shifts of master m from its EXDATEs and the group's overrides. */
static int series_build(struct ctx *x, const struct ev *m, struct ev *const *ovs, size_t nov,
			struct series *s)
{
	icalproperty *p;
	size_t i;
	int have;

	memset(s, 0, sizeof(*s));
	s->m = m;
	s->is_date = m->start.is_date;
	s->len = ev_len(x, m, &have);
	for (p = icalcomponent_get_first_property(m->c, ICAL_EXDATE_PROPERTY); p;
	     p = icalcomponent_get_next_property(m->c, ICAL_EXDATE_PROPERTY)) {
		struct ptime pt;

		if (x->budget-- <= 0)
			break;
		if (prop_ptime(x, m->c, p, icalproperty_get_exdate(p), &m->start.z, &pt) != 0)
			continue;
		if (series_exclude(x, s, &pt) != 0)
			return -1;
	}
	for (i = 0; i < nov; i++) {
		const struct ev *o = ovs[i];
		struct ptime rid = o->rid;
		struct future *nf;
		long long key, ostart, len, shift;
		int ohave;

		/* a floating RECURRENCE-ID is in the master's zone */
		if (rid.floating)
			rid.z = m->start.z;
		if (series_exclude(x, s, &rid) != 0)
			return -1;
		if (!o->rid_future || o->start.is_date != s->is_date || series_key(x, s, &rid, &key) != 0)
			continue;
		if (s->is_date) {
			ostart = t_day(&o->start.t);
		} else if (wall_to_utc(&o->start.z, o->start.t, &ostart) != 0) {
			continue;
		}
		len = ev_len(x, o, &ohave);
		nf = realloc(s->fut, (s->nfut + 1) * sizeof(*nf));
		if (!nf)
			return -1;
		s->fut = nf;
		nf[s->nfut].key = key;
		nf[s->nfut].delta = ostart - key;
		nf[s->nfut].len = ohave ? len : s->len;
		nf[s->nfut].busy = o->busy;
		shift = nf[s->nfut].delta < 0 ? -nf[s->nfut].delta : nf[s->nfut].delta;
		if (s->is_date)
			shift *= 86400;
		if (shift > s->max_shift)
			s->max_shift = shift;
		s->nfut++;
	}
	if (s->nex_utc)
		qsort(s->ex_utc, s->nex_utc, sizeof(long long), ll_cmp);
	if (s->nex_day)
		qsort(s->ex_day, s->nex_day, sizeof(long long), ll_cmp);
	if (s->nfut)
		qsort(s->fut, s->nfut, sizeof(*s->fut), fut_cmp);
	return 0;
}

/* One candidate occurrence (from the rule, an RDATE or DTSTART): drop it when excluded, shift
 * it after a THISANDFUTURE override, emit its busy time. len_override >= 0: an RDATE PERIOD. */
static void series_instance(struct ctx *x, const struct series *s, const struct ptime *p,
			    long long len_override)
{
	long long key, start, len = len_override >= 0 ? len_override : s->len;
	long day;
	int busy = s->m->busy;
	size_t lo, hi;

	if (series_key(x, s, p, &key) != 0)
		return;
	if (s->is_date) {
		if (ll_has(s->ex_day, s->nex_day, key))
			return;
	} else {
		if (ll_has(s->ex_utc, s->nex_utc, key))
			return;
		if (s->nex_day && ptime_day(x, p, &day) == 0 && ll_has(s->ex_day, s->nex_day, day))
			return;
	}
	start = key;
	/* the last THISANDFUTURE override at or before this instance */
	lo = 0, hi = s->nfut;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->fut[mid].key <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0) {
		const struct future *f = &s->fut[lo - 1];

		start = key + f->delta;
		len = f->len;
		busy = f->busy;
	}
	emit(x, s->is_date, start, len, busy);
}

/* UNTIL, checked by us in absolute time (libical would compare a zoned wall clock with UTC). */
static int past_until(struct ctx *x, const struct series *s, const struct icaltimetype *until,
		      const struct ptime *inst)
{
	long long iu, uu;
	struct icaltimetype u = *until;

	if (u.is_date)
		return t_day(&inst->t) > t_day(&u);
	if (icaltime_is_utc(u)) {
		u.zone = NULL;
		if (wall_to_utc(&s->m->start.z, inst->t, &iu) != 0)
			return 0;
		if (s->is_date && day_start(x, t_day(&inst->t), &iu) != 0)
			return 0;
		uu = fields_utc(u.year, u.month, u.day, u.hour, u.minute, u.second);
		return iu > uu;
	}
	/* floating UNTIL: the same wall clock as DTSTART */
	return fields_utc(inst->t.year, inst->t.month, inst->t.day, inst->t.is_date ? 0 : inst->t.hour,
			  inst->t.is_date ? 0 : inst->t.minute, inst->t.is_date ? 0 : inst->t.second) >
	       fields_utc(u.year, u.month, u.day, u.hour, u.minute, u.second);
}

static void series_expand(struct ctx *x, const struct ev *m, struct ev *const *ovs, size_t nov)
{
	struct series s;
	icalproperty *p;
	int rule_ok = 0;
	long long stop;

	if (series_build(x, m, ovs, nov, &s) != 0) {
		x->nomem = 1;
		series_free(&s);
		return;
	}
	/* rule occurrences start before this (UTC) can still matter */
	stop = (long long)x->to + s.max_shift + 2 * 86400;
	p = icalcomponent_get_first_property(m->c, ICAL_RRULE_PROPERTY);
	if (p) {
		struct icalrecurrencetype rule = icalproperty_get_rrule(p);
		struct icaltimetype until = rule.until, next;
		icalrecur_iterator *it;

		rule.until = icaltime_null_time();
		if (!icaltime_is_null_time(until) && !time_fields_ok(&until))
			until = icaltime_null_time();
		it = rule.freq == ICAL_NO_RECURRENCE ? NULL : icalrecur_iterator_new(rule, m->start.t);
		if (!it) {
			log_warn("icsbusy: VEVENT %.80s: RRULE not usable, DTSTART only",
				 m->uid ? m->uid : "(no UID)");
		} else {
			rule_ok = 1;
			for (next = icalrecur_iterator_next(it); !icaltime_is_null_time(next);
			     next = icalrecur_iterator_next(it)) {
				struct ptime inst = m->start;
				long long u;

				if (x->budget-- <= 0) {
					x->cut_iter = 1;
					break;
				}
				if (!time_fields_ok(&next))
					break;
				inst.t = next;
				inst.t.zone = NULL;
				inst.t.is_date = m->start.is_date;
				if (!icaltime_is_null_time(until) && past_until(x, &s, &until, &inst))
					break;
				if (s.is_date) {
					if (day_start(x, t_day(&inst.t), &u) != 0)
						break;
				} else if (wall_to_utc(&inst.z, inst.t, &u) != 0) {
					continue;
				}
				if (u >= stop)
					break;
				series_instance(x, &s, &inst, -1);
				if (x->cut_raw || x->nomem)
					break;
			}
			icalrecur_iterator_free(it);
		}
	}
	if (!rule_ok)
		series_instance(x, &s, &m->start, -1);
	for (p = icalcomponent_get_first_property(m->c, ICAL_RDATE_PROPERTY); p;
	     p = icalcomponent_get_next_property(m->c, ICAL_RDATE_PROPERTY)) {
		struct icaldatetimeperiodtype rd = icalproperty_get_rdate(p);
		struct ptime pt;
		long long len = -1;

		if (x->budget-- <= 0) {
			x->cut_iter = 1;
			break;
		}
		if (!icaltime_is_null_time(rd.time)) {
			if (prop_ptime(x, m->c, p, rd.time, &m->start.z, &pt) != 0)
				continue;
		} else {
			struct ptime pe;
			long long a, b;

			if (prop_ptime(x, m->c, p, rd.period.start, &m->start.z, &pt) != 0 || pt.is_date)
				continue;
			if (!icaltime_is_null_time(rd.period.end)) {
				if (prop_ptime(x, m->c, p, rd.period.end, &m->start.z, &pe) != 0 ||
				    wall_to_utc(&pt.z, pt.t, &a) != 0 || wall_to_utc(&pe.z, pe.t, &b) != 0)
					continue;
				len = b - a;
			} else {
				len = icaldurationtype_as_int(rd.period.duration);
			}
			if (s.is_date)
				len = len <= 0 ? 0 : (len + 86399) / 86400;
			if (len < 0)
				len = 0;
		}
		/* an RDATE of the other value type: its day (all-day series) or its midnight */
		if (s.is_date && !pt.is_date) {
			long d;
			struct civil c;

			if (ptime_day(x, &pt, &d) != 0)
				continue;
			civil_from_days(d, &c);
			pt.is_date = 1;
			pt.t.is_date = 1;
			pt.t.year = c.year, pt.t.month = c.month, pt.t.day = c.day;
		} else if (!s.is_date && pt.is_date) {
			pt.is_date = 0;
			pt.t.is_date = 0;
			pt.z = m->start.z;
		}
		series_instance(x, &s, &pt, len);
	}
	series_free(&s);
}

/* An override on its own: its DTSTART and length (the master's when it has none). */
static void override_emit(struct ctx *x, const struct ev *o, const struct ev *m)
{
	long long len, s;
	int have;

	len = ev_len(x, o, &have);
	if (!have && m) {
		int mh;

		if (m->start.is_date == o->start.is_date)
			len = ev_len(x, m, &mh);
	}
	if (len <= 0 && have)
		log_info("icsbusy: override of %.80s ends before it starts: not busy", o->uid ? o->uid : "?");
	if (o->start.is_date) {
		emit(x, 1, t_day(&o->start.t), len, o->busy);
	} else if (wall_to_utc(&o->start.z, o->start.t, &s) == 0) {
		emit(x, 0, s, len, o->busy);
	}
}

/* ------------------------------------------------------------------ the object */

static int ev_cmp(const void *a, const void *b)
{
	const struct ev *p = *(const struct ev *const *)a, *q = *(const struct ev *const *)b;
	int r;

	if (!p->uid || !q->uid) {
		if (p->uid != q->uid)
			return p->uid ? -1 : 1;
	} else if ((r = strcmp(p->uid, q->uid)) != 0) {
		return r;
	}
	if (p->has_rid != q->has_rid)
		return p->has_rid - q->has_rid;
	return p->order < q->order ? -1 : p->order > q->order;
}

static int collect(icalcomponent *c, icalcomponent ***arr, size_t *n, size_t *cap)
{
	icalcomponent **na;

	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;

		na = realloc(*arr, nc * sizeof(*na));
		if (!na)
			return -1;
		*arr = na, *cap = nc;
	}
	(*arr)[(*n)++] = c;
	return 0;
}

/* The VEVENTs of root (VEVENT, VCALENDAR, or libical's XROOT around several of them).
 * Returns 0, -1 (out of memory), 1 (not a calendar object). */
static int root_events(icalcomponent *root, icalcomponent ***arr, size_t *n)
{
	icalcomponent_kind k = icalcomponent_isa(root);
	icalcomponent *c, *e;
	size_t cap = 0;
	int cal = 0;

	if (k == ICAL_VEVENT_COMPONENT)
		return collect(root, arr, n, &cap);
	if (k == ICAL_VCALENDAR_COMPONENT) {
		for (c = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT); c;
		     c = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT))
			if (collect(c, arr, n, &cap) != 0)
				return -1;
		return 0;
	}
	if (k != ICAL_XROOT_COMPONENT)
		return 1;
	for (c = icalcomponent_get_first_component(root, ICAL_ANY_COMPONENT); c;
	     c = icalcomponent_get_next_component(root, ICAL_ANY_COMPONENT)) {
		k = icalcomponent_isa(c);
		if (k == ICAL_VEVENT_COMPONENT) {
			cal = 1;
			if (collect(c, arr, n, &cap) != 0)
				return -1;
		} else if (k == ICAL_VCALENDAR_COMPONENT) {
			cal = 1;
			for (e = icalcomponent_get_first_component(c, ICAL_VEVENT_COMPONENT); e;
			     e = icalcomponent_get_next_component(c, ICAL_VEVENT_COMPONENT))
				if (collect(e, arr, n, &cap) != 0)
					return -1;
		} else if (k == ICAL_VTIMEZONE_COMPONENT) {
			cal = 1;   /* a VTIMEZONE next to a VEVENT (leading junk before BEGIN:VCALENDAR) */
		}
	}
	return cal ? 0 : 1;
}

long icsbusy_parse(const char *data, size_t len, const char *tz, time_t from, time_t to,
		   struct interval **out, char *uid_out, size_t uid_len, char *err, size_t errlen)
{
	struct ctx x;
	char *copy = NULL;
	const char *s;
	icalcomponent *root = NULL, **comps = NULL;
	struct ev *evs = NULL, **sorted = NULL;
	size_t ncomp = 0, i, j, nok = 0, n;
	long ret = -1;
	int r;

	memset(&x, 0, sizeof(x));
	if (out)
		*out = NULL;
	if (uid_out && uid_len)
		uid_out[0] = '\0';
	if (!data || !out || !tz) {
		err_set(err, errlen, "invalid arguments");
		return -1;
	}
	if (len > ICSBUSY_MAX_INPUT) {
		err_set(err, errlen, "calendar object too large (%zu bytes, limit %d)", len, ICSBUSY_MAX_INPUT);
		return -1;
	}
	if (from >= to) {
		err_set(err, errlen, "empty time window");
		return -1;
	}
	if (!tz_valid(tz)) {
		err_set(err, errlen, "unknown time zone %.64s", tz);
		return -1;
	}
	pthread_once(&ical_once, ical_setup);
	x.tz = tz;
	x.from = from, x.to = to;
	x.local.kind = Z_IANA, x.local.iana = tz;
	x.budget = ICSBUSY_MAX_ITER;

	s = data;
	if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3, len -= 3;
	copy = malloc(len + 1);
	if (!copy) {
		err_set(err, errlen, "out of memory");
		goto out;
	}
	memcpy(copy, s, len);
	copy[len] = '\0';
	if (memchr(copy, '\0', len)) {
		err_set(err, errlen, "NUL byte in calendar data");
		goto out;
	}
	root = icalparser_parse_string(copy);
	if (!root) {
		err_set(err, errlen, "not iCalendar data (libical could not parse it)");
		goto out;
	}
	r = root_events(root, &comps, &ncomp);
	if (r < 0) {
		err_set(err, errlen, "out of memory");
		goto out;
	}
	if (r > 0) {
		err_set(err, errlen, "not a VCALENDAR or VEVENT (%s)",
			icalcomponent_kind_to_string(icalcomponent_isa(root)));
		goto out;
	}
	if (ncomp) {
		evs = calloc(ncomp, sizeof(*evs));
		sorted = calloc(ncomp, sizeof(*sorted));
		if (!evs || !sorted) {
			err_set(err, errlen, "out of memory");
			goto out;
		}
	}
	for (i = 0; i < ncomp; i++) {
		ev_read(&x, comps[i], i, &evs[i]);
		if (evs[i].ok)
			sorted[nok++] = &evs[i];
	}
	/* uid_out: the first master's UID, else the first VEVENT's */
	if (uid_out && uid_len) {
		const char *uid = NULL;

		for (i = 0; i < ncomp && !uid; i++)
			if (!evs[i].has_rid && evs[i].uid)
				uid = evs[i].uid;
		for (i = 0; i < ncomp && !uid; i++)
			if (evs[i].uid)
				uid = evs[i].uid;
		if (uid)
			str_copy(uid_out, uid, uid_len);
	}
	if (ncomp && !nok) {
		err_set(err, errlen, "no usable VEVENT (%zu malformed)", ncomp);
		goto out;
	}
	if (nok > 1)
		qsort(sorted, nok, sizeof(*sorted), ev_cmp);
	for (i = 0; i < nok; i = j) {
		size_t nm = 0, k;

		/* a group: one UID (events without UID stand alone); masters sort first */
		for (j = i + 1; j < nok && sorted[i]->uid && sorted[j]->uid &&
				strcmp(sorted[i]->uid, sorted[j]->uid) == 0; j++)
			;
		while (i + nm < j && !sorted[i + nm]->has_rid)
			nm++;
		for (k = i; k < i + nm; k++)
			series_expand(&x, sorted[k], sorted + i + nm, j - i - nm);
		for (k = i + nm; k < j; k++)
			override_emit(&x, sorted[k], nm ? sorted[i] : NULL);
		if (x.nomem)
			break;
	}
	if (x.nomem) {
		err_set(err, errlen, "out of memory");
		goto out;
	}
	if (x.cut_iter)
		log_warn("icsbusy: recurrence expansion stopped after %d steps", ICSBUSY_MAX_ITER);
	if (x.cut_raw)
		log_warn("icsbusy: more than %d busy intervals, later ones dropped", ICSBUSY_MAX_RAW);
	n = merge_intervals(x.iv, x.niv);
	if (n > ICSBUSY_MAX_INTERVALS) {
		log_warn("icsbusy: %zu busy intervals, keeping the first %d", n, ICSBUSY_MAX_INTERVALS);
		n = ICSBUSY_MAX_INTERVALS;
	}
	if (n == 0) {
		free(x.iv);
		x.iv = NULL;
	}
	*out = x.iv;
	x.iv = NULL;
	ret = (long)n;
out:
	free(x.iv);
	free(sorted);
	free(evs);
	free(comps);
	if (root)
		icalcomponent_free(root);
	free(copy);
	return ret;
}
