#include "core/log.h"

#include <event2/event.h>
#include <openssl/err.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Set at start-up and again on a configuration reload (SIGHUP, from the
 * main thread while the workers log): atomics, read relaxed, because a
 * line formatted just before or after the change is equally right. */
static struct {
	atomic_int level; /* enum log_level */
	atomic_bool json;
	atomic_int fd;
} log_cfg = { LOG_INFO, false, 2 };

static pthread_once_t lev_once = PTHREAD_ONCE_INIT;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

/* libevent's own messages (event_set_log_callback: process-wide, no
 * argument, any thread), rate-limited: at most LIBEVENT_LINES lines per
 * LIBEVENT_WINDOW_S seconds, and a message identical to the last one
 * once per window; how many were dropped is said with the next line
 * after the window. Unbounded, a failing accept() wrote one line per
 * attempt (300,000 a second). State is process-wide because the
 * callback is; the mutex is taken only for libevent's messages. */
#define LIBEVENT_LINES	  10
#define LIBEVENT_WINDOW_S 10

static struct {
	pthread_mutex_t mu;
	time_t window;
	unsigned lines, dropped;
	char last[256];
} lev_log = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void on_libevent_log(int severity, const char *msg)
{
	enum log_level level = severity >= EVENT_LOG_ERR    ? LOG_ERROR
			       : severity == EVENT_LOG_WARN ? LOG_WARN
			       : severity == EVENT_LOG_MSG  ? LOG_INFO
							    : LOG_DEBUG;
	struct timespec now;
	unsigned dropped = 0;
	bool emit = false;

	if (!log_enabled(level))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&lev_log.mu);
	if (lev_log.lines == 0 || now.tv_sec - lev_log.window >= LIBEVENT_WINDOW_S) {
		dropped = lev_log.dropped;
		lev_log.window = now.tv_sec;
		lev_log.lines = 0;
		lev_log.dropped = 0;
		lev_log.last[0] = '\0';
	}
	if (lev_log.lines < LIBEVENT_LINES &&
	    strncmp(msg, lev_log.last, sizeof(lev_log.last) - 1)) {
		lev_log.lines++;
		snprintf(lev_log.last, sizeof(lev_log.last), "%s", msg);
		emit = true;
	} else {
		lev_log.dropped++;
	}
	pthread_mutex_unlock(&lev_log.mu);
	if (dropped)
		log_msg(NULL, LOG_WARN,
			"libevent: %u messages not logged (more than %d in %d s, or repeated)",
			dropped, LIBEVENT_LINES, LIBEVENT_WINDOW_S);
	if (emit)
		log_msg(NULL, level, "libevent: %s", msg);
}

static void lev_route(void)
{
	event_set_log_callback(on_libevent_log);
}

void log_setup(enum log_level level, bool json, int fd)
{
	atomic_store_explicit(&log_cfg.level, (int)level, memory_order_relaxed);
	atomic_store_explicit(&log_cfg.json, json, memory_order_relaxed);
	if (fd >= 0)
		atomic_store_explicit(&log_cfg.fd, fd, memory_order_relaxed);
	/* once: libevent's callback pointer is a plain global it reads
	 * from every thread */
	pthread_once(&lev_once, lev_route);
}

int log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

bool log_enabled(enum log_level level)
{
	return (int)level <= atomic_load_explicit(&log_cfg.level, memory_order_relaxed);
}

/* Append s to buf as a JSON string body (without quotes). */
static size_t json_escape(char *buf, size_t cap, size_t off, const char *s)
{
	for (; *s && off + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[off++] = '\\';
			buf[off++] = (char)c;
		} else if (c < 0x20) {
			off += (size_t)snprintf(buf + off, cap - off, "\\u%04x", c);
		} else {
			buf[off++] = (char)c;
		}
	}
	return off;
}

static size_t append(char *buf, size_t cap, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static size_t append(char *buf, size_t cap, size_t off, const char *fmt, ...)
{
	if (off >= cap)
		return off;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + off, cap - off, fmt, ap);
	va_end(ap);
	if (n < 0)
		return off;
	off += (size_t)n;
	return off < cap ? off : cap - 1;
}

