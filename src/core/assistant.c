/* assistant.c: the offline booking assistant: rule-based dialogue in de/en/uk/ru that fills service, date, time, name and e-mail, then books (C14, C15). */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "assistant.h"
#include "doctor.h"
#include "log.h"
#include "nlp.h"

/*
 * Text handling without locale functions: a message is folded to small letters by table (ASCII,
 * Ä Ö Ü, Cyrillic А–Я, Ё, Є, І, Ї, Ґ); every folding keeps the byte length, so a word found in
 * the folded copy is at the same offsets in the original (names keep their capitals).
 */

/* ------------------------------------------------------------------ folding and words */

/* Fold s[0..n) into out[n + 1] (same length, NUL-terminated). Bytes that are not one of the
 * letters above are copied unchanged (invalid UTF-8 included). */
static void fold(const char *s, size_t n, char *out)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char *o = (unsigned char *)out;
	size_t i = 0;

	while (i < n) {
		unsigned char c = p[i];

		if (c >= 'A' && c <= 'Z') {
			o[i] = (unsigned char)(c + 32);
			i++;
		} else if (c == 0xC3 && i + 1 < n && (p[i + 1] == 0x84 || p[i + 1] == 0x96 || p[i + 1] == 0x9C)) {
			o[i] = c;                                  /* Ä Ö Ü -> ä ö ü */
			o[i + 1] = (unsigned char)(p[i + 1] + 0x20);
			i += 2;
		} else if (c == 0xD0 && i + 1 < n && p[i + 1] >= 0x90 && p[i + 1] <= 0x9F) {
			o[i] = 0xD0;                               /* А..П -> а..п */
			o[i + 1] = (unsigned char)(p[i + 1] + 0x20);
			i += 2;
		} else if (c == 0xD0 && i + 1 < n && p[i + 1] >= 0xA0 && p[i + 1] <= 0xAF) {
			o[i] = 0xD1;                               /* Р..Я -> р..я */
			o[i + 1] = (unsigned char)(p[i + 1] - 0x20);
			i += 2;
		} else if (c == 0xD0 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x8F) {
			o[i] = 0xD1;                               /* Ѐ..Џ (Ё Є І Ї) -> ѐ..џ */
			o[i + 1] = (unsigned char)(p[i + 1] + 0x10);
			i += 2;
		} else if (c == 0xD2 && i + 1 < n && p[i + 1] == 0x90) {
			o[i] = 0xD2;                               /* Ґ -> ґ */
			o[i + 1] = 0x91;
			i += 2;
		} else {
			o[i] = c;
			i++;
		}
	}
	o[n] = '\0';
}

/* 1 when the folded word w equals one of the NULL-terminated list. */
static int word_in(const char *w, const char *const *list)
{
	size_t i;

	for (i = 0; list[i]; i++)
		if (strcmp(w, list[i]) == 0)
			return 1;
	return 0;
}

/* 1 when the (folded) text contains the UTF-8 sequence needle. */
static int has_seq(const char *s, const char *needle)
{
	return strstr(s, needle) != NULL;
}

/* 1 when the byte starts a Cyrillic letter (U+0400..U+04FF: lead bytes D0..D3). */
static int is_cyr_lead(unsigned char c)
{
	return c >= 0xD0 && c <= 0xD3;
}

/* ------------------------------------------------------------------ language */

const char *asst_lang_code(enum asst_lang l)
{
	switch (l) {
	case ASST_DE: return "de";
	case ASST_EN: return "en";
	case ASST_UK: return "uk";
	case ASST_RU: return "ru";
	}
	return "de";
}

/* Words that mark a language (folded). Words both Cyrillic languages share are in neither list. */
static const char *const de_words[] = {
	"ich", "sie", "bitte", "termin", "termine", "einen", "eine", "morgen", "heute", "uhr", "um",
	"am", "ja", "nein", "danke", "mit", "gerne", "gern", "passt", "buchen", "mein", "ist",
	"montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag", "woche",
	"haarschnitt", "impfung", "sprechstunde", "videosprechstunde", "der", "die", "das", "und",
	"zeit", "zeiten", "frei", "freie", "freien", "geht", "hallo", "guten", "tag", "wann",
	"welche", "haben", "habe", "brauche", "gut", "nicht", "wie", "mir", "mich", "auch", "oder",
	"lieber", "heisse", "noch", "einverstanden", "genau", "richtig", "stimmt", "klar", "nachmittag",
	"vormittag", "abend", "nächste", "nächsten", "wäre", "möchte", "hätte", "heiße", "für",
	"übermorgen", "maniküre", "gibt", "es", "kann", "könnte", "vielen", "dank", "nehme", "den",
	NULL
};
static const char *const en_words[] = {
	"i", "i'm", "i'd", "the", "an", "appointment", "book", "please", "tomorrow", "today", "at",
	"on", "for", "my", "is", "yes", "no", "thanks", "thank", "you", "want", "would", "like",
	"next", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "week",
	"available", "free", "slots", "slot", "works", "fine", "haircut", "manicure", "consultation",
	"vaccination", "what", "times", "time", "and", "me", "can", "could", "with", "hello", "hi",
	"need", "suits", "good", "great", "sure", "that", "it", "of", "do", "have", "any", "perfect",
	"morning", "afternoon", "evening", "get", "make", "schedule", "which", "when", "how", "about",
	"are", "there", "let's", "take", "go", "please,", "yeah", "yep", "nope", "cancel", "don't",
	"not", "video", "call", "visit", "checkup", "thx", "day", "days",
	NULL
};
static const char *const uk_words[] = {
	"мене", "звати", "будь", "ласка", "так", "записатися", "записатись", "який", "яка", "яке",
	"о", "добре", "четвер", "суботу", "субота", "годину", "слоти", "можна", "моє", "пошта", "що",
	"чи", "коли", "прийом", "консультацію", "консультація", "дуже", "гаразд", "згоден", "згодна",
	"записати", "треба", "щеплення", "стрижка", "середу", "вона", "він", "хочу", "ще", "подобається",
	"вечора", "ранку", "зранку", "ввечері", "години", "або", "хвилин",
	NULL
};
static const char *const ru_words[] = {
	"меня", "зовут", "пожалуйста", "спасибо", "привет", "да", "нет", "записаться", "запишите",
	"свободные", "свободное", "свободно", "свободна", "какие", "какой", "можно", "хорошо",
	"подходит", "маникюр", "четверг", "субботу", "понедельник", "вторник", "среду", "пятницу",
	"воскресенье", "следующий", "следующую", "нужно", "мне", "час", "время", "слоты",
	"здравствуйте", "добрый", "утром", "вечером", "что", "когда", "прививка", "прививку", "приём",
	"прием", "консультация", "консультацию", "очень", "ладно", "согласен", "согласна",
	"подтверждаю", "отмена", "отменить", "записать", "надо", "почта", "имя", "или", "это", "есть",
	"хочу", "стрижка", "запись", "окна", "окно", "минут", "часов", "утра", "вечера", "дня",
	NULL
};

/* Score of one folded word for each language: a listed word 2, a language's own letters 1. */
static void lang_score_word(const char *w, int score[4])
{
	int cyr = 0, own = 0;
	const unsigned char *p;

	if (strchr(w, '@'))
		return;    /* an e-mail address tells nothing */
	for (p = (const unsigned char *)w; *p; p++)
		if (is_cyr_lead(*p))
			cyr = 1;
	if (!cyr) {
		if (word_in(w, de_words))
			score[ASST_DE] += 2;
		else if (has_seq(w, "ä") || has_seq(w, "ö") || has_seq(w, "ü") || has_seq(w, "ß"))
			score[ASST_DE] += 1;
		if (word_in(w, en_words))
			score[ASST_EN] += 2;
		return;
	}
	if (word_in(w, uk_words)) {
		score[ASST_UK] += 2;
		own = 1;
	}
	if (word_in(w, ru_words)) {
		score[ASST_RU] += 2;
		own = 1;
	}
	if (has_seq(w, "і") || has_seq(w, "ї") || has_seq(w, "є") || has_seq(w, "ґ")) {
		score[ASST_UK] += 1;
		own = 1;
	}
	if (has_seq(w, "ы") || has_seq(w, "э") || has_seq(w, "ё") || has_seq(w, "ъ")) {
		score[ASST_RU] += 1;
		own = 1;
	}
	if (!own) {            /* a Cyrillic word of either language */
		score[ASST_UK] += 1;
		score[ASST_RU] += 1;
	}
}

/* Strip punctuation around a folded word in place (keeps inner '.', ':', '@', '\'', '-'). */
static char *word_trim(char *w)
{
	/* ASCII only: a multi-byte quotation mark's bytes would match inside Cyrillic letters */
	static const char lead[] = "([{\"'*-";
	static const char trail[] = ")]}\"'.,;:!?*-";
	size_t n;

	while (*w && (unsigned char)*w < 0x80 && strchr(lead, *w))
		w++;
	n = strlen(w);
	/* a Cyrillic or Latin quotation mark is multi-byte: drop «» „“ ” as whole sequences */
	while (n > 0) {
		if ((unsigned char)w[n - 1] < 0x80 && strchr(trail, w[n - 1])) {
			n--;
		} else if (n >= 2 && ((unsigned char)w[n - 2] == 0xC2 && (unsigned char)w[n - 1] == 0xBB)) {
			n -= 2;
		} else if (n >= 3 && (unsigned char)w[n - 3] == 0xE2 && (unsigned char)w[n - 2] == 0x80 &&
			   ((unsigned char)w[n - 1] == 0x9C || (unsigned char)w[n - 1] == 0x9D)) {
			n -= 3;
		} else {
			break;
		}
	}
	w[n] = '\0';
	if ((unsigned char)w[0] == 0xC2 && (unsigned char)w[1] == 0xAB)
		w += 2;
	else if ((unsigned char)w[0] == 0xE2 && (unsigned char)w[1] == 0x80 &&
		 ((unsigned char)w[2] == 0x9E || (unsigned char)w[2] == 0x9C))
		w += 3;
	return w;
}

enum asst_lang asst_detect_language(const char *msg, enum asst_lang fallback)
{
	char folded[AGENT_MESSAGE_MAX + 1];
	char *p, *end;
	int score[4] = { 0, 0, 0, 0 };
	int best = -1, bestv = 0, tie = 0, i;
	size_t n;

