/* nlp.h: natural-language dates and times in German, English, Ukrainian and Russian (C15). */
#ifndef TF_NLP_H
#define TF_NLP_H

#include "tztime.h"

#define NLP_INPUT_MAX 200   /* longer inputs are not understood */

/* Parse a whole date expression (case-insensitive, surrounding spaces and a final '.' ignored)
 * relative to today (the doctor's local date). Understood, in all four languages:
 *   today / heute / сьогодні / сегодня; tomorrow / morgen / завтра; day after tomorrow / übermorgen /
 *   післязавтра / послезавтра; weekday names alone (= the next such day after today, never today)
 *   and with "next"/"nächsten"/"наступного"/"следующий" (and their case/gender forms);
 *   "in 3 days" / "in 3 Tagen" / "через 3 дні" / "через 3 дня" (also "in einem Tag", 1 day);
 *   "next week" / "nächste Woche" / "наступного тижня" / "на следующей неделе" (= Monday of next week);
 *   2024-11-15, 15/11/2024, 15.11.2024, 15.11. (this year, or next year when already past).
 * Numeric dates are day first (05/11/2026 is 5 November); nlp.c lists every form it understands.
 * Returns 0 with *out set (hour/minute 0), or -1 when not understood — never a guess. */
int nlp_parse_date(const char *s, const struct civil *today, struct civil *out);

/* Parse a time: 14:00, 14 Uhr, 14.30 Uhr, 2pm, 2 pm, 2:00 PM, 10am, 10:30, 9:05 a.m.,
 * "о 14:00"/"в 14:00"/"um 14 Uhr"/"at 2pm" prefixes. Returns 0 with *hour, *minute, or -1. */
int nlp_parse_time(const char *s, int *hour, int *minute);

#endif
