/* tztime.c: civil dates, and local time in an IANA zone <-> UTC from the system's TZif files, DST exact. */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tztime.h"
#include "util.h"

/*
 * Why a TZif reader of our own (RFC 8536) instead of TZ switching or libical:
 * - setenv("TZ")/tzset()/mktime() change process-wide state (unsafe as soon as a thread or a
 *   signal handler looks at the time), and glibc re-reads the zone file on every switch, twice per
 *   conversion; mktime() also silently normalises a time in a DST gap, which we must detect.
 * - libical's builtin zones convert through VTIMEZONE rules it builds itself and resolves gaps and
 *   repeated hours by its own conventions.
 * Reading /usr/share/zoneinfo (Debian's tzdata) directly gives exact answers by construction: a
 * local time L exists at every instant t with t + offset(t) = L, and offset(t) can only be one of
 * the zone's few offsets, so trying each of them finds every occurrence (none: a gap; two: the
 * repeated hour, and we take the earlier). Times after the last transition of the file follow its
 * POSIX TZ footer ("CET-1CEST,M3.5.0,M10.5.0/3"). Parsed zones are cached for the life of the
 * process (a tzdata update takes effect at the next restart), under a mutex.
 */

#define TZ_NAME_MAX   63
#define TZ_FILE_MAX   (256 * 1024)
#define TZ_CACHE_MAX  16
#define TZ_OFF_LIMIT  (26 * 3600)

struct tz_rule {
	char kind;        /* 'J' (1..365, no Feb 29), 'N' (0..365), 'M' (month.week.day) */
	int n, m, w, d;
	long secs;        /* local time of day of the change, may be < 0 or > 24 h */
};

struct tz_zone {
	char name[TZ_NAME_MAX + 1];
	size_t ntrans;
	int64_t *trans;           /* ascending UTC instants */
	unsigned char *tidx;      /* type after each transition */
	size_t ntypes;
	long utoff[256];
	int footer;               /* 0 none, 1 fixed offset, 2 with DST rules */
	long std_off, dst_off;    /* seconds east of UTC */
	struct tz_rule start, end;
	long offs[258];           /* the distinct offsets the zone can have */
	size_t noffs;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tz_zone *cache[TZ_CACHE_MAX];
static size_t ncache;

/* ------------------------------------------------------------------ civil calendar */

static long floor_div(long long a, long b)
{
	long long q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return (long)q;
}

static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int civil_days_in_month(int year, int month)
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (month < 1 || month > 12)
		return 0;
	return month == 2 && is_leap(year) ? 29 : d[month - 1];
}

int civil_date_valid(int year, int month, int day)
{
	return year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 &&
	       day <= civil_days_in_month(year, month);
}

/* Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian). */
long civil_to_days(int year, int month, int day)
{
	long y = (long)year - (month <= 2);
	long era = floor_div(y, 400);
	long yoe = y - era * 400;
	long mp = (month + 9) % 12;
	long doy = (153 * mp + 2) / 5 + day - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void civil_from_days(long days, struct civil *out)
{
	long z = days + 719468;
	long era = floor_div(z, 146097);
	long doe = z - era * 146097;
	long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long mp = (5 * doy + 2) / 153;
	long d = doy - (153 * mp + 2) / 5 + 1;
	long m = mp < 10 ? mp + 3 : mp - 9;

	out->year = (int)(yoe + era * 400 + (m <= 2));
	out->month = (int)m;
	out->day = (int)d;
	out->hour = 0;
	out->minute = 0;
}

void civil_add_days(struct civil *c, int days)
{
	int h = c->hour, mi = c->minute;

	civil_from_days(civil_to_days(c->year, c->month, c->day) + days, c);
	c->hour = h;
	c->minute = mi;
}

int civil_weekday(const struct civil *c)
{
	long days = civil_to_days(c->year, c->month, c->day);
	/* 1970-01-01 was a Thursday (4) */
	return (int)(((days + 3) % 7 + 7) % 7) + 1;
}

/* Exactly n decimal digits at s into *out. */
static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int parse_date_part(const char *s, struct civil *c)
{
	if (digits(s, 4, &c->year) < 0 || s[4] != '-' || digits(s + 5, 2, &c->month) < 0 ||
	    s[7] != '-' || digits(s + 8, 2, &c->day) < 0)
		return -1;
	return civil_date_valid(c->year, c->month, c->day) ? 0 : -1;
}

static int parse_time_part(const char *s, struct civil *c)
{
	if (digits(s, 2, &c->hour) < 0 || s[2] != ':' || digits(s + 3, 2, &c->minute) < 0)
		return -1;
	return c->hour <= 23 && c->minute <= 59 ? 0 : -1;
}

int civil_parse_date(const char *s, struct civil *out)
{
	struct civil c = { 0 };

	if (!s || strlen(s) != 10 || parse_date_part(s, &c) < 0)
		return -1;
	*out = c;
	return 0;
}

int civil_parse_datetime(const char *s, struct civil *out)
{
	struct civil c = { 0 };

	if (!s || strlen(s) != 16 || parse_date_part(s, &c) < 0 || s[10] != 'T' ||
	    parse_time_part(s + 11, &c) < 0)
		return -1;
	*out = c;
	return 0;
}

/* The formatters print into a buffer wide enough for any int, then copy the (normally exact) result. */
void civil_format_date(const struct civil *c, char out[11])
{
	char tmp[48];

	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d", c->year, c->month, c->day);
	str_copy(out, tmp, 11);
}

void tz_format_hm(const char *tz, time_t t, char out[6])
{
	struct civil c;

	if (tz_utc_to_local(tz, t, &c) < 0) {
		str_copy(out, "--:--", 6);
		return;
	}
	out[0] = (char)('0' + (unsigned)c.hour % 24 / 10);
	out[1] = (char)('0' + (unsigned)c.hour % 24 % 10);
	out[2] = ':';
	out[3] = (char)('0' + (unsigned)c.minute % 60 / 10);
	out[4] = (char)('0' + (unsigned)c.minute % 60 % 10);
	out[5] = '\0';
}

void tz_format_iso_local(const char *tz, time_t t, char out[17])
{
	struct civil c;

	if (tz_utc_to_local(tz, t, &c) < 0) {
		out[0] = '\0';
		return;
	}
	snprintf(out, 17, "%04u-%02u-%02uT%02u:%02u", (unsigned)c.year % 10000u,
		 (unsigned)c.month % 100u, (unsigned)c.day % 100u, (unsigned)c.hour % 100u,
		 (unsigned)c.minute % 100u);
}

static void utc_split(time_t t, struct civil *c, int *sec)
{
	long days = floor_div((long long)t, 86400);
	long rest = (long)((long long)t - (long long)days * 86400);

	civil_from_days(days, c);
	c->hour = (int)(rest / 3600);
	c->minute = (int)(rest / 60 % 60);
	*sec = (int)(rest % 60);
}

void utc_format_iso(time_t t, char out[21])
{
	struct civil c;
	char tmp[96];
	int s;


	utc_split(t, &c, &s);
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day, c.hour,
		 c.minute, s);
	str_copy(out, tmp, 21);
}

void utc_format_sql(time_t t, char out[20])
{
	struct civil c;
	char tmp[96];
	int s;


	utc_split(t, &c, &s);
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d %02d:%02d:%02d", c.year, c.month, c.day, c.hour,
		 c.minute, s);
	str_copy(out, tmp, 20);
}

/* "YYYY-MM-DD HH:MM:SS", optionally followed by ".f" .. ".ffffff" (ignored), as MariaDB prints it. */
int utc_parse_sql(const char *s, time_t *out)
{
	struct civil c = { 0 };
	size_t len;
	int sec;

	if (!s)
		return -1;
	len = strlen(s);
	if (len < 19 || parse_date_part(s, &c) < 0 || s[10] != ' ' || parse_time_part(s + 11, &c) < 0 ||
	    s[16] != ':' || digits(s + 17, 2, &sec) < 0 || sec > 59)
		return -1;
	if (len > 19) {
		if (s[19] != '.' || len == 20 || len > 26)
			return -1;
		for (size_t i = 20; i < len; i++)
			if (s[i] < '0' || s[i] > '9')
				return -1;
	}
	*out = (time_t)((long long)civil_to_days(c.year, c.month, c.day) * 86400 + c.hour * 3600 +
			c.minute * 60 + sec);
	return 0;
}

/* ------------------------------------------------------------------ TZif reading */