	if (!msg)
		return fallback;
	n = strnlen(msg, AGENT_MESSAGE_MAX);
	fold(msg, n, folded);
	for (p = folded; *p; p = end) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',')
			p++;
		if (!*p)
			break;
		for (end = p; *end && *end != ' ' && *end != '\t' && *end != '\n' && *end != '\r' &&
		     *end != ','; end++)
			;
		if (*end)
			*end++ = '\0';
		lang_score_word(word_trim(p), score);
	}
	for (i = 0; i < 4; i++) {
		if (score[i] > bestv) {
			best = i;
			bestv = score[i];
			tie = 0;
		} else if (score[i] == bestv && bestv > 0) {
			tie = 1;
		}
	}
	if (best < 0)
		return fallback;
	if (tie) {
		/* the fallback when it is one of the best; else Ukrainian before Russian (the seed's
		 * language) and German before English (the practice's) */
		if (score[fallback] == bestv)
			return fallback;
		for (i = 0; i < 4; i++) {
			static const int order[4] = { ASST_UK, ASST_RU, ASST_DE, ASST_EN };

			if (score[order[i]] == bestv)
				return (enum asst_lang)order[i];
		}
	}
	return (enum asst_lang)best;
}

/* ------------------------------------------------------------------ vocabulary */

#define ASST_NAME_MAX     100   /* bytes of a patient's name */
#define ASST_EMAIL_MAX    254
#define ASST_OFFER_MAX    8     /* times offered at once */
#define ASST_LOOKAHEAD    7     /* days searched after a day without free times */
#define ASST_TOKENS_MAX   (AGENT_MESSAGE_MAX / 2 + 1)
#define ASST_SLOTS_MAX    300   /* slots read from one tool result */
#define ASST_SERVICES_MAX 64    /* services considered */
#define ASST_DATE_WORDS   5     /* longest date phrase tried, in words */
#define ASST_TIME_WORDS   3
#define ASST_NAME_WORDS   4
#define ASST_SVCNAME_MAX  200   /* bytes of a service name looked at */

/* Service kinds and their words (folded; a message word matches when it starts with one). */
enum { K_VIDEO, K_HAIR, K_MANI, K_CONS, K_VACC, K_COUNT };
static const char *const kind_stems[K_COUNT][16] = {
	[K_VIDEO] = { "videosprechstunde", "videokonsultation", "video", "online", "відео", "видео",
		      "онлайн", "telemedizin", NULL },
	[K_HAIR] = { "haircut", "haarschnitt", "haare", "friseur", "стрижк", "стрижен", "підстриг",
		     "подстриг", "постриг", NULL },
	[K_MANI] = { "manicure", "maniküre", "manikuere", "manikür", "nails", "nägel", "манікюр",
		     "маникюр", "нігт", "ногт", NULL },
	[K_CONS] = { "sprechstunde", "consultation", "consult", "konsultation", "beratung", "untersuchung",
		     "checkup", "консультаці", "консультаци", "прийом", "приём", "прием", NULL },
	[K_VACC] = { "impfung", "impfen", "vaccination", "vaccine", "vaccin", "щеплен", "вакцин",
		     "прививк", "щепит", NULL },
};

/* Parts of German compounds that name a kind anywhere in a word ("Grippeimpfung",
 * "Akutsprechstunde", "Herrenhaarschnitt"). Video is tried first, so "Videosprechstunde" stays video. */
static const char *const kind_parts[K_COUNT][4] = {
	[K_VIDEO] = { "videosprech", "videoberatung", "videokonsult", NULL },
	[K_HAIR] = { "haarschnitt", NULL },
	[K_MANI] = { "maniküre", NULL },
	[K_CONS] = { "sprechstunde", "untersuchung", "beratung", NULL },
	[K_VACC] = { "impf", NULL },
};

/* Parts of the day: the times offered are taken from it when it has free ones. */
enum { PART_ANY, PART_MORNING, PART_AFTERNOON, PART_EVENING };
static const char *const part_words[][12] = {
	[PART_MORNING] = { "morning", "morgens", "vormittag", "vormittags", "früh", "frueh", "зранку",
			   "вранці", "ранку", "утром", "утра", NULL },
	[PART_AFTERNOON] = { "afternoon", "nachmittag", "nachmittags", "mittags", "обіду", "обеда",
			     "днем", "днём", "вдень", NULL },
	[PART_EVENING] = { "evening", "abend", "abends", "ввечері", "вечора", "вечір", "вечером",
			   "вечера", "вечер", NULL },
};
/* [from, to) in minutes after midnight */
static const int part_range[][2] = {
	[PART_ANY] = { 0, 1440 }, [PART_MORNING] = { 0, 720 }, [PART_AFTERNOON] = { 720, 1020 },
	[PART_EVENING] = { 960, 1440 },
};

/* "yes" and acceptance; "no" and refusal; commands that book (see is_command). */
static const char *const accept_words[] = {
	"passt", "ja", "gerne", "ok", "okay", "einverstanden", "genau", "richtig", "stimmt", "perfekt",
	"super", "gut", "nehme", "bestätige", "bestätigen",
	"yes", "yeah", "yep", "sure", "fine", "works", "suits", "perfect", "great", "good", "confirm",
	"confirmed", "correct",
	"так", "підходить", "добре", "гаразд", "згоден", "згодна", "підтверджую", "ок", "давайте",
	"чудово", "влаштовує",
	"да", "подходит", "хорошо", "ладно", "согласен", "согласна", "подтверждаю", "отлично",
	"устраивает",
	NULL
};
static const char *const decline_words[] = {
	"nein", "nicht", "kein", "keine", "abbrechen", "no", "nope", "not", "don't", "doesn't", "cancel",
	"ні", "не", "скасувати", "нет", "отмена", "отменить",
	NULL
};
/* Verbs after which a Cyrillic name stands in the accusative ("Запишіть Марію …"). */
static const char *const acc_verbs[] = {
	"запишіть", "запиши", "записати", "забронюйте", "забронюй", "забронювати", "зареєструйте",
	"запишите", "записать", "забронируйте", "забронируй", "забронировать",
	NULL
};
static const char *const cyr_commands[] = {
	"запишіть", "запиши", "забронюйте", "забронюй", "зареєструйте",
	"запишите", "забронируйте", "забронируй",
	NULL
};
/* Greetings and fillers that are never names. */
static const char *const filler_words[] = {
	"hallo", "hello", "hi", "hey", "moin", "servus", "привіт", "привет", "добрий", "добрый",
	"здравствуйте", "вітаю", "dear", "liebe", "lieber", "herr", "frau", "mr", "mrs", "ms",
	"please", "bitte", "danke", "thanks", "дякую", "спасибо", "also", "so", "okay", "name",
	"e-mail", "email", "mail", "пошта", "почта", "ім'я", "ім’я", "имя", "meine", "mein",
	NULL
};

/* Name markers: the name follows these words. After a strong one the name may be written in
 * small letters ("my name is john doe"); after a weak one it needs its capitals ("for Anna"). */
static const struct {
	const char *w[4];
	int strong;
} name_markers[] = {
	{ { "ich", "heiße", NULL }, 1 }, { { "ich", "heisse", NULL }, 1 },
	{ { "mein", "name", "ist", NULL }, 1 }, { { "my", "name", "is", NULL }, 1 },
	{ { "мене", "звати", NULL }, 1 }, { { "меня", "зовут", NULL }, 1 },
	{ { "моє", "ім'я", NULL }, 1 }, { { "моє", "ім’я", NULL }, 1 }, { { "мое", "имя", NULL }, 1 },
	{ { "моё", "имя", NULL }, 1 }, { { "на", "ім'я", NULL }, 1 }, { { "на", "ім’я", NULL }, 1 },
	{ { "на", "имя", NULL }, 1 },
	{ { "i", "am", NULL }, 0 }, { { "i'm", NULL }, 0 }, { { "this", "is", NULL }, 0 },
	{ { "für", NULL }, 0 }, { { "for", NULL }, 0 },
};

/* ------------------------------------------------------------------ messages */

enum msg_id {
	M_ASK_SERVICE_DAY, M_ASK_SERVICE, M_UNKNOWN_SERVICE, M_ASK_DAY, M_OFFER, M_OFFER_MORE,
	M_OFFER_SAME, M_OFFER_SAME_MORE,
	M_NONE_NEXT, M_NONE_WEEK, M_TAKEN, M_PAST, M_FREE, M_ASK_NAME_EMAIL, M_ASK_NAME,
	M_ASK_EMAIL, M_BAD_EMAIL, M_SUMMARY, M_DECLINED, M_BOOKED, M_AFTER, M_ERROR, M_TOO_LONG,
	M_NO_SERVICES, M_COUNT
};

