#!/usr/bin/env python3
"""icsbusy-expected.py: the expected busy intervals of test_icsbusy.c's testdata table, worked out
by reading each file in $TF_TESTDATA/ics and computed here with the standard library only
(datetime + zoneinfo), independently of icsbusy.c. Prints the C table rows; the rows in
test_icsbusy.c were pasted from this output. Not run by make check."""
from datetime import datetime, date, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc


def z(name):
    return ZoneInfo(name)


def at(s, tz):
    """'2019-03-28 08:30' wall clock in zone tz -> UTC datetime (fold=0: first occurrence)."""
    return datetime.fromisoformat(s).replace(tzinfo=z(tz) if isinstance(tz, str) else tz).astimezone(UTC)


def ev(start, tz, minutes):
    s = at(start, tz)
    return (s, s + timedelta(minutes=minutes))


def allday(d, tz, days=1):
    d0 = date.fromisoformat(d)
    s = datetime.combine(d0, datetime.min.time(), z(tz)).astimezone(UTC)
    e = datetime.combine(d0 + timedelta(days=days), datetime.min.time(), z(tz)).astimezone(UTC)
    return (s, e)


def weekly(first, tz, minutes, step_days, until_utc=None, count=None, stop=None, skip=()):
    """Occurrences every step_days days at the same wall-clock time, from first (a local
    'YYYY-MM-DD HH:MM'), while <= until_utc / count / before stop (UTC). skip: local dates."""
    out, d, n = [], datetime.fromisoformat(first), 0
    while True:
        s = d.replace(tzinfo=z(tz)).astimezone(UTC)
        if until_utc and s > until_utc:
            break
        if stop and s >= stop:
            break
        if count is not None and n >= count:
            break
        n += 1
        if d.date().isoformat() not in skip:
            out.append((s, s + timedelta(minutes=minutes)))
        d += timedelta(days=step_days)
    return out


def merge(ivs, lo, hi):
    ivs = sorted((max(s, lo), min(e, hi)) for s, e in ivs if e > lo and s < hi and e > s)
    out = []
    for s, e in ivs:
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def U(s):
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


def local_window(a, b, tz):
    return (at(a + " 00:00", tz), at(b + " 00:00", tz))


CASES = []


def case(name, tz, window, ivs, show=8):
    lo, hi = window
    m = merge(ivs, lo, hi)
    CASES.append((name, tz, lo, hi, m, show))


B = "Europe/Berlin"
LA = "America/Los_Angeles"
NY = "America/New_York"
CHI = "America/Chicago"

# aporter_apple_ical: one-offs 09-12, 09-20 (9-11), 09-22, 09-27 (PDT); daily 09-13.. with UNTIL
# 20220926T155959Z (last 09-25); open-ended daily from 09-26; all 09:00-10:00 PDT.
iv = [ev("2022-09-12 09:00", LA, 60), ev("2022-09-20 09:00", LA, 120), ev("2022-09-22 09:00", LA, 60),
      ev("2022-09-27 09:00", LA, 60)]
iv += weekly("2022-09-13 09:00", LA, 60, 1, until_utc=U("2022-09-26 15:59:59"))
iv += weekly("2022-09-26 09:00", LA, 60, 1, stop=U("2022-10-02 00:00"))
case("aporter_apple_ical.ics", B, local_window("2022-09-01", "2022-10-01", B), iv)
# same file, October 2023: the multi-day all-day events (whole Berlin days) and the daily series
iv = [allday("2023-10-11", B, 2), allday("2023-10-15", B, 3)]
iv += weekly("2023-10-09 09:00", LA, 60, 1, stop=U("2023-10-20 00:00"))
case("aporter_apple_ical.ics", B, (U("2023-10-10 00:00"), U("2023-10-19 00:00")), iv)