static int name_ok(const char *tz)
{
	size_t len;

	if (!tz)
		return 0;
	len = strlen(tz);
	/* letters, digits, '/', '_', '+', '-'; no '.', so no ".." and no hidden files */
	if (len == 0 || len > TZ_NAME_MAX || tz[0] == '/' || tz[0] == '-' || tz[len - 1] == '/' ||
	    strstr(tz, "//"))
		return 0;
	return str_only_chars(tz, TZ_NAME_MAX,
			      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-");
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* POSIX TZ string pieces. Each returns the position after what it read, or NULL. */
static const char *tzs_name(const char *s)
{
	const char *p = s;

	if (*p == '<') {
		while (*++p && *p != '>')
			;
		if (*p != '>' || p - s < 4)
			return NULL;
		return p + 1;
	}
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
		p++;
	return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] with hh <= maxh, into seconds (sign applied as written). */
static const char *tzs_time(const char *s, int maxh, long *out)
{
	long sign = 1, v[3] = { 0, 0, 0 };
	int part = 0;

	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	for (;;) {
		int nd = 0;
		while (*s >= '0' && *s <= '9' && nd < 3) {
			v[part] = v[part] * 10 + (*s++ - '0');
			nd++;
		}
		if (nd == 0 || (part > 0 && (nd != 2 || v[part] > 59)))
			return NULL;
		if (part == 2 || *s != ':')
			break;
		s++;
		part++;
	}
	if (v[0] > maxh)
		return NULL;
	*out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
	return s;
}

static const char *tzs_num(const char *s, int min, int max, int *out)
{
	int v = 0, nd = 0;

	while (*s >= '0' && *s <= '9' && nd < 4) {
		v = v * 10 + (*s++ - '0');
		nd++;
	}
	if (nd == 0 || v < min || v > max)
		return NULL;
	*out = v;
	return s;
}

static const char *tzs_rule(const char *s, struct tz_rule *r)
{
	r->secs = 7200;
	if (*s == 'M') {
		r->kind = 'M';
		if (!(s = tzs_num(s + 1, 1, 12, &r->m)) || *s != '.' ||
		    !(s = tzs_num(s + 1, 1, 5, &r->w)) || *s != '.' ||
		    !(s = tzs_num(s + 1, 0, 6, &r->d)))
			return NULL;
	} else if (*s == 'J') {
		r->kind = 'J';
		if (!(s = tzs_num(s + 1, 1, 365, &r->n)))
			return NULL;
	} else {
		r->kind = 'N';
		if (!(s = tzs_num(s, 0, 365, &r->n)))
			return NULL;
	}
	if (*s == '/' && !(s = tzs_time(s + 1, 167, &r->secs)))
		return NULL;
	return s;
}

/* Parse the footer (without its newlines). Returns 0 or -1. */
static int tzs_parse(const char *s, struct tz_zone *z)
{
	long off;

	if (*s == '\0') {
		z->footer = 0;
		return 0;
	}
	if (!(s = tzs_name(s)) || !(s = tzs_time(s, 24, &off)))
		return -1;
	z->std_off = -off;   /* POSIX offsets count west of UTC */
	if (*s == '\0') {
		z->footer = 1;
		return 0;
	}
	if (!(s = tzs_name(s)))
		return -1;
	z->dst_off = z->std_off + 3600;
	if (*s != ',' && *s != '\0') {
		if (!(s = tzs_time(s, 24, &off)))
			return -1;
		z->dst_off = -off;
	}
	/* a DST name without rules would mean POSIX's implementation-defined default: refuse */
	if (*s != ',' || !(s = tzs_rule(s + 1, &z->start)) || *s != ',' ||
	    !(s = tzs_rule(s + 1, &z->end)) || *s != '\0')
		return -1;
	z->footer = 2;
	return 0;
}

static void zone_free(struct tz_zone *z)
{
	if (!z)
		return;
	free(z->trans);
	free(z->tidx);
	free(z);
}

static void add_off(struct tz_zone *z, long off)
{
	for (size_t i = 0; i < z->noffs; i++)
		if (z->offs[i] == off)
			return;
	if (z->noffs < TF_ARRAY_LEN(z->offs))
		z->offs[z->noffs++] = off;
}

/* Read and check one TZif file. NULL when it is missing, not a regular file or malformed. */
static struct tz_zone *zone_load(const char *name)
{
	const char *dir = getenv("TZDIR");
	char path[512];
	struct stat st;
	struct buf b = { 0 };
	struct tz_zone *z = NULL;
	const unsigned char *p, *end;
	uint32_t isut, isstd, leap, timecnt, typecnt, charcnt;
	int v2;
	int n;

	if (!dir || dir[0] != '/')
		dir = "/usr/share/zoneinfo";
	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return NULL;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > TZ_FILE_MAX)
		return NULL;
	if (file_read_all(path, TZ_FILE_MAX, &b) != TF_OK)
		return NULL;
	p = (const unsigned char *)b.data;
	end = p + b.len;
	if (b.len < 44 || memcmp(p, "TZif", 4) != 0)
		goto bad;
	v2 = p[4] >= '2';
	for (int pass = 0; pass < 2; pass++) {
		size_t tsize = pass ? 8 : 4, need;
		if ((size_t)(end - p) < 44 || memcmp(p, "TZif", 4) != 0)
			goto bad;
		isut = be32(p + 20);
		isstd = be32(p + 24);
		leap = be32(p + 28);
		timecnt = be32(p + 32);
		typecnt = be32(p + 36);
		charcnt = be32(p + 40);
		p += 44;
		if (typecnt == 0 || typecnt > 256 || timecnt > 100000 || charcnt > 100000 ||
		    leap > 100000 || isut > typecnt || isstd > typecnt)
			goto bad;
		need = timecnt * tsize + timecnt + typecnt * 6 + charcnt + leap * (tsize + 4) + isstd + isut;
		if ((size_t)(end - p) < need)
			goto bad;
		if (pass == 0 && v2) {   /* skip the 32-bit data, read the 64-bit block */
			p += need;
			continue;
		}
		if (leap != 0)   /* "right/" zones count leap seconds: not for civil time */
			goto bad;
		z = calloc(1, sizeof(*z));
		if (!z)
			goto bad;
		str_copy(z->name, name, sizeof(z->name));
		z->ntrans = timecnt;
		z->trans = calloc(timecnt ? timecnt : 1, sizeof(*z->trans));
		z->tidx = calloc(timecnt ? timecnt : 1, 1);
		if (!z->trans || !z->tidx)
			goto bad;
		for (uint32_t i = 0; i < timecnt; i++) {
			z->trans[i] = tsize == 8 ? be64(p + i * 8) : (int32_t)be32(p + i * 4);
			if (i > 0 && z->trans[i] <= z->trans[i - 1])
				goto bad;
		}
		p += timecnt * tsize;
		for (uint32_t i = 0; i < timecnt; i++) {
			if (p[i] >= typecnt)
				goto bad;
			z->tidx[i] = p[i];
		}
		p += timecnt;
		z->ntypes = typecnt;
		for (uint32_t i = 0; i < typecnt; i++) {
			long off = (int32_t)be32(p + i * 6);
			if (off < -TZ_OFF_LIMIT || off > TZ_OFF_LIMIT || p[i * 6 + 4] > 1)
				goto bad;
			z->utoff[i] = off;
			add_off(z, off);
		}
		p += typecnt * 6 + charcnt + isstd + isut;
		if (!v2)
			break;
		/* footer: "\n" TZ string "\n" */
		{
			char footer[128];
			const unsigned char *nl;
			size_t flen;
			if (p >= end || *p != '\n')
				goto bad;
			nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
			if (!nl || (flen = (size_t)(nl - p - 1)) >= sizeof(footer))
				goto bad;
			memcpy(footer, p + 1, flen);
			footer[flen] = '\0';
			if (tzs_parse(footer, z) < 0)
				goto bad;
			if (z->footer >= 1) {
				if (z->std_off < -TZ_OFF_LIMIT || z->std_off > TZ_OFF_LIMIT)
					goto bad;
				add_off(z, z->std_off);
			}
			if (z->footer == 2) {
				if (z->dst_off < -TZ_OFF_LIMIT || z->dst_off > TZ_OFF_LIMIT)
					goto bad;
				add_off(z, z->dst_off);
			}
		}
		break;
	}
	buf_free(&b);
	return z;
bad:
	buf_free(&b);
	zone_free(z);
	return NULL;
}

/* The zone named tz: from the cache, else loaded (and cached while there is room; *owned = 1 when
 * the caller must zone_free it). NULL when unknown. */
static struct tz_zone *zone_get(const char *tz, int *owned)
{
	struct tz_zone *z = NULL;

	*owned = 0;
	if (!name_ok(tz))
		return NULL;
	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < ncache; i++) {
		if (strcmp(cache[i]->name, tz) == 0) {
			z = cache[i];
			break;
		}
	}
	pthread_mutex_unlock(&cache_lock);
	if (z)
		return z;
	z = zone_load(tz);
	if (!z)
		return NULL;
	pthread_mutex_lock(&cache_lock);
	if (ncache < TZ_CACHE_MAX) {
		for (size_t i = 0; i < ncache; i++) {   /* another thread was quicker */
			if (strcmp(cache[i]->name, tz) == 0) {
				zone_free(z);
				z = cache[i];
				goto unlock;
			}
		}
		cache[ncache++] = z;
	} else {
		*owned = 1;
	}
unlock:
	pthread_mutex_unlock(&cache_lock);
	return z;
}