static const char *const texts[M_COUNT][4] = {
	[M_ASK_SERVICE_DAY] = {
		"Gern! Welche Leistung möchten Sie buchen (%s), und an welchem Tag?",
		"Sure! Which service would you like (%s), and on which day?",
		"Із задоволенням! Яку послугу ви бажаєте (%s) і на який день?",
		"Конечно! Какую услугу вы хотите (%s) и на какой день?" },
	[M_ASK_SERVICE] = {
		"Welche Leistung möchten Sie buchen: %s?",
		"Which service would you like: %s?",
		"Яку послугу ви бажаєте: %s?",
		"Какую услугу вы хотите: %s?" },
	[M_UNKNOWN_SERVICE] = {
		"Diese Leistung bieten wir leider nicht an. Möglich sind: %s.",
		"Sorry, we don't offer that. Available services: %s.",
		"На жаль, такої послуги немає. Доступні послуги: %s.",
		"К сожалению, такой услуги нет. Доступные услуги: %s." },
	[M_ASK_DAY] = {
		"An welchem Tag möchten Sie kommen?",
		"Which day would you like?",
		"На який день?",
		"На какой день?" },
	[M_OFFER] = {
		"Am %s sind diese Zeiten frei: %s. Welche Uhrzeit passt Ihnen?",
		"On %s these times are free: %s. Which time suits you?",
		"На %s є вільні години: %s. Який час вам підходить?",
		"На %s есть свободное время: %s. Какое время вам подходит?" },
	[M_OFFER_MORE] = {
		"Am %s sind unter anderem diese Zeiten frei: %s. Welche Uhrzeit passt Ihnen?",
		"On %s these times are free, among others: %s. Which time suits you?",
		"На %s вільні, зокрема, такі години: %s. Який час вам підходить?",
		"На %s свободно, в том числе, такое время: %s. Какое время вам подходит?" },
	[M_OFFER_SAME] = {
		"Frei sind an diesem Tag: %s. Welche Uhrzeit passt Ihnen?",
		"Free that day: %s. Which time suits you?",
		"Цього дня вільні: %s. Який час вам підходить?",
		"В этот день свободно: %s. Какое время вам подходит?" },
	[M_OFFER_SAME_MORE] = {
		"Frei sind an diesem Tag unter anderem: %s. Welche Uhrzeit passt Ihnen?",
		"Free that day, among others: %s. Which time suits you?",
		"Цього дня вільні, зокрема: %s. Який час вам підходить?",
		"В этот день свободно, в том числе: %s. Какое время вам подходит?" },
	[M_NONE_NEXT] = {
		"Am %s ist leider nichts frei. ",
		"Sorry, nothing is free on %s. ",
		"На %s, на жаль, вільних годин немає. ",
		"На %s, к сожалению, свободного времени нет. " },
	[M_NONE_WEEK] = {
		"Vom %s bis %s ist leider kein Termin frei. Möchten Sie einen anderen Tag nennen?",
		"Sorry, there are no free times from %s to %s. Would you like another day?",
		"На жаль, з %s до %s вільних годин немає. Оберіть, будь ласка, інший день.",
		"К сожалению, с %s по %s свободного времени нет. Выберите, пожалуйста, другой день." },
	[M_TAKEN] = {
		"Am %s um %s ist leider nichts frei. ",
		"Sorry, %s at %s is not available. ",
		"На жаль, %s о %s вже зайнято. ",
		"К сожалению, %s в %s уже занято. " },
	[M_PAST] = {
		"Dieser Tag liegt in der Vergangenheit. An welchem Tag möchten Sie kommen?",
		"That day is in the past. Which day would you like?",
		"Цей день уже минув. На який день вас записати?",
		"Этот день уже прошёл. На какой день вас записать?" },
	[M_FREE] = {
		"Gut, am %s um %s ist frei. ",
		"Great, %s at %s is free. ",
		"Чудово, %s о %s вільно. ",
		"Отлично, %s в %s свободно. " },
	[M_ASK_NAME_EMAIL] = {
		"Bitte nennen Sie mir Ihren Namen und Ihre E-Mail-Adresse.",
		"Please tell me your name and e-mail address.",
		"Будь ласка, вкажіть ваше ім'я та e-mail.",
		"Пожалуйста, укажите ваше имя и e-mail." },
	[M_ASK_NAME] = {
		"Bitte nennen Sie mir noch Ihren Namen.",
		"Please tell me your name.",
		"Будь ласка, вкажіть ваше ім'я.",
		"Пожалуйста, укажите ваше имя." },
	[M_ASK_EMAIL] = {
		"Bitte nennen Sie mir noch Ihre E-Mail-Adresse für die Bestätigung.",
		"Please tell me your e-mail address for the confirmation.",
		"Будь ласка, вкажіть ваш e-mail для підтвердження.",
		"Пожалуйста, укажите ваш e-mail для подтверждения." },
	[M_BAD_EMAIL] = {
		"Die E-Mail-Adresse „%s“ scheint nicht gültig zu sein. Bitte prüfen Sie sie.",
		"The e-mail address \"%s\" does not look valid. Please check it.",
		"Адреса e-mail «%s» виглядає неправильною. Перевірте її, будь ласка.",
		"Адрес e-mail «%s» выглядит неправильным. Проверьте его, пожалуйста." },
	[M_SUMMARY] = {
		"%s am %s um %s für %s (%s). Soll ich den Termin so buchen?",
		"%s on %s at %s for %s (%s). Shall I book it?",
		"%s, %s о %s, на ім'я %s (%s). Записати вас?",
		"%s, %s в %s, на имя %s (%s). Записать вас?" },
	[M_DECLINED] = {
		"In Ordnung, ich habe nichts gebucht. Möchten Sie einen anderen Tag oder eine andere Uhrzeit?",
		"All right, I haven't booked anything. Would you like another day or time?",
		"Добре, я нічого не бронював. Бажаєте інший день чи час?",
		"Хорошо, я ничего не бронировал. Хотите другой день или время?" },
	[M_BOOKED] = {
		"Ihr Termin ist gebucht: %s am %s um %s. Die Bestätigung geht an %s.",
		"Done! Your appointment is booked: %s on %s at %s. A confirmation has been sent to %s.",
		"Готово! Записав вас: %s, %s о %s. Підтвердження надіслано на %s.",
		"Готово! Записал вас: %s, %s в %s. Подтверждение отправлено на %s." },
	[M_AFTER] = {
		"Ihr Termin ist gebucht. Möchten Sie noch einen Termin? Nennen Sie mir einfach Leistung und Tag.",
		"Your appointment is booked. Would you like another one? Just tell me the service and day.",
		"Ваш запис підтверджено. Бажаєте ще один? Просто назвіть послугу і день.",
		"Ваша запись подтверждена. Хотите ещё одну? Просто назовите услугу и день." },
	[M_ERROR] = {
		"Entschuldigung, das hat nicht geklappt. Bitte versuchen Sie es noch einmal oder nutzen Sie das Buchungsformular.",
		"Sorry, something went wrong. Please try again or use the booking form.",
		"Вибачте, сталася помилка. Спробуйте ще раз або скористайтеся формою запису.",
		"Извините, произошла ошибка. Попробуйте ещё раз или воспользуйтесь формой записи." },
	[M_TOO_LONG] = {
		"Ihre Nachricht ist zu lang. Bitte fassen Sie sich kürzer.",
		"Your message is too long. Please keep it shorter.",
		"Ваше повідомлення задовге. Напишіть, будь ласка, коротше.",
		"Ваше сообщение слишком длинное. Напишите, пожалуйста, короче." },
	[M_NO_SERVICES] = {
		"Online-Termine sind hier zurzeit nicht buchbar. Bitte rufen Sie die Praxis an.",
		"Online booking is not available here at the moment. Please call the practice.",
		"Онлайн-запис зараз недоступний. Будь ласка, зателефонуйте до закладу.",
		"Онлайн-запись сейчас недоступна. Пожалуйста, позвоните в учреждение." },
};

/* The words "or" between the last two items of a list. */
static const char *const or_word[4] = { "oder", "or", "або", "или" };

static const char *const wd_names[4][7] = {
	{ "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag" },
	{ "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday" },
	{ "понеділок", "вівторок", "середа", "четвер", "п'ятниця", "субота", "неділя" },
	{ "понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье" },
};
/* After "на" (Ukrainian, Russian) the weekday stands in the accusative: "на неділю", "на среду". */
static const char *const wd_acc[4][7] = {
	{ "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag" },
	{ "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday" },
	{ "понеділок", "вівторок", "середу", "четвер", "п'ятницю", "суботу", "неділю" },
	{ "понедельник", "вторник", "среду", "четверг", "пятницу", "субботу", "воскресенье" },
};
static const char *const mon_names[4][12] = {
	{ "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
	  "Oktober", "November", "Dezember" },
	{ "January", "February", "March", "April", "May", "June", "July", "August", "September",
	  "October", "November", "December" },
	{ "січня", "лютого", "березня", "квітня", "травня", "червня", "липня", "серпня", "вересня",
	  "жовтня", "листопада", "грудня" },
	{ "января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
	  "октября", "ноября", "декабря" },
};

/* "Dienstag, 24. November" / "Tuesday, 24 November" / "вівторок, 24 листопада" / "вторник, 24 ноября". */
static void date_words_in(enum asst_lang l, const struct civil *d, int acc, char *out, size_t outlen)
{
	int wd = civil_weekday(d);

	if (wd < 1 || wd > 7 || d->month < 1 || d->month > 12) {
		civil_format_date(d, out);
		return;
	}
	snprintf(out, outlen, l == ASST_DE ? "%s, %d. %s" : "%s, %d %s",
		 acc ? wd_acc[l][wd - 1] : wd_names[l][wd - 1], d->day, mon_names[l][d->month - 1]);
}

static void date_words(enum asst_lang l, const struct civil *d, char *out, size_t outlen)
{
	date_words_in(l, d, 0, out, outlen);
}

/* The same after "на": "неділю, 22 листопада". */
static void date_words_acc(enum asst_lang l, const struct civil *d, char *out, size_t outlen)
{
	date_words_in(l, d, 1, out, outlen);
}

/* "2. Dezember" / "2 December" / "2 грудня" / "2 декабря" (after "vom"/"from"/"з"/"с"). */
static void day_month(enum asst_lang l, const struct civil *d, char *out, size_t outlen)
{
	if (d->month < 1 || d->month > 12) {
		civil_format_date(d, out);
		return;
	}
	snprintf(out, outlen, l == ASST_DE ? "%d. %s" : "%d %s", d->day, mon_names[l][d->month - 1]);
}

/* Append texts[id][l] formatted with the arguments (the texts are the constant table above). */
static int say(struct buf *b, enum asst_lang l, enum msg_id id, ...)
{
	va_list ap;
	int rc;

	va_start(ap, id);
	rc = buf_vprintf(b, texts[id][l], ap);
	va_end(ap);
	return rc;
}

/* ------------------------------------------------------------------ the message in words */

struct tok {
	size_t s, e;          /* the trimmed word in the message: [s, e) */
	const char *w;        /* folded and trimmed, NUL-terminated */
	int used;             /* consumed by a date, time or e-mail */
};

struct msg {
	char clean[AGENT_MESSAGE_MAX + 1];   /* the message, invalid UTF-8 and controls as spaces */
	const char *raw;
	size_t len;
	char folded[AGENT_MESSAGE_MAX + 1];
	char arena[2 * AGENT_MESSAGE_MAX + 2];
	struct tok t[ASST_TOKENS_MAX];
	size_t n;
	int question;         /* the message contains '?' */
};

static int is_sep(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == ',' || ch == ';' ||
	       ch == '(' || ch == ')' || ch == '<' || ch == '>';
}

/* Copy the message into out[len + 1]: bytes that are not valid UTF-8, and control characters
 * other than \n and \t, become spaces (the API refuses them; this keeps every reply and the
 * stored state valid UTF-8 whoever calls). */
