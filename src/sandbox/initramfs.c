/* initramfs.c — collects what kiln sandbox's command needs in the guest: #! interpreters, the ELF
 * interpreter and the shared libraries, breadth first and in glibc's search order. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/elf_deps.h"
#include "sandbox/initramfs.h"
#include "sandbox/ldconf.h"
#include "sandbox/protocol.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct object {
	char *path;    /* where it was found (messages; a library's $ORIGIN) */
	char *origin;  /* $ORIGIN: a program's canonical directory, a library's found one */
	char *rpath;   /* DT_RPATH, NULL if none (known once scanned) */
	char *runpath; /* DT_RUNPATH, NULL if none */
	int loader;    /* the object whose DT_NEEDED found it; -1 for programs and interpreters */
	bool program;  /* CMD or a #! interpreter: if it is no x86-64 executable, status 126 */
};

struct build {
	const struct initramfs_input *in;
	struct archive a;
	struct ldconf lc;
	struct strset seen;   /* canonical paths of the objects */
	struct strset needed; /* DT_NEEDED names already found */
	struct object obj[INITRAMFS_MAX_OBJECTS];
	unsigned nr_obj;
	struct sandbox_err *e;
};

/* A file mapped for parsing. */
struct mapped {
	int fd;
	const uint8_t *data;
	size_t len;
};

/* --- objects --- */

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
}

/* Queue the ELF file found at path (canonical: canon) for scanning, unless it already is. */
static int queue_object(struct build *b, const char *path, const char *canon, int loader,
			bool program)
{
	struct object *o = &b->obj[b->nr_obj];
	int ret;

	if (strset_get(&b->seen, canon) >= 0)
		return 0;
	if (b->nr_obj == INITRAMFS_MAX_OBJECTS)
		return sandbox_fail(b->e, SANDBOX_EXIT_KILN, -E2BIG,
				    "%s: more than %d programs and libraries", path,
				    INITRAMFS_MAX_OBJECTS);
	ret = strset_put(&b->seen, canon, 1);
	o->path = strdup(path);
	o->origin = dir_of(program ? canon : path);
	if (ret < 0 || !o->path || !o->origin) {
		free(o->path);
		free(o->origin);
		return sandbox_fail(b->e, SANDBOX_EXIT_KILN, -ENOMEM, "out of memory");
	}
	o->loader = loader;
	o->program = program;
	b->nr_obj++;
	return 0;
}

static void objects_free(struct build *b)
{
	for (unsigned i = 0; i < b->nr_obj; i++) {
		free(b->obj[i].path);
		free(b->obj[i].origin);
		free(b->obj[i].rpath);
		free(b->obj[i].runpath);
	}
}

/* --- $ORIGIN --- */

