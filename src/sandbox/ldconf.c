/* ldconf.c — reads ld.so.conf as ldconfig does (directories, include globs, comments). */
#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/ldconf.h"

const char *const ldconf_default_dirs[] = {
#if defined(__aarch64__)
    "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/lib", "/usr/lib", NULL,
#else
    "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/lib", "/usr/lib", NULL,
#endif
};

static int conf_read(struct ldconf *lc, const char *path, unsigned depth, char *err, size_t errlen);

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...) PRINTF(4, 5);

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

/* Append dir unless it is already listed. */
static int dir_add(struct ldconf *lc, const char *dir, char *err, size_t errlen)
{
	size_t len = strlen(dir);

	while (len > 1 && dir[len - 1] == '/')
		len--; /* "/usr/lib/" and "/usr/lib" are one directory */
	for (unsigned i = 0; i < lc->nr; i++)
		if (strlen(lc->dirs[i]) == len && strncmp(lc->dirs[i], dir, len) == 0)
			return 0;
	if (lc->nr == LDCONF_MAX_DIRS)
		return fail(err, errlen, -E2BIG, "more than %d library directories",
			    LDCONF_MAX_DIRS);
	lc->dirs[lc->nr] = strndup(dir, len);
	if (!lc->dirs[lc->nr])
		return fail(err, errlen, -ENOMEM, "out of memory");
	lc->nr++;
	return 0;
}

/* `include` patterns, separated by blanks, relative to the directory of `from`. */
static int include(struct ldconf *lc, const char *from, char *pats, unsigned depth, char *err,
		   size_t errlen)
{
	char *save = NULL, *pat, *dir, base[LDCONF_LINE_MAX], full[2 * LDCONF_LINE_MAX + 2];
	int ret = 0;

	snprintf(base, sizeof(base), "%s", from);
	dir = dirname(base);
	for (pat = strtok_r(pats, " \t", &save); pat && ret == 0;
	     pat = strtok_r(NULL, " \t", &save)) {
		glob_t g;

		if (pat[0] == '/')
			snprintf(full, sizeof(full), "%s", pat);
		else
			snprintf(full, sizeof(full), "%s/%s", dir, pat);
		if (glob(full, 0, NULL, &g) != 0)
			continue; /* no match: nothing to include */
		for (size_t i = 0; i < g.gl_pathc && ret == 0; i++)
			ret = conf_read(lc, g.gl_pathv[i], depth + 1, err, errlen);
		globfree(&g);
	}
	return ret;
}

/* One line, comments and surrounding blanks already removed. */
static int conf_line(struct ldconf *lc, const char *path, char *line, unsigned depth, char *err,
		     size_t errlen)
{
	char *eq;

	if (!line[0] || (strncmp(line, "hwcap", 5) == 0 && (line[5] == ' ' || line[5] == '\t')))
		return 0;
	if (strncmp(line, "include", 7) == 0 && (line[7] == ' ' || line[7] == '\t'))
		return include(lc, path, line + 8, depth, err, errlen);
	eq = strchr(line, '='); /* old "DIR=TYPE" lines: the type is ignored, as by ldconfig */
	if (eq)
		*eq = '\0';
	if (line[0] != '/')
		return fail(err, errlen, -EINVAL, "%s: '%s' is not an absolute directory", path,
			    line);
	return dir_add(lc, line, err, errlen);
}

static char *trim(char *s)
{
	char *end, *hash = strchr(s, '#');

	if (hash)
		*hash = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

static int conf_read(struct ldconf *lc, const char *path, unsigned depth, char *err, size_t errlen)
{
	char line[LDCONF_LINE_MAX];
	int ret = 0;
	FILE *f;

	if (depth > LDCONF_MAX_DEPTH)
		return fail(err, errlen, -EINVAL, "%s: includes nested deeper than %d (a loop?)",
			    path, LDCONF_MAX_DEPTH);
	f = fopen(path, "re");
	if (!f && errno == ENOENT && depth == 0)
		return 0;
	if (!f)
		return fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
	while (ret == 0 && fgets(line, sizeof(line), f)) {
		if (!strchr(line, '\n') && !feof(f))
			ret = fail(err, errlen, -EINVAL, "%s: a line longer than %d bytes", path,
				   LDCONF_LINE_MAX - 2);
		else
			ret = conf_line(lc, path, trim(line), depth, err, errlen);
	}
	if (ret == 0 && ferror(f))
		ret = fail(err, errlen, -EIO, "%s: read error", path);
	fclose(f);
	return ret;
}

int ldconf_load(struct ldconf *lc, const char *conf, char *err, size_t errlen)
{
	int ret;

	memset(lc, 0, sizeof(*lc));
	ret = conf_read(lc, conf, 0, err, errlen);
	for (unsigned i = 0; ret == 0 && ldconf_default_dirs[i]; i++)
		ret = dir_add(lc, ldconf_default_dirs[i], err, errlen);
	return ret;
}

void ldconf_free(struct ldconf *lc)
{
	for (unsigned i = 0; i < lc->nr; i++)
		free(lc->dirs[i]);
	lc->nr = 0;
}