static void clean_copy(const char *msg, size_t len, char *out)
{
	const unsigned char *p = (const unsigned char *)msg;
	size_t i = 0, k;

	while (i < len) {
		k = utf8_seq_valid(p + i, len - i);
		if (k == 0 || (k == 1 && ((p[i] < 0x20 && p[i] != '\n' && p[i] != '\t') || p[i] == 0x7F)) ||
		    (k == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0)) {
			out[i++] = ' ';
			continue;
		}
		memcpy(out + i, p + i, k);
		i += k;
	}
	out[len] = '\0';
}

/* Split the message (at most AGENT_MESSAGE_MAX bytes) into words. */
static void msg_split(struct msg *m, const char *msg, size_t len)
{
	size_t i = 0, ai = 0;
	const char *raw;

	clean_copy(msg, len, m->clean);
	raw = m->raw = m->clean;
	m->len = len;
	m->n = 0;
	m->question = memchr(raw, '?', len) != NULL;
	fold(raw, len, m->folded);
	while (i < len && m->n < ASST_TOKENS_MAX) {
		size_t s, e, wl;
		char *w, *tw;

		while (i < len && is_sep(raw[i]))
			i++;
		if (i >= len)
			break;
		s = i;
		while (i < len && !is_sep(raw[i]))
			i++;
		e = i;
		w = m->arena + ai;
		memcpy(w, m->folded + s, e - s);
		w[e - s] = '\0';
		ai += e - s + 1;
		tw = word_trim(w);
		wl = strlen(tw);
		if (wl == 0)
			continue;
		m->t[m->n].s = s + (size_t)(tw - w);
		m->t[m->n].e = m->t[m->n].s + wl;
		m->t[m->n].w = tw;
		m->t[m->n].used = 0;
		m->n++;
	}
}

/* The message's text from word i to word j (inclusive) into out[outlen]; -1 when too long. */
static int msg_span(const struct msg *m, size_t i, size_t j, char *out, size_t outlen)
{
	size_t n = m->t[j].e - m->t[i].s;

	if (n + 1 > outlen)
		return -1;
	memcpy(out, m->raw + m->t[i].s, n);
	out[n] = '\0';
	return 0;
}

/* 1 when the folded word w starts with stem. */
static int starts_with(const char *w, const char *stem)
{
	return strncmp(w, stem, strlen(stem)) == 0;
}

/* Number of UTF-8 characters in s[0..n). */
static size_t chars_n(const char *s, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			k++;
	return k;
}

/* Byte length of the first k characters of s. */
static size_t chars_bytes(const char *s, size_t k)
{
	size_t i = 0;

	while (s[i] && k > 0) {
		i++;
		while (((unsigned char)s[i] & 0xC0) == 0x80)
			i++;
		k--;
	}
	return i;
}

/* ------------------------------------------------------------------ services */

/* 1 when a folded message word names service svc by a stem of one of its name's words: words of
 * at least 4 characters lose their last 2 characters (7 or more), 1 (5–6) or none (4), so
 * "Стрижка" matches "стрижку" and "Haircut" matches "haircuts". */
static int word_matches_service_name(const char *w, const char *name)
{
	char f[ASST_SVCNAME_MAX + 1];
	size_t n = strnlen(name, ASST_SVCNAME_MAX), i = 0;

	fold(name, n, f);
	while (i < n) {
		size_t s, len, chars, cut;

		while (i < n && (f[i] == ' ' || f[i] == '-' || f[i] == ',' || f[i] == '/' || f[i] == '(' ||
				 f[i] == ')'))
			i++;
		s = i;
		while (i < n && !(f[i] == ' ' || f[i] == '-' || f[i] == ',' || f[i] == '/' || f[i] == '(' ||
				  f[i] == ')'))
			i++;
		len = i - s;
		chars = chars_n(f + s, len);
		if (chars < 4)
			continue;
		cut = chars >= 7 ? 2 : chars >= 5 ? 1 : 0;
		len = chars_bytes(f + s, chars - cut);
		if (strncmp(w, f + s, len) == 0)
			return 1;
	}
	return 0;
}

/* The kind a folded word names (K_*), or -1. */
static int word_kind(const char *w)
{
	int k, i;

	for (k = 0; k < K_COUNT; k++) {
		for (i = 0; kind_stems[k][i]; i++)
			if (starts_with(w, kind_stems[k][i]))
				return k;
		for (i = 0; kind_parts[k][i]; i++)
			if (strstr(w, kind_parts[k][i]))
				return k;
	}
	return -1;
}

/* 1 when the service's name is of kind k (one of its words starts with one of the kind's stems,
 * or it contains one of the kind's compound parts). */
static int service_of_kind(const char *name, int k)
{
	char f[ASST_SVCNAME_MAX + 1];
	size_t n = strnlen(name, ASST_SVCNAME_MAX), i = 0;

	fold(name, n, f);
	for (i = 0; kind_parts[k][i]; i++)
		if (strstr(f, kind_parts[k][i]))
			return 1;
	for (i = 0; i < n; i++) {
		int j;

		if (i > 0 && !(f[i - 1] == ' ' || f[i - 1] == '-' || f[i - 1] == '/' || f[i - 1] == '('))
			continue;
		for (j = 0; kind_stems[k][j]; j++)
			if (starts_with(f + i, kind_stems[k][j]))
				return 1;
	}
	return 0;
}

/* The practice's service of kind k: preferably one that is not also a video service. -1 when none. */
static int service_for_kind(const struct asst_ctx *c, size_t nsvc, int k)
{
	size_t i;

	for (i = 0; i < nsvc; i++)
		if (service_of_kind(c->services[i].name, k) &&
		    (k == K_VIDEO || !service_of_kind(c->services[i].name, K_VIDEO)))
			return (int)i;
	for (i = 0; i < nsvc; i++)
		if (service_of_kind(c->services[i].name, k))
			return (int)i;
	return -1;
}

/* The service a folded word names: the practice's own names first, then the synonyms. Sets
 * *kind to the synonym's kind (or -1). Returns the service index or -1. */
static int word_service(const struct asst_ctx *c, size_t nsvc, const char *w, int *kind)
{
	size_t i;

	*kind = -1;
	if (strlen(w) < 3)
		return -1;
	for (i = 0; i < nsvc; i++)
		if (word_matches_service_name(w, c->services[i].name))
			return (int)i;
	*kind = word_kind(w);
	return *kind >= 0 ? service_for_kind(c, nsvc, *kind) : -1;
}

/* ------------------------------------------------------------------ names */

/* 1 when the raw word has only letters, '-' and apostrophes, and starts with a capital letter
 * (Latin, Latin-1, Cyrillic) when cap is set, else with any letter. */