static bool token_at(const char *s, const char *tok, size_t *len)
{
	char braced[32];
	size_t n = strlen(tok);

	if (strncmp(s, tok, n) == 0 &&
	    !(s[n] == '_' || (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
	      (s[n] >= '0' && s[n] <= '9'))) {
		*len = n;
		return true;
	}
	snprintf(braced, sizeof(braced), "{%s}", tok);
	*len = strlen(braced);
	return strncmp(s, braced, *len) == 0;
}

int initramfs_expand_origin(const char *s, const char *origin, char *out, size_t outlen)
{
	size_t o = 0, olen = strlen(origin), tlen;

	for (; *s; s++) {
		const char *piece = s;
		size_t n = 1;

		if (*s == '$') {
			if (!token_at(s + 1, "ORIGIN", &tlen))
				return -ENOTSUP;
			piece = origin;
			n = olen;
			s += tlen;
		}
		if (o + n >= outlen)
			return -ENAMETOOLONG;
		memcpy(out + o, piece, n);
		o += n;
	}
	if (o >= outlen)
		return -ENAMETOOLONG;
	out[o] = '\0';
	return 0;
}

/* --- library search --- */

/* Try dir/name: 1 if it is an x86-64 ELF (its path in out), 0 if absent or for another class or
 * machine (the loader skips those), < 0 if it is no ELF at all (e filled). */
static int try_candidate(struct build *b, const char *dir, const char *name, char *out,
			 size_t outlen)
{
	uint8_t head[sizeof(Elf64_Ehdr)];
	char why[160];
	struct stat st;
	ssize_t n;
	int fd, ret;

	if ((size_t)snprintf(out, outlen, "%s/%s", strcmp(dir, "/") ? dir : "", name) >= outlen)
		return 0;
	fd = open(out, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	n = pread(fd, head, sizeof(head), 0);
	close(fd);
	ret = elf_deps_check_header(head, n < 0 ? 0 : (size_t)n, why, sizeof(why));
	if (ret == -ENOTSUP)
		return 0;
	if (ret < 0)
		return sandbox_fail(b->e, SANDBOX_EXIT_KILN, ret, "%s: %s", out, why);
	return 1;
}

/* Search the colon-separated list (with $ORIGIN = origin) for name. As try_candidate. Entries
 * that are empty, relative or use another token ($LIB, $PLATFORM) are skipped. */
static int search_list(struct build *b, const char *list, const char *origin, const char *name,
		       char *out, size_t outlen)
{
	char entry[PATH_MAX], dir[PATH_MAX];
	int ret = 0;

	while (*list && ret == 0) {
		size_t n = strcspn(list, ":");

		if (n > 0 && n < sizeof(entry)) {
			memcpy(entry, list, n);
			entry[n] = '\0';
			if (initramfs_expand_origin(entry, origin, dir, sizeof(dir)) == 0 &&
			    dir[0] == '/')
				ret = try_candidate(b, dir, name, out, outlen);
		}
		list += n + (list[n] == ':');
	}
	return ret;
}

/* glibc's order for a DT_NEEDED name of object i: its DT_RUNPATH if it has one, else the
 * DT_RPATH of it and of each loader up to its program (those with a DT_RUNPATH give none);
 * then the configured and system directories. */
static int search(struct build *b, unsigned i, const char *name, char *out, size_t outlen)
{
	const struct object *o = &b->obj[i];
	int ret = 0;

	if (o->runpath)
		ret = search_list(b, o->runpath, o->origin, name, out, outlen);
	for (int l = (int)i; !o->runpath && l >= 0 && ret == 0; l = b->obj[l].loader)
		if (b->obj[l].rpath && !b->obj[l].runpath)
			ret = search_list(b, b->obj[l].rpath, b->obj[l].origin, name, out, outlen);
	for (unsigned d = 0; d < b->lc.nr && ret == 0; d++)
		ret = try_candidate(b, b->lc.dirs[d], name, out, outlen);
	return ret;
}

/* Find the library `name` that object i needs, add it and queue it. */
static int resolve_needed(struct build *b, unsigned i, const char *name)
{
	char found[PATH_MAX], canon[PATH_MAX], path[PATH_MAX];
	const struct object *o = &b->obj[i];
	int ret;

	if (strset_get(&b->needed, name) >= 0)
		return 0;	 /* the loader reuses an object loaded under this name */
	if (strchr(name, '/')) { /* a path, not a name to search for */
		ret = initramfs_expand_origin(name, o->origin, path, sizeof(path));
		if (ret < 0 || path[0] != '/')
			return sandbox_fail(b->e, SANDBOX_EXIT_KILN, -EINVAL,
					    "%s: DT_NEEDED '%s' is not usable as an absolute path",
					    o->path, name);
		ret = try_candidate(b, "/", path + 1, found, sizeof(found));
	} else {
		ret = search(b, i, name, found, sizeof(found));
	}
	if (ret == 0)
		return sandbox_fail(
		    b->e, SANDBOX_EXIT_KILN, -ENOENT,
		    "%s (needed by %s) is not in its RPATH/RUNPATH, %s or the system "
		    "library directories",
		    name, o->path, b->in->ld_so_conf);
	if (ret < 0)
		return ret;
	ret = archive_add_host(&b->a, found, canon, sizeof(canon), b->e);
	if (ret == 0)
		ret = queue_object(b, found, canon, (int)i, false);
	if (ret == 0 && strset_put(&b->needed, name, 1) < 0)
		ret = sandbox_fail(b->e, SANDBOX_EXIT_KILN, -ENOMEM, "out of memory");
	return ret;
}

/* --- scanning one ELF object --- */

static int map_file(struct build *b, const char *path, struct mapped *m)
{
	struct stat st;
	void *p;

	m->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (m->fd < 0 || fstat(m->fd, &st) < 0) {
		int err = errno;

		if (m->fd >= 0)
			close(m->fd);
		return sandbox_fail(b->e, SANDBOX_EXIT_KILN, -err, "%s: %s", path, strerror(err));
	}
	m->len = (size_t)st.st_size;
	m->data = (const uint8_t *)"";
	if ((uint64_t)st.st_size > b->in->max_len) {
		close(m->fd);
		return sandbox_fail(b->e, SANDBOX_EXIT_KILN, -EFBIG, "%s: absurd size (%llu bytes)",
				    path, (unsigned long long)st.st_size);
	}
	if (m->len == 0)
		return 0;
	p = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, m->fd, 0);
	if (p == MAP_FAILED) {
		close(m->fd);
		return sandbox_fail(b->e, SANDBOX_EXIT_KILN, -errno, "%s: mmap: %s", path,
				    strerror(errno));
	}
	m->data = p;
	return 0;
}

static void unmap_file(struct mapped *m)
{
	if (m->len)
		munmap((void *)m->data, m->len);
	close(m->fd);
}

static int parse_failed(struct build *b, const struct object *o, int ret, const char *why)
{
	if (o->program && ret == -ENOEXEC)
		return sandbox_fail(b->e, SANDBOX_EXIT_CANNOT_EXEC, ret,
				    "%s: cannot execute: neither an ELF executable nor a #! script",
				    o->path);
	if (o->program && ret == -ENOTSUP)
		return sandbox_fail(b->e, SANDBOX_EXIT_CANNOT_EXEC, ret, "%s: cannot execute: %s",
				    o->path, why);
	return sandbox_fail(b->e, SANDBOX_EXIT_KILN, ret, "%s: %s", o->path, why);
}

/* The ELF interpreter of object i: added and queued like a program without #!. */
static int add_interp(struct build *b, unsigned i, const char *interp)
{
	char canon[PATH_MAX];
	int ret;

	if (interp[0] != '/')
		return sandbox_fail(b->e, SANDBOX_EXIT_KILN, -EINVAL,
				    "%s: PT_INTERP '%s' is not an absolute path", b->obj[i].path,
				    interp);
	ret = archive_add_host(&b->a, interp, canon, sizeof(canon), b->e);
	return ret ? ret : queue_object(b, interp, canon, -1, false);
}

static int keep_str(struct build *b, const char *s, char **out)
{
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : sandbox_fail(b->e, SANDBOX_EXIT_KILN, -ENOMEM, "out of memory");
}

static int scan_object(struct build *b, unsigned i)
{
	struct elf_deps *d = malloc(sizeof(*d));
	struct mapped m = {.fd = -1};
	char why[256];
	int ret;

	if (!d)
		return sandbox_fail(b->e, SANDBOX_EXIT_KILN, -ENOMEM, "out of memory");
	ret = map_file(b, b->obj[i].path, &m);
	if (ret < 0) {
		free(d);
		return ret;
	}
	ret = elf_deps_parse(m.data, m.len, d, why, sizeof(why));
	if (ret < 0)
		ret = parse_failed(b, &b->obj[i], ret, why);
	if (ret == 0)
		ret = keep_str(b, d->rpath, &b->obj[i].rpath);
	if (ret == 0)
		ret = keep_str(b, d->runpath, &b->obj[i].runpath);
	if (ret == 0 && d->interp)
		ret = add_interp(b, i, d->interp);
	for (unsigned n = 0; ret == 0 && n < d->nr_needed; n++)
		ret = resolve_needed(b, i, d->needed[n]);
	unmap_file(&m);
	free(d);
	return ret;
}

/* --- programs and #! scripts --- */

static int add_program(struct build *b, const char *path, unsigned depth);

/* The command "#!/usr/bin/env [OPTION|NAME=VALUE]... CMD" runs: its first other word. */
static int add_env_target(struct build *b, const char *script, char *args, unsigned depth)
{
	char found[PATH_MAX], *save = NULL, *w;
	struct sandbox_err e2;

	for (w = strtok_r(args, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		if (w[0] != '-' && !strchr(w, '='))
			break;
	if (!w)
		return 0;
	if (initramfs_find_cmd(w, b->in->path_env, found, sizeof(found), &e2) < 0)
		return sandbox_fail(b->e, e2.status, -ENOENT, "%s: #! env: %s", script, e2.msg);
	return add_program(b, found, depth);
}

static bool is_env(const char *interp)
{
	const char *base = strrchr(interp, '/');

	return strcmp(base ? base + 1 : interp, "env") == 0;
}

/* line: the first n bytes of the script at path, starting with "#!". */
static int add_script(struct build *b, const char *path, char *line, size_t n, unsigned depth)
{
	char *nl = memchr(line, '\n', n), *interp, *arg, *end;
	struct stat st;
	int ret;

	if (depth >= INITRAMFS_MAX_SCRIPT_DEPTH)
		return sandbox_fail(b->e, SANDBOX_EXIT_CANNOT_EXEC, -ELOOP,
				    "%s: #! interpreters nested deeper than %d", path,
				    INITRAMFS_MAX_SCRIPT_DEPTH);
	if (!nl && n == INITRAMFS_SHEBANG_MAX)
		return sandbox_fail(b->e, SANDBOX_EXIT_CANNOT_EXEC, -ENOEXEC,
				    "%s: the #! line is longer than %d bytes", path,
				    INITRAMFS_SHEBANG_MAX - 1);
	line[nl ? (size_t)(nl - line) : n] = '\0';
	interp = line + 2 + strspn(line + 2, " \t");
	arg = interp + strcspn(interp, " \t");
	if (*arg)
		*arg++ = '\0';
	arg += strspn(arg, " \t");
	end = arg + strlen(arg);
	while (end > arg && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	if (interp[0] != '/')
		return sandbox_fail(b->e, SANDBOX_EXIT_CANNOT_EXEC, -ENOEXEC,
				    "%s: the #! interpreter '%s' is not an absolute path", path,
				    interp);
	if (stat(interp, &st) < 0 && (errno == ENOENT || errno == ENOTDIR))
		return sandbox_fail(b->e, SANDBOX_EXIT_NOT_FOUND, -ENOENT,
				    "%s: the #! interpreter %s does not exist", path, interp);
	ret = add_program(b, interp, depth + 1);
	if (ret == 0 && is_env(interp))
		ret = add_env_target(b, path, arg, depth + 1);
	return ret;
}

/* Add a program (CMD or an interpreter) and what it needs. */
static int add_program(struct build *b, const char *path, unsigned depth)
{
	char canon[PATH_MAX], head[INITRAMFS_SHEBANG_MAX + 1];
	ssize_t n;
	int fd, ret = archive_add_host(&b->a, path, canon, sizeof(canon), b->e);

	if (ret < 0)
		return ret;
	fd = open(canon, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : pread(fd, head, INITRAMFS_SHEBANG_MAX, 0);
	if (n < 0) {
		ret =
		    sandbox_fail(b->e, SANDBOX_EXIT_KILN, -errno, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	close(fd);
	if (n >= 2 && head[0] == '#' && head[1] == '!')
		return add_script(b, path, head, (size_t)n, depth);
	return queue_object(b, path, canon, -1, true);
}

/* --- kiln's own entries --- */

/* strs (NULL-terminated), each with its NUL, into one buffer. */
static int join(struct build *b, const char *what, char *const *strs, char **out, size_t *len)
{
	size_t total = 0, count = 0, o = 0;

	for (; strs[count]; count++)
		total += strlen(strs[count]) + 1;
	if (total > SANDBOX_ARGV_MAX_BYTES || count > SANDBOX_ARGV_MAX_ARGS)
		return sandbox_fail(b->e, SANDBOX_EXIT_KILN, -E2BIG,
				    "%s: more than %u strings or %u bytes", what,
				    SANDBOX_ARGV_MAX_ARGS, SANDBOX_ARGV_MAX_BYTES);
	*out = malloc(total ? total : 1);
	if (!*out)
		return sandbox_fail(b->e, SANDBOX_EXIT_KILN, -ENOMEM, "out of memory");
	for (size_t i = 0; i < count; i++) {
		size_t n = strlen(strs[i]) + 1;

		memcpy(*out + o, strs[i], n);
		o += n;
	}
	*len = total;
	return 0;
}

static int add_strings(struct build *b, const char *name, char *const *strs)
{
	size_t len = 0;
	char *buf = NULL;
	int ret = join(b, name, strs, &buf, &len);

	if (ret == 0) {
		ret = archive_add_own_file(&b->a, name, 0644, buf, len, b->e);
		free(buf);
	}
	return ret;
}

static int add_own(struct build *b)
{
	const struct initramfs_input *in = b->in;
	int ret = archive_add_own_dir(&b->a, "dev", b->e);

	/* The kernel opens /dev/console for init's stdio before init mounts devtmpfs. */
	if (ret == 0)
		ret = archive_add_own_chardev(&b->a, "dev/console", 5, 1, b->e);
	if (ret == 0)
		ret = archive_add_own_file(&b->a, SANDBOX_INIT, 0755, in->init, in->init_len, b->e);
	if (ret == 0)
		ret = archive_add_own_dir(&b->a, SANDBOX_DIR, b->e);
	if (ret == 0)
		ret = archive_add_own_file(&b->a, SANDBOX_EXE, 0644, in->exe, strlen(in->exe) + 1,
					   b->e);
	if (ret == 0)
		ret = add_strings(b, SANDBOX_ARGV, in->argv);
	if (ret == 0)
		ret = add_strings(b, SANDBOX_ENV, in->envp);
	return ret;
}

/* The host's loader cache: the guest's loader then finds libraries in configured directories
 * (e.g. /usr/local/lib) as the host's does. Only what the archive holds can be opened. */
static int add_ld_cache(struct build *b)
{
	char canon[PATH_MAX];
	struct stat st;

	if (!b->in->ld_so_cache || stat(b->in->ld_so_cache, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	return archive_add_host(&b->a, b->in->ld_so_cache, canon, sizeof(canon), b->e);
}

/* extra: library names resolved as the program's own DT_NEEDED would be (NULL: none); tree
 * mode (b->a.dir_fd >= 0) has no kiln entries and no trailer. */
static int build_run(struct build *b, const char *const *extra)
{
	bool tree = b->a.dir_fd >= 0;
	char why[512];
	unsigned i;
	int ret = ldconf_load(&b->lc, b->in->ld_so_conf, why, sizeof(why));

	if (ret < 0)
		return sandbox_fail(b->e, SANDBOX_EXIT_KILN, ret, "%s", why);
	ret = tree ? 0 : add_own(b);
	if (ret == 0)
		ret = add_ld_cache(b);
	if (ret == 0)
		ret = add_program(b, b->in->exe, 0);
	for (i = 0; ret == 0 && i < b->nr_obj; i++)
		ret = scan_object(b, i);
	for (const char *const *x = extra; ret == 0 && x && *x; x++)
		ret = resolve_needed(b, 0, *x);
	for (; ret == 0 && i < b->nr_obj; i++)
		ret = scan_object(b, i);
	if (ret == 0 && !tree)
		ret = archive_finish(&b->a, b->e);
	return ret;
}

/* The archive (fd) or the tree (dir_fd >= 0) of in. */
static int build(const struct initramfs_input *in, int fd, int dir_fd, const char *const *extra,
		 struct archive_stats *stats, struct sandbox_err *e)
{
	struct build *b = calloc(1, sizeof(*b));
	int ret;

	if (!b)
		return sandbox_fail(e, SANDBOX_EXIT_KILN, -ENOMEM, "out of memory");
	b->in = in;
	b->e = e;
	if (dir_fd >= 0)
		archive_init_dir(&b->a, dir_fd, in->max_len);
	else
		archive_init(&b->a, fd, in->max_len);
	strset_init(&b->seen, INITRAMFS_MAX_OBJECTS);
	strset_init(&b->needed, INITRAMFS_MAX_OBJECTS);
	ret = build_run(b, extra);
	if (ret == 0 && stats)
		*stats = b->a.stats;
	objects_free(b);
	strset_free(&b->seen);
	strset_free(&b->needed);
	ldconf_free(&b->lc);
	archive_free(&b->a);
	free(b);
	return ret;
}

int initramfs_build(const struct initramfs_input *in, int fd, struct archive_stats *stats,
		    struct sandbox_err *e)
{
	return build(in, fd, -1, NULL, stats, e);
}

int initramfs_copy_tree(const struct initramfs_input *in, const char *const *extra, int dir_fd,
			struct archive_stats *stats, struct sandbox_err *e)
{
	return dir_fd < 0 ? -EBADF : build(in, -1, dir_fd, extra, stats, e);
}

/* --- finding CMD --- */

/* Check a path named directly: 0 if it is an executable, readable regular file. */
static int check_cmd(const char *cmd, const char *path, struct sandbox_err *e)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return sandbox_fail(e,
				    errno == ENOENT || errno == ENOTDIR ? SANDBOX_EXIT_NOT_FOUND
									: SANDBOX_EXIT_KILN,
				    -errno, "%s: %s", cmd, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return sandbox_fail(e, SANDBOX_EXIT_CANNOT_EXEC, -EACCES, "%s: %s", cmd,
				    S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
	if (access(path, X_OK) < 0)
		return sandbox_fail(e, SANDBOX_EXIT_CANNOT_EXEC, -EACCES, "%s: not executable",
				    cmd);
	if (access(path, R_OK) < 0)
		return sandbox_fail(e, SANDBOX_EXIT_KILN, -EACCES,
				    "%s: not readable (kiln copies it into the guest)", cmd);
	return 0;
}

/* dir/name, made absolute against the current directory. */
static int absolute(const char *dir, size_t dlen, const char *name, char *out, size_t outlen)
{
	char cwd[PATH_MAX];
	int n;

	if (dlen == 1 && dir[0] == '/')
		n = snprintf(out, outlen, "/%s", name);
	else if (dlen > 0 && dir[0] == '/')
		n = snprintf(out, outlen, "%.*s/%s", (int)dlen, dir, name);
	else if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	else if (dlen > 0)
		n = snprintf(out, outlen, "%s/%.*s/%s", strcmp(cwd, "/") ? cwd : "", (int)dlen, dir,
			     name);
	else
		n = snprintf(out, outlen, "%s/%s", strcmp(cwd, "/") ? cwd : "", name);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static int find_in_path(const char *cmd, const char *path_env, char *out, size_t outlen,
			struct sandbox_err *e)
{
	const char *p = path_env ? path_env : DEFAULT_PATH;
	bool denied = false;

	for (;;) {
		size_t n = strcspn(p, ":");
		struct stat st;

		if (absolute(p, n, cmd, out, outlen) == 0 && stat(out, &st) == 0 &&
		    S_ISREG(st.st_mode)) {
			if (access(out, X_OK) == 0)
				return check_cmd(cmd, out, e);
			denied = true;
		}
		if (!p[n])
			break;
		p += n + 1;
	}
	if (denied)
		return sandbox_fail(e, SANDBOX_EXIT_CANNOT_EXEC, -EACCES,
				    "%s: found in PATH but not executable", cmd);
	return sandbox_fail(e, SANDBOX_EXIT_NOT_FOUND, -ENOENT, "%s: command not found in PATH",
			    cmd);
}

int initramfs_find_cmd(const char *cmd, const char *path_env, char *out, size_t outlen,
		       struct sandbox_err *e)
{
	if (!cmd[0])
		return sandbox_fail(e, SANDBOX_EXIT_NOT_FOUND, -ENOENT, "empty command name");
	if (!strchr(cmd, '/'))
		return find_in_path(cmd, path_env, out, outlen, e);
	if (cmd[0] == '/' ? (size_t)snprintf(out, outlen, "%s", cmd) >= outlen
			  : absolute("", 0, cmd, out, outlen) < 0)
		return sandbox_fail(e, SANDBOX_EXIT_KILN, -ENAMETOOLONG, "%s: path too long", cmd);
	return check_cmd(cmd, out, e);
}