/* Day (days since the epoch) on which a footer rule takes effect in year. */
static long rule_day(int year, const struct tz_rule *r)
{
	long jan1 = civil_to_days(year, 1, 1);

	if (r->kind == 'J')
		return jan1 + r->n - 1 + (is_leap(year) && r->n >= 60);
	if (r->kind == 'N')
		return jan1 + r->n;
	struct civil first = { .year = year, .month = r->m, .day = 1 };
	int wd = civil_weekday(&first) % 7;   /* 0 = Sunday, like POSIX */
	int day = 1 + (r->d - wd + 7) % 7 + (r->w - 1) * 7;
	while (day > civil_days_in_month(year, r->m))
		day -= 7;
	return civil_to_days(year, r->m, day);
}

static long footer_offset(const struct tz_zone *z, long long t)
{
	struct civil c;
	long long start, endt;

	if (z->footer == 1)
		return z->std_off;
	civil_from_days(floor_div(t + z->std_off, 86400), &c);
	start = (long long)rule_day(c.year, &z->start) * 86400 + z->start.secs - z->std_off;
	endt = (long long)rule_day(c.year, &z->end) * 86400 + z->end.secs - z->dst_off;
	if (start < endt)
		return t >= start && t < endt ? z->dst_off : z->std_off;
	return t >= endt && t < start ? z->std_off : z->dst_off;
}