static int looks_like_name(const char *raw, size_t n, int cap)
{
	const unsigned char *p = (const unsigned char *)raw;
	size_t i;
	int capital;

	if (n == 0)
		return 0;
	capital = (p[0] >= 'A' && p[0] <= 'Z') ||
		  (n > 1 && p[0] == 0xC3 && p[1] >= 0x80 && p[1] <= 0x9E && p[1] != 0x97) ||
		  (n > 1 && p[0] == 0xD0 && p[1] >= 0x80 && p[1] <= 0xAF) ||
		  (n > 1 && p[0] == 0xD2 && p[1] == 0x90);
	if (cap ? !capital : !(capital || (p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 0xC3 && p[0] <= 0xD4)))
		return 0;
	for (i = 0; i < n; i++) {
		if ((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') || p[i] == '-' ||
		    p[i] == '\'' || p[i] >= 0x80)
			continue;
		return 0;
	}
	return 1;
}

/* 1 when a folded word is a word of the dialogue rather than part of a name. */
static int is_vocab(const struct asst_ctx *c, size_t nsvc, const char *w)
{
	struct civil d;
	int kind;

	if (word_in(w, de_words) || word_in(w, en_words) || word_in(w, uk_words) ||
	    word_in(w, ru_words) || word_in(w, accept_words) || word_in(w, decline_words) ||
	    word_in(w, acc_verbs) || word_in(w, filler_words))
		return 1;
	if (word_service(c, nsvc, w, &kind) >= 0 || kind >= 0)
		return 1;
	return nlp_parse_date(w, c->today, &d) == 0;
}

static int is_vowel_end(const char *w, size_t n)
{
	static const char *const vowels[] = {
		"а", "е", "є", "и", "і", "ї", "о", "у", "ю", "я", "ы", "э", "ё", NULL
	};
	size_t i;

	for (i = 0; vowels[i]; i++) {
		size_t vl = strlen(vowels[i]);

		if (n >= vl && memcmp(w + n - vl, vowels[i], vl) == 0)
			return 1;
	}
	return 0;
}

static int ends_with(const char *w, const char *suf)
{
	size_t n = strlen(w), k = strlen(suf);

	return n >= k && strcmp(w + n - k, suf) == 0;
}

/* Replace the ending suf of word (cap bytes) by rep; nothing when it would not fit. */
static void replace_end(char *word, size_t cap, const char *suf, const char *rep)
{
	size_t n = strlen(word), k = strlen(suf);
	char tmp[ASST_NAME_MAX + 1];

	if (n < k || n - k + strlen(rep) + 1 > cap || n + 1 > sizeof(tmp))
		return;
	memcpy(tmp, word, n - k);
	tmp[n - k] = '\0';
	snprintf(word, cap, "%s%s", tmp, rep);
}

/*
 * A Cyrillic name after a booking verb ("Запишіть Марію Коваленко") stands in the accusative; it
 * is turned back into the nominative for the common endings. The gender comes from the first
 * name: an accusative in -у/-ю is female (Марію, Анну, Олену, Наталю), in -ія/-ия or in -а/-я after
 * a consonant male (Андрія, Дмитрия, Івана, Олега). Rules, word by word:
 *   female: -ію/-ию → -ія/-ия, -ую → -ая (Толстую), -ю → -я, -у → -а (Анну, Олену, Вишневську);
 *           -енка → -енко (a male surname: -енко does not decline for women); other endings do
 *           not decline (Коваленко, Шевчук, Кох) and stay;
 *   male:   -енка → -енко (Коваленка, Шевченка), -ького/-ського → -ький/-ський (uk),
 *           -кого/-ского → -кий/-ский (ru), -ія/-ия → -ій/-ий (Андрія, Дмитрия), -тра → -тро (uk:
 *           Петра, Дмитра), -ля → -ль (Василя, Коваля), -у → -а (Миколу), a consonant + -а or -я →
 *           without it (Івана, Олега, Петрова, Шевчука, Ігоря).
 * Foreign and Latin names are left as written. Words are rewritten in their folded-case-free
 * original spelling (only the ending changes, so the capital letter stays).
 */
static void name_nominative(char *name, size_t cap, enum asst_lang l)
{
	char words[ASST_NAME_WORDS][ASST_NAME_MAX + 1];
	size_t nw = 0, i, p = 0, len = strlen(name);
	int female = -1;

	while (p < len && nw < ASST_NAME_WORDS) {
		size_t s;

		while (p < len && name[p] == ' ')
			p++;
		s = p;
		while (p < len && name[p] != ' ')
			p++;
		if (p > s && p - s <= ASST_NAME_MAX) {
			memcpy(words[nw], name + s, p - s);
			words[nw][p - s] = '\0';
			nw++;
		}
	}
	if (nw == 0 || !is_cyr_lead((unsigned char)words[0][0]))
		return;
	if (ends_with(words[0], "у") || ends_with(words[0], "ю"))
		female = 1;
	else if (ends_with(words[0], "ія") || ends_with(words[0], "ия") ||
		 ((ends_with(words[0], "а") || ends_with(words[0], "я")) &&
		  !is_vowel_end(words[0], strlen(words[0]) - 2)))
		female = 0;
	if (female < 0)
		return;
	for (i = 0; i < nw; i++) {
		char *w = words[i];
		size_t cw = sizeof(words[i]);

		if (!is_cyr_lead((unsigned char)w[0]))
			continue;
		if (female) {
			if (ends_with(w, "енка"))   /* -енко never declines for women: a male surname */
				replace_end(w, cw, "енка", "енко");
			else if (ends_with(w, "ію"))
				replace_end(w, cw, "ію", "ія");
			else if (ends_with(w, "ию"))
				replace_end(w, cw, "ию", "ия");
			else if (ends_with(w, "ую"))
				replace_end(w, cw, "ую", "ая");
			else if (ends_with(w, "ю"))
				replace_end(w, cw, "ю", "я");
			else if (ends_with(w, "у"))
				replace_end(w, cw, "у", "а");
			continue;
		}
		if (ends_with(w, "енка"))
			replace_end(w, cw, "енка", "енко");
		else if (ends_with(w, "ького"))
			replace_end(w, cw, "ького", "ький");
		else if (ends_with(w, "ського"))
			replace_end(w, cw, "ського", "ський");
		else if (ends_with(w, "кого"))
			replace_end(w, cw, "кого", "кий");
		else if (ends_with(w, "ія"))
			replace_end(w, cw, "ія", "ій");
		else if (ends_with(w, "ия"))
			replace_end(w, cw, "ия", "ий");
		else if (l == ASST_UK && ends_with(w, "тра"))
			replace_end(w, cw, "тра", "тро");
		else if (ends_with(w, "ля"))
			replace_end(w, cw, "ля", "ль");
		else if (ends_with(w, "у"))
			replace_end(w, cw, "у", "а");
		else if ((ends_with(w, "а") || ends_with(w, "я")) && strlen(w) > 4 &&
			 !is_vowel_end(w, strlen(w) - 2))
			w[strlen(w) - 2] = '\0';
	}
	name[0] = '\0';
	p = 0;
	for (i = 0; i < nw && p < cap; i++)
		p += (size_t)snprintf(name + p, cap - p, "%s%s", i ? " " : "", words[i]);
}

/* ------------------------------------------------------------------ reading a message */

struct found {
	int have_date;
	struct civil date;
	int have_time, hh, mm;
	int svc;                       /* index into the services, or -1 */
	int unknown_service;           /* a service word the practice does not offer */
	char name[ASST_NAME_MAX + 1];
	char email[ASST_EMAIL_MAX + 1];
	char bad_email[80];            /* an address that is not valid (shortened for the reply) */
	int accept, decline, command;
	int part;                      /* a part of the day asked for (PART_*) */
};

/* Try the windows of 1..maxw unused words starting at each word; the last phrase understood
 * wins. kind 0 = time, 1 = date. */
static void find_phrases(const struct asst_ctx *c, struct msg *m, int kind, struct found *f)
{
	char span[NLP_INPUT_MAX + 1];
	size_t i, len, k, maxw = kind ? ASST_DATE_WORDS : ASST_TIME_WORDS;

	for (i = 0; i < m->n; i++) {
		for (len = maxw; len >= 1; len--) {
			int ok = 1;

			if (i + len > m->n)
				continue;
			for (k = i; k < i + len; k++)
				if (m->t[k].used)
					ok = 0;
			if (!ok || msg_span(m, i, i + len - 1, span, sizeof(span)) < 0)
				continue;
			if (kind == 0) {
				int h, mi;

				if (nlp_parse_time(span, &h, &mi) < 0)
					continue;
				f->have_time = 1;
				f->hh = h;
				f->mm = mi;
			} else {
				struct civil d;

				if (nlp_parse_date(span, c->today, &d) < 0)
					continue;
				f->have_date = 1;
				f->date = d;
			}
			for (k = i; k < i + len; k++)
				m->t[k].used = 1;
			i += len - 1;
			break;
		}
	}
}

/* 1 when word j of the message can be part of a name (cap: it must have its capital). */
static int name_word(const struct asst_ctx *c, size_t nsvc, const struct msg *m, size_t j, int cap)
{
	return !m->t[j].used && looks_like_name(m->raw + m->t[j].s, m->t[j].e - m->t[j].s, cap) &&
	       !is_vocab(c, nsvc, m->t[j].w);
}

/* The number of name words from word i on (at most ASST_NAME_WORDS). */
static size_t name_run_fwd(const struct asst_ctx *c, size_t nsvc, const struct msg *m, size_t i, int cap)
{
	size_t j = i;

	while (j < m->n && j - i < ASST_NAME_WORDS && name_word(c, nsvc, m, j, cap))
		j++;
	return j - i;
}

/* Join words [a, a + n) of the message with single spaces into f->name. */
static void take_name(const struct msg *m, size_t a, size_t n, enum asst_lang l, struct found *f)
{
	struct buf b;
	size_t k;

	buf_init(&b, ASST_NAME_MAX);
	for (k = a; k < a + n; k++)
		if ((k > a && buf_putc(&b, ' ') < 0) ||
		    buf_append(&b, m->raw + m->t[k].s, m->t[k].e - m->t[k].s) < 0)
			break;
	if (k == a + n && b.len > 0) {
		str_copy(f->name, b.data, sizeof(f->name));
		if (a > 0 && word_in(m->t[a - 1].w, acc_verbs))
			name_nominative(f->name, sizeof(f->name), l);
	}
	buf_free(&b);
}

/* The patient's name, in this order: after a marker, after a booking verb (accusative turned
 * into the nominative), next to the e-mail address (word email_at, or m->n when none), or the
 * whole message when the assistant asked for the name (awaiting). */
static void find_name(const struct asst_ctx *c, size_t nsvc, const struct msg *m, size_t email_at,
		      int awaiting, enum asst_lang l, struct found *f)
{
	size_t i, k, n;

	/* a marker: "ich heiße …", "my name is …", "мене звати …", "for …" */
	for (i = 0; i < m->n; i++) {
		for (k = 0; k < TF_ARRAY_LEN(name_markers); k++) {
			const char *const *mw = name_markers[k].w;
			size_t w = 0;

			while (mw[w] && i + w < m->n && strcmp(m->t[i + w].w, mw[w]) == 0)
				w++;
			if (mw[w] || w == 0)
				continue;
			n = name_run_fwd(c, nsvc, m, i + w, !name_markers[k].strong);
			if (n > 0) {
				take_name(m, i + w, n, l, f);
				return;
			}
		}
	}
	/* after a booking verb: "Запишіть Марію Коваленко …" */
	for (i = 0; i + 1 < m->n; i++) {
		if (!word_in(m->t[i].w, acc_verbs))
			continue;
		n = name_run_fwd(c, nsvc, m, i + 1, 1);
		if (n > 0) {
			take_name(m, i + 1, n, l, f);
			return;
		}
	}
	/* next to the e-mail address: before it, else after it (in small letters too when the
	 * assistant asked for the name) */
	if (email_at < m->n) {
		size_t a = email_at;

		while (a > 0 && email_at - a < ASST_NAME_WORDS && name_word(c, nsvc, m, a - 1, !awaiting))
			a--;
		if (a < email_at) {
			take_name(m, a, email_at - a, l, f);
			return;
		}
		n = name_run_fwd(c, nsvc, m, email_at + 1, !awaiting);
		if (n > 0) {
			take_name(m, email_at + 1, n, l, f);
			return;
		}
	}
	/* only a name (any case), when the assistant asked for it */
	if (awaiting && m->n > 0 && m->n <= ASST_NAME_WORDS && name_run_fwd(c, nsvc, m, 0, 0) == m->n)
		take_name(m, 0, m->n, l, f);
}

/* A German or English booking command ("buchen Sie", "bitte buchen", "book it", "please book"),
 * or a Ukrainian/Russian imperative ("запишіть", "запишите"). Wishes ("ich möchte … buchen", "I
 * want to book", "can I book …?") are not commands. */
static int is_command(const struct msg *m)
{
	static const char *const modals[] = {
		"möchte", "moechte", "würde", "wuerde", "kann", "könnte", "koennte", "will", "wollte",
		"möchten", NULL
	};
	static const char *const en_before[] = { "to", "i", "can", "could", "we", "you", NULL };
	int bitte = 0, modal = 0;
	size_t i;

	for (i = 0; i < m->n; i++) {
		if (word_in(m->t[i].w, cyr_commands))
			return 1;
		if (strcmp(m->t[i].w, "bitte") == 0)
			bitte = 1;
		if (word_in(m->t[i].w, modals))
			modal = 1;
	}
	for (i = 0; i < m->n; i++) {
		const char *w = m->t[i].w;

		if (strcmp(w, "buche") == 0)
			return 1;
		if (strcmp(w, "buchen") == 0 || strcmp(w, "reservieren") == 0 || strcmp(w, "tragen") == 0) {
			if (i + 1 < m->n && strcmp(m->t[i + 1].w, "sie") == 0 && !m->question)
				return 1;
			if (bitte && !modal && !m->question && strcmp(w, "tragen") != 0)
				return 1;
		}
		if ((strcmp(w, "book") == 0 || strcmp(w, "reserve") == 0) && !m->question &&
		    (i == 0 || !word_in(m->t[i - 1].w, en_before)))
			return 1;
	}
	return 0;
}

/*
 * A full hour after a time preposition without minutes ("о 10", "в 12", "um 10", "at 10"), which
 * nlp_parse_time refuses alone: read as "10:00" by nlp_parse_time, after dates took their words
 * ("на 10 грудня" is a date) and only for 6..22 not followed by a unit ("на 2 дні").
 */
static void bare_hour(struct msg *m, struct found *f)
{
	static const char *const preps[] = {
		"о", "об", "в", "во", "на", "um", "at", "gegen", NULL
	};
	static const char *const units[] = {
		"дні", "днів", "дня", "дней", "день", "days", "day", "tage", "tagen", "tag", "хвилин",
		"минут", "minuten", "minutes", "min", "годин", "години", "часов", "часа", "hours",
		"stunden", "человек", "людей", "людини", "personen", "people", "persons", "числа",
		"число", "недель", "тижні", "weeks", "wochen", NULL
	};
	size_t i;

	if (f->have_time)
		return;
	for (i = 0; i + 1 < m->n; i++) {
		const char *w = m->t[i + 1].w;
		char hm[8];
		long h;
		int hh, mm;

		if (m->t[i].used || m->t[i + 1].used || !word_in(m->t[i].w, preps) ||
		    str_to_long(w, 6, 22, &h) < 0 || strlen(w) > 2 ||
		    (i + 2 < m->n && word_in(m->t[i + 2].w, units)))
			continue;
		snprintf(hm, sizeof(hm), "%ld:00", h);
		if (nlp_parse_time(hm, &hh, &mm) < 0)
			continue;
		f->have_time = 1;
		f->hh = hh;
		f->mm = mm;
		m->t[i].used = m->t[i + 1].used = 1;
	}
}

/* Read every field of the message at once into f: the e-mail address, the time and date (nlp.h
 * on word windows, times first; the words they use are not read again), a service, acceptance,
 * refusal, a booking command and the name. awaiting_name: the assistant asked for the name. */
static void extract(const struct asst_ctx *c, size_t nsvc, struct msg *m, enum asst_lang l,
		    int awaiting_name, struct found *f)
{
	size_t i, email_at = m->n, bad_at = m->n;
	int kind_seen = -1, video = -1;

	memset(f, 0, sizeof(*f));
	f->svc = -1;
	/* the e-mail address: the last word with an '@' */
	for (i = 0; i < m->n; i++) {
		size_t n = m->t[i].e - m->t[i].s;

		if (!memchr(m->raw + m->t[i].s, '@', n))
			continue;
		m->t[i].used = 1;
		if (n <= ASST_EMAIL_MAX) {
			char e[ASST_EMAIL_MAX + 1];

			memcpy(e, m->raw + m->t[i].s, n);
			e[n] = '\0';
			if (strncmp(e, "mailto:", 7) != 0 && doctor_email_valid(e)) {
				str_copy(f->email, e, sizeof(f->email));
				f->bad_email[0] = '\0';
				email_at = i;
				continue;
			}
		}
		bad_at = i;
		n = chars_bytes(m->raw + m->t[i].s, 40);
		if (n > m->t[i].e - m->t[i].s)
			n = m->t[i].e - m->t[i].s;
		memcpy(f->bad_email, m->raw + m->t[i].s, n);
		f->bad_email[n] = '\0';
	}
	find_phrases(c, m, 0, f);
	find_phrases(c, m, 1, f);
	bare_hour(m, f);
	/* the service: the first one named; a video service when a video word is there too */
	for (i = 0; i < m->n; i++) {
		int kind, s;

		if (m->t[i].used)
			continue;
		s = word_service(c, nsvc, m->t[i].w, &kind);
		if (kind == K_VIDEO && s >= 0 && video < 0)
			video = s;
		if (s >= 0 && f->svc < 0)
			f->svc = s;
		if (kind >= 0 && kind_seen < 0)
			kind_seen = kind;
	}
	if (video >= 0)
		f->svc = video;
	if (f->svc < 0 && kind_seen >= 0)
		f->unknown_service = 1;
	for (i = 0; i < m->n; i++) {
		if (word_in(m->t[i].w, accept_words))
			f->accept = 1;
		if (word_in(m->t[i].w, decline_words))
			f->decline = 1;
	}
	if (f->decline)
		f->accept = 0;
	f->command = is_command(m);
	for (i = 0; i < m->n; i++) {
		int p;

		/* not in a greeting: "Guten Abend", "good morning", "добрий вечір", "доброе утро" */
		if (i > 0 && (strcmp(m->t[i - 1].w, "guten") == 0 || strcmp(m->t[i - 1].w, "good") == 0 ||
			      starts_with(m->t[i - 1].w, "добр")))
			continue;
		for (p = PART_MORNING; p <= PART_EVENING; p++)
			if (word_in(m->t[i].w, part_words[p]))
				f->part = p;
	}
	find_name(c, nsvc, m, email_at < m->n ? email_at : bad_at, awaiting_name, l, f);
}

/* ------------------------------------------------------------------ the conversation's state */

enum phase { PH_COLLECT, PH_OFFERED, PH_DETAILS, PH_CONFIRM, PH_BOOKED, PH_COUNT };
static const char *const phase_names[PH_COUNT] = { "collect", "offered", "details", "confirm", "booked" };

struct st {
	enum asst_lang lang;
	int have_lang;
	enum phase phase;
	int svc;                           /* index into the services, or -1 */
	int have_date;
	struct civil date;
	int have_time, hh, mm;
	char name[ASST_NAME_MAX + 1];
	char email[ASST_EMAIL_MAX + 1];
	int have_offer;                    /* the times last offered: */
	struct civil offer_date;
	int offer_minutes;                 /* for this duration */
	int offer[ASST_OFFER_MAX + 1];     /* minutes after midnight (+ one time checked free) */
	size_t noffer;
	int decided;                       /* the patient chose to book these details */
	long long booked_id;
};

static void st_init(struct st *st)
{
	memset(st, 0, sizeof(*st));
	st->svc = -1;
	st->phase = PH_COLLECT;
}

/* "HH:MM" strictly → minutes after midnight; -1 when malformed. */
static int parse_hhmm(const char *s)
{
	if (!s || strlen(s) != 5 || s[2] != ':')
		return -1;
	if (s[0] < '0' || s[0] > '2' || s[1] < '0' || s[1] > '9' || s[3] < '0' || s[3] > '5' ||
	    s[4] < '0' || s[4] > '9')
		return -1;
	if ((s[0] - '0') * 10 + (s[1] - '0') > 23)
		return -1;
	return ((s[0] - '0') * 10 + (s[1] - '0')) * 60 + (s[3] - '0') * 10 + (s[4] - '0');
}

static int text_clean(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1), i;

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
			return 0;
	return 1;
}