# aporter_office_356_custom_timezone: event 1 once (UNTIL = first instance); event 2 biweekly TU
# 15:00 Warsaw time from 2024-05-21, EXDATE 2024-12-31 and 2025-02-25.
iv = [ev("2024-05-02 11:00", "Europe/Warsaw", 60)]
iv += weekly("2024-05-21 15:00", "Europe/Warsaw", 60, 14, until_utc=U("2026-05-05 13:00"),
             skip=("2024-12-31", "2025-02-25"))
case("aporter_office_356_custom_timezone.ics", B, local_window("2024-04-01", "2024-08-01", B), iv)
case("aporter_office_356_custom_timezone.ics", B, local_window("2024-12-01", "2025-03-31", B), iv)

# Office 365: W. Europe Standard Time without VTIMEZONE -> Europe/Berlin
case("aporter_office_365_extended_timezone.ics", B, local_window("2024-04-01", "2024-05-01", B),
     [ev("2024-04-26 14:00", B, 60)])
# "Customized Time Zone" undefined: floating in the doctor's zone (two zones to show it)
case("aporter_office_365_invalid_timezone.ics", B, local_window("2024-04-01", "2024-05-01", B),
     [ev("2024-04-26 14:00", B, 60)])
case("aporter_office_365_invalid_timezone.ics", NY, local_window("2024-04-01", "2024-05-01", NY),
     [ev("2024-04-26 14:00", NY, 60)])

# Google: override before its master, same time; daily COUNT=3 10:00 New York
case("aporter_recurring_with_single_change.ics", B, local_window("2026-01-01", "2026-03-01", B),
     weekly("2026-02-01 10:00", NY, 60, 1, count=3))

case("ical4j_apple-iphone-os-26-structured-location.ics", B, local_window("2026-05-01", "2026-06-01", B),
     [ev("2026-05-22 10:30", "Europe/Vienna", 10)])

case("icalendar_issue_104_broken_calendar.ics", B, local_window("2014-03-01", "2014-05-01", B),
     [(U("2014-04-01 00:00"), U("2014-04-01 01:00"))])

# two identical all-day daily series 03-03.. (UNTIL 20080323T235959Z: the 24th's Berlin midnight,
# 03-23T23:00Z, is before it, so the 24th counts), EXDATE 03-11 (the second's empty EXDATE dropped)
iv = [allday("2008-03-%02d" % d, B) for d in range(3, 25) if d != 11]
case("icalendar_parsing_error.ics", B, local_window("2008-03-01", "2008-04-01", B), iv * 2)

# birthdays: master 2014-12-10 (its invalid RDATEs dropped), overrides without master 2012, 2013, 2014
case("icaljs_google_birthday.ics", B, local_window("2012-01-01", "2015-01-01", B),
     [allday("2012-12-10", B), allday("2013-12-10", B), allday("2014-12-10", B)])

# two overrides, no master, floating (doctor's zone); DURATION PT4H30M and DTEND; RRULEs ignored
case("khal_event_dt_multi_recuid_no_master.ics", B, local_window("2014-06-01", "2014-08-01", B),
     [ev("2014-06-30 07:30", B, 270), ev("2014-07-07 08:30", B, 210)])

# DATE series with a DATE-TIME UNTIL 20080202T000000Z: 12-01, 01-01, 02-01 (02-01 00:00 Berlin
# is 01-31T23:00Z, before UNTIL)
case("khal_event_dt_rrule_invalid_until.ics", B, local_window("2007-11-01", "2008-04-01", B),
     [allday("2007-12-01", B), allday("2008-01-01", B), allday("2008-02-01", B)])

# weekly 15:50-17:00 New York from 11-12 until 12-06T20:50Z; EXDATE 11-26T20:50Z matches
case("khal_event_invalid_exdate.ics", B, local_window("2011-09-01", "2012-01-01", B),
     weekly("2011-11-12 15:50", NY, 70, 7, until_utc=U("2011-12-06 20:50"), skip=("2011-11-26",)))