/* Seconds east of UTC in zone z at instant t. */
static long zone_offset(const struct tz_zone *z, long long t)
{
	size_t lo, hi;

	if (z->ntrans == 0)
		return z->footer ? footer_offset(z, t) : z->utoff[0];
	if (t < z->trans[0])
		return z->utoff[0];
	if (t >= z->trans[z->ntrans - 1] && z->footer)
		return footer_offset(z, t);
	/* last transition <= t */
	lo = 0;
	hi = z->ntrans;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->utoff[z->tidx[lo]];
}

int tz_valid(const char *tz)
{
	int owned;
	struct tz_zone *z = zone_get(tz, &owned);

	if (!z)
		return 0;
	if (owned)
		zone_free(z);
	return 1;
}

/* Keep the arithmetic far from time_t's ends: years 1..9999. */
#define TZ_T_MIN (-62135596800LL)   /* 0001-01-01T00:00:00Z */
#define TZ_T_MAX (253402300799LL)   /* 9999-12-31T23:59:59Z */

int tz_local_to_utc(const char *tz, const struct civil *local, time_t *out)
{
	int owned, found = 0;
	struct tz_zone *z;
	long long l, best = 0;

	if (!local || !civil_date_valid(local->year, local->month, local->day) || local->hour < 0 ||
	    local->hour > 23 || local->minute < 0 || local->minute > 59)
		return -1;
	z = zone_get(tz, &owned);
	if (!z)
		return -1;
	l = (long long)civil_to_days(local->year, local->month, local->day) * 86400 +
	    local->hour * 3600 + local->minute * 60;
	for (size_t i = 0; i < z->noffs; i++) {
		long long t = l - z->offs[i];
		if (zone_offset(z, t) == z->offs[i] && (!found || t < best)) {
			best = t;
			found = 1;
		}
	}
	if (owned)
		zone_free(z);
	if (!found || best < TZ_T_MIN || best > TZ_T_MAX)
		return -1;
	*out = (time_t)best;
	return 0;
}

int tz_utc_to_local(const char *tz, time_t t, struct civil *out)
{
	int owned, sec;
	struct tz_zone *z;
	long long l;

	if ((long long)t < TZ_T_MIN + TZ_OFF_LIMIT || (long long)t > TZ_T_MAX - TZ_OFF_LIMIT)
		return -1;
	z = zone_get(tz, &owned);
	if (!z)
		return -1;
	l = (long long)t + zone_offset(z, (long long)t);
	if (owned)
		zone_free(z);
	utc_split((time_t)l, out, &sec);
	return 0;
}

int tz_today(const char *tz, time_t now, struct civil *out)
{
	if (tz_utc_to_local(tz, now, out) < 0)
		return -1;
	out->hour = 0;
	out->minute = 0;
	return 0;
}