static const char *const state_keys[] = {
	"v", "lang", "phase", "decided", "service", "date", "time", "name", "email", "offer_date",
	"offer_minutes", "offered", "booked_id", NULL
};

/* Read the state this file wrote. Returns 0, or -1 when the object is not one of ours (an
 * unknown key, a wrong type, a value out of its range): the caller starts afresh. A service the
 * practice no longer offers is dropped (not an error). */
static int st_load(const struct asst_ctx *c, size_t nsvc, json_t *o, struct st *st)
{
	const char *k;
	json_t *v;
	size_t i;
	int l, t;

	st_init(st);
	if (json_object_size(o) == 0)
		return 0;
	if (json_object_size(o) > TF_ARRAY_LEN(state_keys))
		return -1;
	json_object_foreach(o, k, v)
		if (!word_in(k, state_keys))
			return -1;
	v = json_object_get(o, "v");
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		return -1;
	v = json_object_get(o, "lang");
	if (!json_is_string(v))
		return -1;
	for (l = 0; l < 4 && strcmp(json_string_value(v), asst_lang_code((enum asst_lang)l)) != 0; l++)
		;
	if (l == 4)
		return -1;
	st->lang = (enum asst_lang)l;
	st->have_lang = 1;
	v = json_object_get(o, "phase");
	if (!json_is_string(v))
		return -1;
	for (t = 0; t < PH_COUNT && strcmp(json_string_value(v), phase_names[t]) != 0; t++)
		;
	if (t == PH_COUNT)
		return -1;
	st->phase = (enum phase)t;
	v = json_object_get(o, "decided");
	if (!json_is_boolean(v))
		return -1;
	st->decided = json_is_true(v);
	if ((v = json_object_get(o, "service")) != NULL) {
		if (!json_is_string(v) || !text_clean(json_string_value(v), ASST_SVCNAME_MAX))
			return -1;
		for (i = 0; i < nsvc; i++)
			if (strcmp(c->services[i].name, json_string_value(v)) == 0)
				st->svc = (int)i;
	}
	if ((v = json_object_get(o, "date")) != NULL) {
		if (!json_is_string(v) || civil_parse_date(json_string_value(v), &st->date) < 0)
			return -1;
		st->have_date = 1;
	}
	if ((v = json_object_get(o, "time")) != NULL) {
		if (!json_is_string(v) || (t = parse_hhmm(json_string_value(v))) < 0)
			return -1;
		st->have_time = 1;
		st->hh = t / 60;
		st->mm = t % 60;
	}
	if ((v = json_object_get(o, "name")) != NULL) {
		if (!json_is_string(v) || !text_clean(json_string_value(v), ASST_NAME_MAX))
			return -1;
		str_copy(st->name, json_string_value(v), sizeof(st->name));
	}
	if ((v = json_object_get(o, "email")) != NULL) {
		if (!json_is_string(v) || !text_clean(json_string_value(v), ASST_EMAIL_MAX) ||
		    !doctor_email_valid(json_string_value(v)))
			return -1;
		str_copy(st->email, json_string_value(v), sizeof(st->email));
	}
	if ((v = json_object_get(o, "offered")) != NULL) {
		json_t *od = json_object_get(o, "offer_date"), *om = json_object_get(o, "offer_minutes"), *e;

		if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > ASST_OFFER_MAX + 1 ||
		    !json_is_string(od) || civil_parse_date(json_string_value(od), &st->offer_date) < 0 ||
		    !json_is_integer(om) || json_integer_value(om) < 5 || json_integer_value(om) > 600)
			return -1;
		st->offer_minutes = (int)json_integer_value(om);
		json_array_foreach(v, i, e) {
			if (!json_is_string(e) || (t = parse_hhmm(json_string_value(e))) < 0)
				return -1;
			st->offer[i] = t;
		}
		st->noffer = json_array_size(v);
		st->have_offer = 1;
	} else if (json_object_get(o, "offer_date") || json_object_get(o, "offer_minutes")) {
		return -1;
	}
	if ((v = json_object_get(o, "booked_id")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1)
			return -1;
		st->booked_id = json_integer_value(v);
	}
	return 0;
}