# weekly 07-12 Berlin until 08-06T06:00Z; 07-07 moved to 09-14; 07-14 cancelled
iv = weekly("2014-06-30 07:00", B, 300, 7, until_utc=U("2014-08-06 06:00"), skip=("2014-07-07", "2014-07-14"))
iv.append(ev("2014-07-07 09:00", B, 300))
case("khal_event_rrule_recuid_cancelled.ics", B, local_window("2014-06-01", "2014-09-01", B), iv)

case("khal_invalid_tzoffset.ics", B, local_window("2012-12-01", "2012-12-31", B),
     [ev("2012-12-02 08:00", B, 90)])

# the object's own (inconsistent) VTIMEZONE "New Zealand Standard Time": +01:00 after 2019-10-27
case("khal_tz_windows_format.ics", B, local_window("2019-11-01", "2019-12-01", B),
     [ev("2019-11-20 13:00", timezone(timedelta(hours=1)), 90)])

# Outlook display names: Sydney 10-28; Eastern 10-28, 11-02 (twice), weekly TH,FR from 11-02
iv = [ev("2020-10-28 13:30", "Australia/Sydney", 90), ev("2020-10-28 13:30", NY, 90),
      ev("2020-11-02 13:30", NY, 90)]
iv += [ev("2020-11-%02d 13:30" % d, NY, 90) for d in (5, 6, 12, 13)]
case("nodeical_Office-2012-owa.ics", B, local_window("2020-10-01", "2020-11-15", B), iv)

# biweekly (WKST=SU) MO,TH 09-19 US/Central, EXDATE 07-06, 07-17, 07-20, 08-03, UNTIL 08-14T04:59:59Z;
# second event from 2017-08-14T14:00Z biweekly MO,TU 14:00-24:00Z (its floating EXDATEs at 06:00 match nothing)
iv = [ev("2017-07-03 09:00", "US/Central", 600), ev("2017-07-31 09:00", "US/Central", 600),
      (U("2017-08-14 14:00"), U("2017-08-15 00:00")), (U("2017-08-15 14:00"), U("2017-08-16 00:00"))]
case("nodeical_biweekly-exdate-until.ics", B, local_window("2017-06-26", "2017-08-21", B), iv)

# daily COUNT=10 12-13 LA; EXDATE 07-08, 07-10; 07-07 overridden by an event ending before it starts
case("nodeical_daily-count-exdate-recurrence-id.ics", B, local_window("2015-07-01", "2015-08-01", B),
     weekly("2015-07-06 12:00", LA, 60, 1, count=10, skip=("2015-07-07", "2015-07-08", "2015-07-10")))

# floating times (the VTIMEZONE is not referenced): doctor's zone
case("nodeical_dst-transition-rules.ics", B, local_window("2022-10-01", "2022-11-01", B),
     [ev("2022-10-09 10:00", B, 60)])

# only the two opaque events count; the transparent series and the broken DTSTART do not
case("nodeical_ms_timezones.ics", B, local_window("2020-06-01", "2021-04-01", B),
     [ev("2020-09-10 09:00", B, 30), ev("2020-09-15 08:30", LA, 60)])

# TENTATIVE, CONFIRMED and no STATUS are busy; CANCELLED is not
case("nodeical_tentative-apple-calendar.ics", B, local_window("2022-07-01", "2022-08-01", B),
     [(U("2022-07-04 23:00"), U("2022-07-04 23:50")), ev("2022-07-05 09:00", "America/Vancouver", 60),
      ev("2022-07-07 09:00", "America/Vancouver", 60)])

case("nodeical_vtimezone-year-0001-dtstart.ics", B, local_window("2024-06-01", "2024-07-01", B),
     [ev("2024-06-01 10:00", B, 60)])

