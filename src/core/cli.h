/* cli.h: how every command-line program starts: DESIGN's exit codes, redacted error lines, settings. */
#ifndef TF_CLI_H
#define TF_CLI_H

#include "conf.h"

/* Exit status (DESIGN.md): 0 all done; 1 some items failed; 2 usage or configuration error;
 * 3 could not start (database down, lock held). */
enum cli_exit {
	EX_OK = 0,
	EX_FAILED = 1,
	EX_USAGE = 2,
	EX_START = 3,
};

/* Print "PROG: message" on stderr with registered secrets and secret-looking values masked
 * (messages may carry server texts). Call cli_start first so prog is known. */
void cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The common start: log to stderr as prog, load the settings (TF_CONFIG / environment), hand the
 * secret ones to the log's redaction, apply TF_LOG_LEVEL, initialise libgcrypt. Returns EX_OK with
 * *out set (caller frees with conf_free), or EX_USAGE / EX_START after a message on stderr. */
int cli_start(const char *prog, struct conf **out);

#endif