static int set_str(json_t *o, const char *k, const char *v)
{
	return json_object_set_new(o, k, json_string(v));
}

static void fmt_time(int minutes, char out[6])
{
	unsigned m = minutes >= 0 ? (unsigned)minutes : 0;

	snprintf(out, 6, "%02u:%02u", (m / 60) % 24, m % 60);
}

/* Write st into o (replacing what was there). 0 or -1 (out of memory). */
static int st_save(const struct asst_ctx *c, const struct st *st, json_t *o)
{
	char d[11], t[6];
	size_t i;

	json_object_clear(o);
	if (json_object_set_new(o, "v", json_integer(1)) < 0 ||
	    set_str(o, "lang", asst_lang_code(st->lang)) < 0 ||
	    set_str(o, "phase", phase_names[st->phase]) < 0 ||
	    json_object_set_new(o, "decided", json_boolean(st->decided)) < 0)
		return -1;
	if (st->svc >= 0 && set_str(o, "service", c->services[st->svc].name) < 0)
		return -1;
	if (st->have_date) {
		civil_format_date(&st->date, d);
		if (set_str(o, "date", d) < 0)
			return -1;
	}
	if (st->have_time) {
		fmt_time(st->hh * 60 + st->mm, t);
		if (set_str(o, "time", t) < 0)
			return -1;
	}
	if (st->name[0] && set_str(o, "name", st->name) < 0)
		return -1;
	if (st->email[0] && set_str(o, "email", st->email) < 0)
		return -1;
	if (st->have_offer && st->noffer > 0) {
		json_t *a = json_array();

		if (!a || json_object_set_new(o, "offered", a) < 0)
			return -1;
		for (i = 0; i < st->noffer; i++) {
			fmt_time(st->offer[i], t);
			if (json_array_append_new(a, json_string(t)) < 0)
				return -1;
		}
		civil_format_date(&st->offer_date, d);
		if (set_str(o, "offer_date", d) < 0 ||
		    json_object_set_new(o, "offer_minutes", json_integer(st->offer_minutes)) < 0)
			return -1;
	}
	if (st->booked_id > 0 && json_object_set_new(o, "booked_id", json_integer(st->booked_id)) < 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------------ tools */

/* check_calendar_availability for a date: the free starts in minutes after midnight, ascending,
 * into slots[max]. Returns the count, -1 when the tool failed, -2 when out of memory. */
static long check_day(const struct asst_ctx *c, const struct civil *d, int duration, int *slots,
		      size_t max)
{
	char ds[11];
	json_t *args, *res, *arr, *e;
	size_t i, n = 0;
	long rc = -1;

	civil_format_date(d, ds);
	args = json_pack("{s:s, s:i}", "date", ds, "duration_minutes", duration);
	if (!args)
		return -2;
	res = c->tool(c->tool_ud, "check_calendar_availability", args);
	json_decref(args);
	if (!res)
		return -2;
	arr = json_object_get(res, "slots");
	if (json_is_true(json_object_get(res, "ok")) && json_is_array(arr)) {
		json_array_foreach(arr, i, e) {
			int t = json_is_string(e) ? parse_hhmm(json_string_value(e)) : -1;

			if (t < 0 || (n > 0 && t <= slots[n - 1]))
				continue;    /* not the format agreed, or out of order: ignored */
			if (n < max)
				slots[n++] = t;
		}
		rc = (long)n;
	}
	json_decref(res);
	return rc;
}

/* Up to ASST_OFFER_MAX times spread over the day: the full hours when there are at least 4 of
 * them, else all slots; evenly picked when there are more. Returns how many; *more is set when
 * some free times are not shown. */
static size_t compact(const int *slots, size_t n, int *out, int *more)
{
	int full[ASST_SLOTS_MAX];
	const int *src = slots;
	size_t nf = 0, m = n, i;

	for (i = 0; i < n && nf < ASST_SLOTS_MAX; i++)
		if (slots[i] % 60 == 0)
			full[nf++] = slots[i];
	if (nf >= 4) {
		src = full;
		m = nf;
	}
	*more = m < n || m > ASST_OFFER_MAX;
	if (m <= ASST_OFFER_MAX) {
		memcpy(out, src, m * sizeof(*out));
		return m;
	}
	for (i = 0; i < ASST_OFFER_MAX; i++)
		out[i] = src[i * (m - 1) / (ASST_OFFER_MAX - 1)];
	return ASST_OFFER_MAX;
}

/* ------------------------------------------------------------------ the dialogue */

static int services_list(const struct asst_ctx *c, size_t nsvc, enum asst_lang l, struct buf *b)
{
	size_t i;

	for (i = 0; i < nsvc; i++) {
		if (i > 0 && buf_printf(b, i + 1 == nsvc ? " %s " : ", ", or_word[l]) < 0)
			return -1;
		if (buf_puts(b, c->services[i].name) < 0)
			return -1;
	}
	return 0;
}

/* Say text id with the list of services as its one argument. */
static int say_services(const struct asst_ctx *c, size_t nsvc, enum asst_lang l, enum msg_id id,
			struct buf *reply)
{
	struct buf list;
	int rc;

	buf_init(&list, ASST_SERVICES_MAX * (ASST_SVCNAME_MAX + 16));
	rc = services_list(c, nsvc, l, &list);
	if (rc == 0)
		rc = say(reply, l, id, list.data ? list.data : "");
	buf_free(&list);
	return rc;
}

static int min_duration(const struct asst_ctx *c, size_t nsvc)
{
	int d = 0;
	size_t i;

	for (i = 0; i < nsvc; i++)
		if (c->services[i].duration >= 5 && c->services[i].duration <= 600 &&
		    (d == 0 || c->services[i].duration < d))
			d = c->services[i].duration;
	return d ? d : 30;
}

static int st_duration(const struct asst_ctx *c, size_t nsvc, const struct st *st)
{
	if (st->svc >= 0 && c->services[st->svc].duration >= 5 && c->services[st->svc].duration <= 600)
		return c->services[st->svc].duration;
	return min_duration(c, nsvc);
}

static int same_day(const struct civil *a, const struct civil *b)
{
	return a->year == b->year && a->month == b->month && a->day == b->day;
}

/* Offer free times of st->date (slots[n] as checked): when the day has none, the next day within
 * ASST_LOOKAHEAD days that has some. taken: the time asked for that is not free, or -1. part:
 * the part of the day asked for (its times only, when it has free ones). Returns 0, or -1 when
 * out of memory. */
static int offer_times(const struct asst_ctx *c, size_t nsvc, struct st *st, int *slots, long n,
		       int taken, int part, struct buf *reply)
{
	enum asst_lang l = st->lang;
	struct civil asked = st->date;
	char dw[80], tw[6];
	int shown[ASST_OFFER_MAX], more, k;
	size_t ns, i;

	date_words(l, &st->date, dw, sizeof(dw));
	if (taken >= 0) {
		fmt_time(taken, tw);
		if (say(reply, l, M_TAKEN, dw, tw) < 0)
			return -1;
	}
	st->have_time = 0;
	st->decided = 0;
	if (n == 0) {
		struct civil d = st->date;

		date_words_acc(l, &st->date, dw, sizeof(dw));
		if (taken < 0 && say(reply, l, M_NONE_NEXT, dw) < 0)
			return -1;
		for (k = 1; k <= ASST_LOOKAHEAD && n == 0; k++) {
			civil_add_days(&d, 1);
			n = check_day(c, &d, st_duration(c, nsvc, st), slots, ASST_SLOTS_MAX);
			if (n == -2)
				return -1;
			if (n < 0)
				n = 0;
		}
		if (n == 0) {
			char first[80], last[80];
			struct civil d1 = st->date;

			civil_add_days(&d1, 1);
			day_month(l, &d1, first, sizeof(first));
			day_month(l, &d, last, sizeof(last));
			st->have_date = 0;
			st->have_offer = 0;
			st->phase = PH_COLLECT;
			return say(reply, l, M_NONE_WEEK, first, last);
		}
		st->date = d;
	}
	date_words_acc(l, &st->date, dw, sizeof(dw));
	/* the part of the day asked for, when it has free times */
	if (part != PART_ANY) {
		size_t kept = 0;

		for (i = 0; i < (size_t)n; i++)
			if (slots[i] >= part_range[part][0] && slots[i] < part_range[part][1])
				kept++;
		if (kept > 0) {
			size_t j = 0;

			for (i = 0; i < (size_t)n; i++)
				if (slots[i] >= part_range[part][0] && slots[i] < part_range[part][1])
					slots[j++] = slots[i];
			n = (long)j;
		}
	}
	ns = compact(slots, (size_t)n, shown, &more);
	{
		struct buf list;
		int rc = 0;

		buf_init(&list, 256);
		for (i = 0; i < ns && rc == 0; i++) {
			fmt_time(shown[i], tw);
			rc = buf_printf(&list, "%s%s", i ? ", " : "", tw);
		}
		if (rc == 0 && taken >= 0 && same_day(&asked, &st->date))   /* the day was just named */
			rc = say(reply, l, more ? M_OFFER_SAME_MORE : M_OFFER_SAME, list.data ? list.data : "");
		else if (rc == 0)
			rc = say(reply, l, more ? M_OFFER_MORE : M_OFFER, dw, list.data ? list.data : "");
		buf_free(&list);
		if (rc < 0)
			return -1;
	}
	memcpy(st->offer, shown, ns * sizeof(*shown));
	st->noffer = ns;
	st->offer_date = st->date;
	st->offer_minutes = st_duration(c, nsvc, st);
	st->have_offer = 1;
	st->phase = PH_OFFERED;
	return 0;
}

/* Book with the details in st. Returns 0 or -1 (out of memory). */
static int book(const struct asst_ctx *c, size_t nsvc, struct st *st, struct buf *reply)
{
	enum asst_lang l = st->lang;
	const char *svc = c->services[st->svc].name;
	char ds[11], tw[6], dw[80];
	json_t *args, *res, *appt;
	const char *err, *field;
	int rc = 0;

	civil_format_date(&st->date, ds);
	fmt_time(st->hh * 60 + st->mm, tw);
	date_words(l, &st->date, dw, sizeof(dw));
	args = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:b}", "customer_name", st->name,
			 "customer_email", st->email, "service", svc, "date", ds, "time", tw,
			 "duration_minutes", st_duration(c, nsvc, st),
			 "create_meet", service_of_kind(svc, K_VIDEO));
	if (!args)
		return -1;
	res = c->tool(c->tool_ud, "book_appointment", args);
	json_decref(args);
	if (!res)
		return -1;
	if (json_is_true(json_object_get(res, "ok"))) {
		appt = json_object_get(res, "appointment");
		st->booked_id = json_is_integer(json_object_get(appt, "id")) ?
				json_integer_value(json_object_get(appt, "id")) : 0;
		st->phase = PH_BOOKED;
		st->decided = 0;
		st->have_offer = 0;
		rc = say(reply, l, M_BOOKED, svc, dw, tw, st->email);
		goto out;
	}
	err = json_string_value(json_object_get(res, "error"));
	field = json_string_value(json_object_get(res, "field"));
	if (err && (strcmp(err, "slot_taken") == 0 || strcmp(err, "outside_hours") == 0)) {
		int slots[ASST_SLOTS_MAX];
		long n = check_day(c, &st->date, st_duration(c, nsvc, st), slots, ASST_SLOTS_MAX);

		if (n == -2) {
			rc = -1;
		} else if (n < 0) {
			rc = say(reply, l, M_ERROR);
		} else {
			rc = offer_times(c, nsvc, st, slots, n, st->hh * 60 + st->mm, PART_ANY, reply);
		}
	} else if (err && field && strcmp(field, "customer_email") == 0) {
		rc = say(reply, l, M_BAD_EMAIL, st->email);
		st->email[0] = '\0';
		st->phase = PH_DETAILS;
	} else if (err && field && strcmp(field, "customer_name") == 0) {
		st->name[0] = '\0';
		st->phase = PH_DETAILS;
		rc = say(reply, l, M_ASK_NAME);
	} else {
		rc = say(reply, l, M_ERROR);
	}
out:
	json_decref(res);
	return rc;
}

