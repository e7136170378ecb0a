/*
 * core/log.h - one line per event, text or JSON, to stderr (or a file).
 *
 * Every call takes a context first (peer, alias, transactionID; any may be
 * NULL). The level is checked before anything is formatted. Thread-safe:
 * each line is written with a single write(2).
 *
 * Never pass secrets or private key material to these functions.
 */
#ifndef CMPGW_CORE_LOG_H
#define CMPGW_CORE_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

struct log_ctx {
	const char *peer;  /* "127.0.0.1:4711" or NULL */
	const char *alias; /* alias label or NULL */
	const char *tid;   /* transactionID as hex or NULL */
};

/* Process-wide settings. fd defaults to 2; fd < 0 keeps the current one.
 * Any thread, any time: a reload (SIGHUP) calls it again from the main
 * thread while workers log, and the next line follows the new settings.
 * Also routes libevent's own messages here ("libevent: ..."), at most 10
 * lines per 10 s, a repeated message once per 10 s. */
void log_setup(enum log_level level, bool json, int fd);
/* Parse "error"/"warn"/"info"/"debug"; returns -1 if unknown. */
int log_level_parse(const char *s);
bool log_enabled(enum log_level level);

void log_msg(const struct log_ctx *ctx, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(ctx, ...)                                                                        \
	do {                                                                                       \
		if (log_enabled(LOG_ERROR))                                                        \
			log_msg((ctx), LOG_ERROR, __VA_ARGS__);                                    \
	} while (0)
#define log_warn(ctx, ...)                                                                         \
	do {                                                                                       \
		if (log_enabled(LOG_WARN))                                                         \
			log_msg((ctx), LOG_WARN, __VA_ARGS__);                                     \
	} while (0)
#define log_info(ctx, ...)                                                                         \
	do {                                                                                       \
		if (log_enabled(LOG_INFO))                                                         \
			log_msg((ctx), LOG_INFO, __VA_ARGS__);                                     \
	} while (0)
#define log_debug(ctx, ...)                                                                        \
	do {                                                                                       \
		if (log_enabled(LOG_DEBUG))                                                        \
			log_msg((ctx), LOG_DEBUG, __VA_ARGS__);                                    \
	} while (0)

/*
 * The access log (log.access): one JSON object per CMP request, whatever
 * log.format is, on the log's stream, whatever the level (it is not an
 * event of a level: log.access turns it off). Every string is escaped
 * for JSON (", \, control bytes and bytes >= 0x7f as \u00XX, so the line
 * is ASCII and valid whatever the request carried) and cut at
 * LOG_ACCESS_FIELD_MAX bytes. NULL strings, fail_bit < 0, latency_ms < 0
 * and http <= 0 are written as null.
 */
#define LOG_ACCESS_FIELD_MAX 256
struct log_access {
	const char *peer, *alias, *body, *outcome;
	int fail_bit;	    /* PKIFailureInfo bit, or -1 */
	const char *status; /* PKIStatus name: accepted, rejection, waiting, ... */
	double latency_ms;
	const char *tid;    /* transactionID, hex */
	const char *serial; /* serialNumber of the certificate issued, hex */
	int http;	    /* HTTP status of the answer; <= 0: none (an inner message) */
	const char *path;   /* request path, when the line is for a non-CMP request */
};
void log_access(const struct log_access *a);

/* Log the OpenSSL error queue (and clear it) at level, one line. */
void log_openssl(const struct log_ctx *ctx, enum log_level level, const char *what);

#endif
