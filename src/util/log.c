/* log.c — leveled stderr logging and a message rate limiter. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

static enum log_level g_level = LOG_WARN;

void log_set_level(enum log_level level)
{
	g_level = level;
}

int log_enabled(enum log_level level)
{
	return level <= g_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	if (level > g_level)
		return;
	n = snprintf(buf, sizeof(buf), "kiln: ");
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
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