/*
 * The rules after the message was read (see asst_turn in assistant.h). 0 or -1.
 *
 * Phases (stored): collect (asking for service and day), offered (free times shown), details (the
 * time is free; asking for service, name or e-mail), confirm (the summary asked "shall I book?"),
 * booked. Decisions written down here:
 * - A later message overrides a field; a changed day drops the time unless a new one is given.
 * - "decided" (the patient chose to book) is set by a booking command, an acceptance word
 *   (passt/yes/підходить/да …, not after a refusal word in the same message), or a time given
 *   right after times were offered; it is cleared when an already set service, day or time
 *   changes. With every detail known and a free time, decided books, otherwise the summary asks.
 * - A refusal (nein/no/ні/нет …) with nothing new, after the summary or an offer, books nothing
 *   and drops the time.
 * - No service yet (several offered): the day's times are checked with the shortest service's
 *   duration, and the service is asked for with the name and e-mail; a single service is taken.
 * - A time is free when the check tool lists it for the day and duration (or it was checked in
 *   an earlier turn of this conversation); the booking tool checks again (slot_taken → offer).
 */
static int dialogue(const struct asst_ctx *c, size_t nsvc, struct st *st, const struct found *f,
		    struct buf *reply)
{
	enum asst_lang l = st->lang;
	enum phase prev = st->phase;
	int changed = 0, free_time = 0, slots[ASST_SLOTS_MAX], t;
	char dw[80], tw[6];
	size_t i;

	if (nsvc == 0)
		return say(reply, l, M_NO_SERVICES);
	if (prev == PH_BOOKED) {
		if (f->svc < 0 && !f->have_date && !f->have_time && !f->unknown_service)
			return say(reply, l, M_AFTER);
		st->svc = -1;            /* a new booking; name and e-mail are kept */
		st->have_date = st->have_time = st->have_offer = st->decided = 0;
		st->booked_id = 0;
		st->phase = prev = PH_COLLECT;
	}
	if (f->svc >= 0) {
		changed |= st->svc >= 0 && st->svc != f->svc;
		st->svc = f->svc;
	}
	if (f->have_date) {
		if (st->have_date && !same_day(&st->date, &f->date)) {
			changed = 1;
			if (!f->have_time)
				st->have_time = 0;
		}
		st->date = f->date;
		st->have_date = 1;
	}
	if (f->have_time) {
		changed |= st->have_time && (st->hh != f->hh || st->mm != f->mm);
		st->have_time = 1;
		st->hh = f->hh;
		st->mm = f->mm;
	}
	if (f->email[0])
		str_copy(st->email, f->email, sizeof(st->email));
	if (f->name[0])
		str_copy(st->name, f->name, sizeof(st->name));
	if (changed)
		st->decided = 0;
	if (f->decline && f->svc < 0 && !f->have_date && !f->have_time &&
	    (prev == PH_CONFIRM || prev == PH_OFFERED)) {
		st->decided = 0;
		st->have_time = 0;
		st->phase = PH_COLLECT;
		return say(reply, l, M_DECLINED);
	}
	if (f->command || f->accept || (prev == PH_OFFERED && f->have_time))
		st->decided = 1;
	if (nsvc == 1)
		st->svc = 0;
	if (f->unknown_service && f->svc < 0)
		return say_services(c, nsvc, l, M_UNKNOWN_SERVICE, reply);
	if (f->bad_email[0] && !f->email[0])
		return say(reply, l, M_BAD_EMAIL, f->bad_email);
	if (!st->have_date) {
		st->phase = PH_COLLECT;
		if (st->svc < 0)
			return say_services(c, nsvc, l, M_ASK_SERVICE_DAY, reply);
		return say(reply, l, M_ASK_DAY);
	}
	if (civil_to_days(st->date.year, st->date.month, st->date.day) <
	    civil_to_days(c->today->year, c->today->month, c->today->day)) {
		st->have_date = st->have_time = 0;
		st->phase = PH_COLLECT;
		return say(reply, l, M_PAST);
	}
	t = st->hh * 60 + st->mm;
	if (st->have_time && st->have_offer && same_day(&st->offer_date, &st->date) &&
	    st->offer_minutes == st_duration(c, nsvc, st))
		for (i = 0; i < st->noffer; i++)
			if (st->offer[i] == t)
				free_time = 1;
	if (!free_time) {
		long n = check_day(c, &st->date, st_duration(c, nsvc, st), slots, ASST_SLOTS_MAX);

		if (n == -2)
			return -1;
		if (n < 0)
			return say(reply, l, M_ERROR);
		for (i = 0; st->have_time && i < (size_t)n; i++)
			if (slots[i] == t)
				free_time = 1;
		if (!free_time)
			return offer_times(c, nsvc, st, slots, n, st->have_time ? t : -1, f->part, reply);
		/* remember the time as known free (the next turn need not check it again) */
		if (!st->have_offer || !same_day(&st->offer_date, &st->date) ||
		    st->offer_minutes != st_duration(c, nsvc, st))
			st->noffer = 0;
		if (st->noffer > ASST_OFFER_MAX)
			st->noffer = ASST_OFFER_MAX;
		st->offer[st->noffer++] = t;
		st->offer_date = st->date;
		st->offer_minutes = st_duration(c, nsvc, st);
		st->have_offer = 1;
	}
	date_words(l, &st->date, dw, sizeof(dw));
	fmt_time(t, tw);
	if (st->svc < 0 || !st->name[0] || !st->email[0]) {
		/* "14:00 is free" once, when the time or day was just settled */
		if ((prev != PH_DETAILS || f->have_time || f->have_date) && say(reply, l, M_FREE, dw, tw) < 0)
			return -1;
		st->phase = PH_DETAILS;
		if (st->svc < 0) {
			if (say_services(c, nsvc, l, M_ASK_SERVICE, reply) < 0 ||
			    ((!st->name[0] || !st->email[0]) && buf_putc(reply, ' ') < 0))
				return -1;
		}
		if (!st->name[0] && !st->email[0])
			return say(reply, l, M_ASK_NAME_EMAIL);
		if (!st->name[0])
			return say(reply, l, M_ASK_NAME);
		if (!st->email[0])
			return say(reply, l, M_ASK_EMAIL);
		return 0;
	}
	if (!st->decided) {
		st->phase = PH_CONFIRM;
		return say(reply, l, M_SUMMARY, c->services[st->svc].name, dw, tw, st->name, st->email);
	}
	return book(c, nsvc, st, reply);
}

int asst_turn(const struct asst_ctx *c, json_t *state, const char *message, struct buf *reply)
{
	struct msg *m = NULL;
	struct found f;
	struct st st;
	size_t len, nsvc;
	int rc;

	if (!c || !c->today || !c->tool || !json_is_object(state) || !message || !reply)
		return -1;
	nsvc = c->services ? c->nservices : 0;
	if (nsvc > ASST_SERVICES_MAX)
		nsvc = ASST_SERVICES_MAX;
	if (st_load(c, nsvc, state, &st) < 0) {
		log_warn("assistant: the conversation's state is not one the assistant wrote; starting afresh");
		st_init(&st);
	}
	len = strnlen(message, AGENT_MESSAGE_MAX + 1);
	st.lang = asst_detect_language(message, st.have_lang ? st.lang : ASST_DE);
	if (len > AGENT_MESSAGE_MAX) {
		rc = say(reply, st.lang, M_TOO_LONG);
		goto save;
	}
	m = malloc(sizeof(*m));
	if (!m)
		return -1;
	msg_split(m, message, len);
	extract(c, nsvc, m, st.lang, st.phase == PH_DETAILS, &f);
	rc = dialogue(c, nsvc, &st, &f, reply);
save:
	if (rc == 0)
		rc = st_save(c, &st, state);
	free(m);
	return rc;
}
