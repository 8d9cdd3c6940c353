/* log.c — leveled logging to stderr or a chosen fd, and a message rate limiter. */
#include <stdarg.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

static const char *g_prefix = "kiln";
static enum log_level g_level = LOG_WARN;
static int g_fd = -1; /* -1: stderr */
static int g_show_level, g_show_origin;
void log_set_prefix(const char *prefix)
{
	g_prefix = prefix;
}

void log_set_level(enum log_level level)
{
	g_level = level;
}

enum log_level log_get_level(void)
{
	return g_level;
}

int log_enabled(enum log_level level)
{
	return level <= g_level;
}

void log_set_output(int fd, int show_level, int show_origin)
{
	int old = g_fd;

	g_fd = fd;
	g_show_level = show_level;
	g_show_origin = show_origin;
	if (old >= 0 && old != fd)
		close(old);
}

static const char *level_name(enum log_level level)
{
	static const char *const names[] = {"Error", "Warning", "Info", "Debug"};

	return level >= LOG_ERROR && level <= LOG_DEBUG ? names[level] : "?";
}

static PRINTF(4, 0) void vlog(enum log_level level, const char *file, int line, const char *fmt,
			      va_list ap)
{
	char buf[1024];
	int n, fd = g_fd >= 0 ? g_fd : STDERR_FILENO;

	if (level > g_level)
		return;
	n = snprintf(buf, sizeof(buf), "%s: ", g_prefix);
	if (g_show_level)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "[%s] ", level_name(level));
	if (g_show_origin && file)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s:%d: ", file, line);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(fd, buf, (size_t)n) < 0)
		return;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, NULL, 0, fmt, ap);
	va_end(ap);
}

void log_msg_at(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, file, line, fmt, ap);
	va_end(ap);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int log_ratelimit_ok(struct log_ratelimit *rl)
{
	uint64_t now = now_ms();

	if (rl->printed < rl->burst) {
		rl->printed++;
		rl->last_ms = now;
		return 1;
	}
	if (now - rl->last_ms >= rl->interval_ms) {
		if (rl->suppressed)
			log_msg(LOG_WARN, "(%llu similar messages suppressed)",
				(unsigned long long)rl->suppressed);
		rl->suppressed = 0;
		rl->last_ms = now;
		return 1;
	}
	rl->suppressed++;
	return 0;
}

const char *log_printable(const char *s, char *out, size_t outlen)
{
	size_t i = 0;

	for (; outlen && s[i] && i + 1 < outlen; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (outlen)
		out[i] = '\0';
	return out;
}
