/* assistant.h: the offline booking assistant: a rule-based dialogue in German, English, Ukrainian and Russian that fills service, date, time, name and e-mail, then books (C14, C15). */
#ifndef TF_ASSISTANT_H
#define TF_ASSISTANT_H

#include <stddef.h>

#include <jansson.h>

#include "tztime.h"
#include "util.h"

enum asst_lang { ASST_DE, ASST_EN, ASST_UK, ASST_RU };

/* "de", "en", "uk", "ru". */
const char *asst_lang_code(enum asst_lang l);
/* The language of a message: Cyrillic letters → Ukrainian (і ї є ґ, or Ukrainian words) or Russian
 * (ы э ё ъ, or Russian words); Latin → German (ä ö ü ß, German words) or English. A message without
 * any cue (only "14:00", an e-mail address, "ok") gives fallback. */
enum asst_lang asst_detect_language(const char *msg, enum asst_lang fallback);

struct asst_service {
	const char *name;            /* as the practice wrote it ("Sprechstunde", "Haircut") */
	int duration;                /* minutes */
};

/* Runs a tool (agent_tool_run in production; the caller records the call). Returns a new
 * reference in agent_tool_run's result format, or NULL (out of memory). */
typedef json_t *(*asst_tool_fn)(void *ud, const char *name, json_t *args);

struct asst_ctx {
	const struct civil *today;   /* the doctor's local date */
	const struct asst_service *services;   /* the practice's active services */
	size_t nservices;
	asst_tool_fn tool;
	void *tool_ud;
};

/* One turn of the dialogue. state is the conversation's object (empty at the start; updated in
 * place and stored between turns by the caller): the language, the filled fields ("service",
 * "date" as YYYY-MM-DD, "time" as HH:MM, "name", "email"), the times offered, the phase. The
 * message is read for every field at once (dates and times anywhere in it via nlp.h, an e-mail
 * address, a name next to it or after "ich heiße"/"my name is"/"мене звати"/"меня зовут", a service
 * by name or a synonym in any of the four languages); a later message overrides a field. Then:
 * missing service/date → ask in the patient's language; date known → check_calendar_availability
 * and offer the free times (or the next days that have some); a time that is not free → say so and
 * offer free ones; all known → book when the patient has decided (a booking command such as
 * "Запишіть …"/"buchen Sie …", an acceptance such as "passt"/"підходить", picking an offered time,
 * or "ja"/"yes"/"так"/"да" to the assistant's summary question), else summarise and ask. After a
 * booking the reply confirms it in the patient's language (service, date, time, e-mail). Writes the
 * reply to reply. Returns 0, or -1 when out of memory. */
int asst_turn(const struct asst_ctx *c, json_t *state, const char *message, struct buf *reply);

#endif
