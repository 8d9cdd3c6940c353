/* log.h — leveled logging (stderr, or a file/FIFO the API names), with a rate limiter for
 * guest-triggered messages. */
#ifndef KILN_UTIL_LOG_H
#define KILN_UTIL_LOG_H

#include <stddef.h>
#include <stdint.h>
#include "util/compiler.h"

enum log_level { LOG_OFF = -1, LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Set the word every line starts with (default "kiln"; e.g. "kiln sandbox"). The string must
 * outlive the logging; main thread, before any other thread logs. */
void log_set_prefix(const char *prefix);

/* Set the most verbose level printed (default LOG_WARN). */
void log_set_level(enum log_level level);

/* Whether messages of this level are printed. */
int log_enabled(enum log_level level);

/* Current level. */
enum log_level log_get_level(void);

/*
 * Send log lines to fd instead of stderr (-1: back to stderr). The previous fd set this way is
 * closed. show_level prefixes "[Error] "-style level names, show_origin "file:line: ". Main
 * thread, between messages (a racing message goes to either fd).
 */
void log_set_output(int fd, int show_level, int show_origin);

/* Print one line "<prefix>: <msg>" to the log output if level is enabled. Thread-safe (one
 * write(2)). */
void log_msg(enum log_level level, const char *fmt, ...) PRINTF(2, 3);

/* log_msg with the caller's source position (shown when show_origin is set). */
void log_msg_at(enum log_level level, const char *file, int line, const char *fmt, ...)
    PRINTF(4, 5);

/* Copy s into out (size outlen), at most outlen - 1 bytes, every byte that is not printable
 * ASCII as '?': user input quoted in a one-line message stays one line. Returns out. */
const char *log_printable(const char *s, char *out, size_t outlen);

#define log_err(...)   log_msg_at(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...)  log_msg_at(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...)  log_msg_at(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_msg_at(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

/* Token bucket: at most `burst` messages, then one per `interval_ms`. Zero-initialise, then set. */
struct log_ratelimit {
	uint32_t burst;
	uint32_t interval_ms;
	uint32_t printed;
	uint64_t last_ms;
	uint64_t suppressed;
};

/* Return nonzero if a message may be printed now; counts suppressed ones. Thread-safe enough for
 * diagnostics (races can only print one message too many). */
int log_ratelimit_ok(struct log_ratelimit *rl);

#define LOG_RATELIMIT_INIT                                                                         \
	{                                                                                          \
		.burst = 10, .interval_ms = 5000                                                   \
	}

/* Print at `level` through the rate limiter rl; the level is checked first, so a disabled
 * message costs no clock read (hot paths such as unmapped port accesses use this). */
#define log_ratelimited(level, rl, ...)                                                            \
	do {                                                                                       \
		if (log_enabled(level) && log_ratelimit_ok(rl))                                    \
			log_msg_at(level, __FILE__, __LINE__, __VA_ARGS__);                        \
	} while (0)

#define log_warn_ratelimited(rl, ...) log_ratelimited(LOG_WARN, rl, __VA_ARGS__)
#define log_info_ratelimited(rl, ...) log_ratelimited(LOG_INFO, rl, __VA_ARGS__)

#endif
