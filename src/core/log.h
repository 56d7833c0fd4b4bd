/* log.h: levelled logging to stderr or syslog; known secrets and secret-looking values never reach it. */
#ifndef TF_LOG_H
#define TF_LOG_H

#include <stddef.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG, LOG_LVL_MAX };

/* ident: program name; use_syslog: 0 = stderr with ISO time stamps, 1 = syslog(LOG_DAEMON).
 * min: lowest level written. The level can also come from TF_LOG_LEVEL (error|warn|info|debug). */
void log_init(const char *ident, int use_syslog, enum log_level min);
void log_set_level(enum log_level min);
/* Parse "error", "warn", "info", "debug"; returns -1 if unknown. */
int log_level_parse(const char *s);

/* Register a secret value (a key, a password, a token): every occurrence in a later message is
 * replaced by "[redacted]". Values shorter than 6 bytes are ignored. The logger keeps a copy. */
void log_add_secret(const char *value);
/* Forget every registered secret (tests). */
void log_clear_secrets(void);

/* Write one line. Besides registered secrets, the logger masks the value after any of
 * password=, passwd=, secret=, token=, access_token=, refresh_token=, client_secret=, code=,
 * key=, cookie:, set-cookie:, authorization: (case-insensitive), "Bearer ..." and Fernet tokens
 * ("gAAAAA..."). CR and LF in the message become spaces (one event, one line). */
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* The redaction on its own (used by log_msg; exposed for tests): writes the masked text of in
 * into out[outlen]. */
void log_redact(const char *in, char *out, size_t outlen);

#endif