void log_msg(const struct log_ctx *ctx, enum log_level level, const char *fmt, ...)
{
	char msg[2048], line[4096], ts[40];
	struct timespec now;
	struct tm tm;
	va_list ap;
	size_t off = 0;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

	if (atomic_load_explicit(&log_cfg.json, memory_order_relaxed)) {
		off = append(line, sizeof(line), off, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\"", ts,
			     now.tv_nsec / 1000000, level_names[level]);
		const char *keys[3] = { "peer", "alias", "tid" };
		const char *vals[3] = { ctx ? ctx->peer : NULL, ctx ? ctx->alias : NULL,
					ctx ? ctx->tid : NULL };
		for (int i = 0; i < 3; i++) {
			if (!vals[i])
				continue;
			off = append(line, sizeof(line), off, ",\"%s\":\"", keys[i]);
			off = json_escape(line, sizeof(line) - 8, off, vals[i]);
			off = append(line, sizeof(line), off, "\"");
		}
		off = append(line, sizeof(line), off, ",\"msg\":\"");
		off = json_escape(line, sizeof(line) - 8, off, msg);
		off = append(line, sizeof(line), off, "\"}\n");
	} else {
		off = append(line, sizeof(line), off, "%s.%03ldZ %-5s", ts, now.tv_nsec / 1000000,
			     level_names[level]);
		if (ctx && ctx->peer)
			off = append(line, sizeof(line), off, " peer=%s", ctx->peer);
		if (ctx && ctx->alias)
			off = append(line, sizeof(line), off, " alias=%s", ctx->alias);
		if (ctx && ctx->tid)
			off = append(line, sizeof(line), off, " tid=%s", ctx->tid);
		off = append(line, sizeof(line), off, " %s\n", msg);
	}
	if (off > 0 && line[off - 1] != '\n')
		line[off - 1] = '\n';
	ssize_t w = write(atomic_load_explicit(&log_cfg.fd, memory_order_relaxed), line, off);
	(void)w;
}

/* One JSON string value (with quotes) or null; ASCII only out. */
static size_t access_str(char *buf, size_t cap, size_t off, const char *key, const char *s)
{
	off = append(buf, cap, off, ",\"%s\":", key);
	if (!s)
		return append(buf, cap, off, "null");
	off = append(buf, cap, off, "\"");
	for (size_t i = 0; s[i] && i < LOG_ACCESS_FIELD_MAX && off + 8 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			buf[off++] = '\\';
			buf[off++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			off += (size_t)snprintf(buf + off, cap - off, "\\u%04x", c);
		} else {
			buf[off++] = (char)c;
		}
	}
	return append(buf, cap, off, "\"");
}

void log_access(const struct log_access *a)
{
	/* room for every field at its bound, fully escaped (6 bytes a byte) */
	char line[11 * (LOG_ACCESS_FIELD_MAX * 6 + 24) + 128], ts[40];
	struct timespec now;
	struct tm tm;
	size_t off;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	off = append(line, sizeof(line), 0, "{\"ts\":\"%s.%03ldZ\",\"event\":\"access\"", ts,
		     now.tv_nsec / 1000000);
	off = access_str(line, sizeof(line), off, "peer", a->peer);
	off = access_str(line, sizeof(line), off, "alias", a->alias);
	if (a->path)
		off = access_str(line, sizeof(line), off, "path", a->path);
	off = access_str(line, sizeof(line), off, "body", a->body);
	off = access_str(line, sizeof(line), off, "outcome", a->outcome);
	off = a->fail_bit >= 0 ? append(line, sizeof(line), off, ",\"failInfo\":%d", a->fail_bit)
			       : append(line, sizeof(line), off, ",\"failInfo\":null");
	off = access_str(line, sizeof(line), off, "status", a->status);
	off = a->latency_ms >= 0
		      ? append(line, sizeof(line), off, ",\"latency_ms\":%.3f", a->latency_ms)
		      : append(line, sizeof(line), off, ",\"latency_ms\":null");
	off = access_str(line, sizeof(line), off, "tid", a->tid);
	off = access_str(line, sizeof(line), off, "serial", a->serial);
	off = a->http > 0 ? append(line, sizeof(line), off, ",\"http\":%d}\n", a->http)
			  : append(line, sizeof(line), off, ",\"http\":null}\n");
	/* cut short (cannot happen with the field bounds): still one line */
	if (off > 0 && line[off - 1] != '\n')
		line[off - 1] = '\n';
	ssize_t w = write(atomic_load_explicit(&log_cfg.fd, memory_order_relaxed), line, off);
	(void)w;
}

void log_openssl(const struct log_ctx *ctx, enum log_level level, const char *what)
{
	char detail[512] = "";
	unsigned long e;
	size_t off = 0;

	while ((e = ERR_get_error()) != 0) {
		char one[256];
		ERR_error_string_n(e, one, sizeof(one));
		off = append(detail, sizeof(detail), off, "%s%s", off ? "; " : "", one);
	}
	if (log_enabled(level))
		log_msg(ctx, level, "%s%s%s", what, off ? ": " : "", detail);
}
