/* assistant.c: the offline booking assistant: rule-based dialogue in de/en/uk/ru that fills service, date, time, name and e-mail, then books (C14, C15). */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent.h"
#include "assistant.h"
#include "doctor.h"
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
	static const char lead[] = "([{\"'«„“*-";
	static const char trail[] = ")]}\"'»“”.,;:!?*-";
	size_t n;

	while (*w && strchr(lead, *w))
		w++;
	n = strlen(w);
	/* a Cyrillic or Latin quotation mark is multi-byte: drop «» „“ ” as whole sequences */
	while (n > 0) {
		if (strchr(trail, w[n - 1])) {
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

/* ------------------------------------------------------------------ the dialogue */

int asst_turn(const struct asst_ctx *c, json_t *state, const char *message, struct buf *reply)
{
	static const char *const ask[4] = {
		"Für welche Leistung und an welchem Tag möchten Sie einen Termin?",
		"Which service and which day would you like an appointment for?",
		"На яку послугу і на який день ви хочете записатися?",
		"На какую услугу и на какой день вы хотите записаться?",
	};
	enum asst_lang l;

	(void)c;
	if (!json_is_object(state))
		return -1;
	l = asst_detect_language(message, ASST_DE);
	if (json_object_set_new(state, "lang", json_string(asst_lang_code(l))) < 0)
		return -1;
	return buf_puts(reply, ask[l]);
}
