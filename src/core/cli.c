/* cli.c: the shared start of tf-admin, tf-sync, tf-remind (and later tf-renew): settings, log, libgcrypt. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "cli.h"
#include "crypto.h"
#include "log.h"

static const char *cli_prog = "terminfinder";

void cli_fail(const char *fmt, ...)
{
	char msg[2048], safe[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_redact(msg, safe, sizeof(safe));
	fprintf(stderr, "%s: %s\n", cli_prog, safe);
}

int cli_start(const char *prog, struct conf **out)
{
	struct conf *c;
	const char *lvl;
	char err[1024];
	int l;

	*out = NULL;
	cli_prog = prog;
	log_init(prog, 0, LOG_LVL_INFO);
	c = conf_load(NULL, err, sizeof(err));
	if (!c) {
		cli_fail("configuration: %s", err);
		return EX_USAGE;
	}
	conf_register_secrets(c);
	lvl = conf_get(c, "TF_LOG_LEVEL");
	if (lvl && *lvl) {
		l = log_level_parse(lvl);
		if (l < 0) {
			cli_fail("TF_LOG_LEVEL must be one of error, warn, info, debug");
			conf_free(c);
			return EX_USAGE;
		}
		log_set_level((enum log_level)l);
	}
	if (crypto_init() != TF_OK) {
		cli_fail("cannot initialise libgcrypt");
		conf_free(c);
		return EX_START;
	}
	*out = c;
	return EX_OK;
}