# DTSTART 12:00 Eastern (quoted display name), DTEND 13:00 LA: 4 h; EXDATEs in LA time (15:00
# Eastern) match no instance, so all ten stay
case("nodeical_windows-quoted-tz-rrule.ics", B, local_window("2015-07-01", "2015-08-01", B),
     weekly("2015-07-06 12:00", NY, 240, 1, count=10))

# Google export with 64 VEVENTs, two weeks across the 2019-03-31 DST start (see the series list)
iv = []
for d, t, mins in (("2019-03-28", "18:00", 120), ("2019-04-04", "18:00", 120),   # TH 18-20 (2017)
                   ("2019-04-02", "19:00", 120),                                 # biweekly TU 19-21
                   ("2019-04-02", "17:00", 120),                                 # biweekly TU 17-19
                   ("2019-03-28", "15:00", 120), ("2019-04-04", "15:00", 120),   # TH 15-17
                   ("2019-03-27", "19:00", 120), ("2019-04-03", "19:00", 120),   # WE 19-21
                   ("2019-03-28", "08:30", 360), ("2019-04-04", "08:30", 360),   # TH 08:30-14:30
                   ("2019-03-29", "08:30", 360), ("2019-04-05", "08:30", 360)):  # FR 08:30-14:30
    iv.append(ev(d + " " + t, B, mins))
case("rie_daylight_saving_time.ics", B, local_window("2019-03-25", "2019-04-08", B), iv, show=11)

# weekly COUNT=8 00:30-01:00 Berlin from 03-04; UTC EXDATE 03-10T23:30Z is 03-11 00:30 CET
case("rie_each_week_but_one_deleted.ics", B, local_window("2019-03-01", "2019-05-01", B),
     weekly("2019-03-04 00:30", B, 30, 7, count=8, skip=("2019-03-11",)))

# daily COUNT=3 22-23 Berlin; the 01-29 override is cancelled
case("rie_issue_18_cancel_status.ics", B, local_window("2020-01-01", "2020-02-01", B),
     weekly("2020-01-28 22:00", B, 60, 1, count=3, skip=("2020-01-29",)))

# weekly TU 16:15 +1h30 Berlin until 2020-02-04T15:14:59Z; nine UTC EXDATEs
ex = ("2019-10-15", "2019-10-22", "2019-11-05", "2019-11-19", "2019-11-26", "2019-12-03",
      "2019-12-17", "2019-12-24", "2019-12-31")
case("rie_issue_20_exdate_ignored.ics", B, local_window("2019-10-01", "2020-03-01", B),
     weekly("2019-10-15 16:15", B, 90, 7, until_utc=U("2020-02-04 15:14:59"), skip=ex))

# daily 14:00-14:30 Berlin (no VTIMEZONE for it) until floating 2020-04-29T00:00; EXDATE 04-27T12:00Z
case("rie_issue_27_t1.ics", B, local_window("2020-04-01", "2020-05-01", B),
     [ev("2020-04-26 14:00", B, 30), ev("2020-04-28 14:00", B, 30)])

# Chicago, two weeks across the 2020-11-01 DST end (the series list is in the test's comment)
iv = []
for d, t in (("2020-11-05", "12:30"), ("2020-11-03", "12:30"), ("2020-10-30", "14:15"),
             ("2020-10-30", "10:15"), ("2020-11-06", "10:15"), ("2020-10-26", "10:15"),
             ("2020-11-02", "10:15"), ("2020-11-03", "14:15"), ("2020-10-27", "10:15"),
             ("2020-11-03", "10:15"), ("2020-10-29", "10:15"), ("2020-11-05", "10:15")):
    iv.append(ev(d + " " + t, CHI, 15))
case("rie_issue_48_dst.ics", CHI, (U("2020-10-26 00:00"), U("2020-11-09 00:00")), iv, show=12)

# RANGE=THISANDFUTURE: after 09-13T12:00Z instances move -3 h and last 7 h; after 09-21T12:00Z they
# move +1 day 2:22 and last 1:51; the plain override of 09-15 replaces that instance; RDATE 09-14
# 09:00Z is after the first THISANDFUTURE id, so it moves too (06:00-13:00Z)
iv = []
d = U("2024-09-01 12:00")
while d < U("2024-10-03 00:00"):
    if d < U("2024-09-13 12:00"):
        iv.append((d, d + timedelta(hours=2)))
    elif d == U("2024-09-15 12:00"):
        iv.append((U("2024-09-15 17:00"), U("2024-09-15 19:00")))
    elif d < U("2024-09-21 12:00"):
        s = d - timedelta(hours=3)
        iv.append((s, s + timedelta(hours=7)))
    else:
        s = d + timedelta(days=1, hours=2, minutes=22)
        iv.append((s, s + timedelta(hours=1, minutes=51)))
    d += timedelta(days=2)
iv.append((U("2024-09-14 06:00"), U("2024-09-14 13:00")))
case("rie_issue_75_range_parameter.ics", "UTC", (U("2024-09-01 00:00"), U("2024-10-01 00:00")), iv, show=16)

# two daily series with UTC UNTIL; overrides moved (one to 01:00-02:00 CET, DTEND wins over DURATION:PT0S)
iv = weekly("2019-03-18 04:00", B, 60, 1, until_utc=U("2019-03-20 03:00"))
iv += [ev("2019-03-07 02:00", B, 60), ev("2019-03-08 01:00", B, 60), ev("2019-03-09 03:00", B, 60),
       ev("2019-03-10 02:00", B, 60)]
case("rie_recurring_events_moved.ics", B, local_window("2019-03-01", "2019-04-01", B), iv)

case("rie_x_wr_timezone_simple_events_issue_59.ics", B, local_window("2021-12-01", "2022-01-01", B),
     [(U("2021-12-22 17:00"), U("2021-12-22 18:00")), (U("2021-12-23 02:00"), U("2021-12-23 03:00"))])

# ---- transparent files made opaque by the test (TRANSP:TRANSPARENT -> TRANSP:OPAQUE)
# Exchange all-day weekly TU,TH from 02-19; the 02-26 instance (id: midnight W. Europe) moved to 02-27
case("nodeical_exchange_whole_day_moved_recurrence.ics*", B, local_window("2026-02-16", "2026-03-09", B),
     [allday(d, B) for d in ("2026-02-19", "2026-02-24", "2026-02-27", "2026-03-03", "2026-03-05")])
# all-day daily COUNT=3 from 10-27 (25-hour day in Berlin); 10-28 moved to 10-30
case("nodeical_whole_day_moved_over_dst_change_berlin.ics*", B, local_window("2024-10-20", "2024-11-05", B),
     [allday(d, B) for d in ("2024-10-27", "2024-10-29", "2024-10-30")])
# Exchange GMT Standard Time all-day biweekly TH series; overrides (DATE-TIME ids) move 04-16 and 05-28
case("rie_issue_28_rrule_with_UTC_endinginZ.ics*", B, local_window("2020-04-01", "2020-06-01", B),
     [allday(d, B) for d in ("2020-04-02", "2020-04-17", "2020-04-30", "2020-05-14", "2020-05-29",
                             "2020-04-09", "2020-04-23", "2020-05-07", "2020-05-21")])
case("icalnet_Outlook2007LineFolds.ics*", B, local_window("2009-06-01", "2009-07-01", B),
     [allday("2009-06-21", B)])


def ts(d):
    return int(d.timestamp())


for name, tz, lo, hi, m, show in CASES:
    pairs = ", ".join("{%d, %d}" % (ts(s), ts(e)) for s, e in m[:show])
    print('\t{ "%s", "%s", %d, %d, %d, { %s } },' % (name, tz, ts(lo), ts(hi), len(m), pairs))
    print("\t/* " + "; ".join(s.strftime("%m-%dT%H:%MZ") + "-" + e.strftime("%H:%M") for s, e in m[:show]) + " */")
