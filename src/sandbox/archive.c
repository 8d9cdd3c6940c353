/* archive.c — copies host paths into the initramfs component by component, keeping symbolic
 * links as links so that the guest resolves each path exactly as the host does. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/archive.h"

enum tag { TAG_OWN, TAG_DIR, TAG_LINK, TAG_FILE };

/* A path being resolved: the canonical prefix so far and what is left to walk. */
struct walk {
	char cur[PATH_MAX]; /* "" (the root) or "/a/b": no links, no . or .. */
	size_t cur_len;
	char rest[2 * PATH_MAX]; /* components still to walk, from pos */
	size_t pos;
	unsigned links;
	bool at_file; /* cur is a regular file (the walk must end there) */
};

void archive_init(struct archive *a, int fd, uint64_t max_len)
{
	memset(a, 0, sizeof(*a));
	cpio_writer_init(&a->w, fd, max_len);
	strset_init(&a->names, ARCHIVE_MAX_ENTRIES);
	a->max_len = max_len;
	a->dir_fd = -1;
}

void archive_init_dir(struct archive *a, int dir_fd, uint64_t max_len)
{
	archive_init(a, -1, max_len);
	a->dir_fd = dir_fd;
}

void archive_free(struct archive *a)
{
	strset_free(&a->names);
}

/* A size for messages: "1 GiB", "64 KiB", "100 bytes" (exact units only). */
static const char *size_text(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
	unsigned u = 0;

	while (u < 4 && n >= 1024 && n % 1024 == 0) {
		n /= 1024;
		u++;
	}
	snprintf(buf, len, "%llu %s", (unsigned long long)n, units[u]);
	return buf;
}

/* Turn a cpio or set error into the failure record. */
static int write_failed(struct archive *a, const char *name, int ret, struct sandbox_err *e)
{
	char size[32];

	if (ret == -EFBIG)
		return sandbox_fail(e, SANDBOX_EXIT_KILN, ret, "/%s: the initramfs would exceed %s",
				    name, size_text(a->max_len, size, sizeof(size)));
	if (ret == -E2BIG)
		return sandbox_fail(e, SANDBOX_EXIT_KILN, ret,
				    "/%s: more than %d files in the initramfs", name,
				    ARCHIVE_MAX_ENTRIES);
	if (a->dir_fd >= 0)
		return sandbox_fail(e, SANDBOX_EXIT_KILN, ret, "copying /%s: %s", name,
				    strerror(-ret));
	return sandbox_fail(e, SANDBOX_EXIT_KILN, ret, "writing the initramfs (/%s): %s", name,
			    strerror(-ret));
}

static uint32_t mtime32(const struct stat *st)
{
	return st->st_mtime < 0		   ? 0
	       : st->st_mtime > UINT32_MAX ? UINT32_MAX
					   : (uint32_t)st->st_mtime;
}

/* Tree mode: copy the open file src to `name` under the directory. 0 or -errno. */
static int copy_into(struct archive *a, const char *name, mode_t mode, int src)
{
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int dst = openat(a->dir_fd, name, flags, mode & 0777);
	ssize_t n;
	int ret = 0;

	if (dst < 0 && errno == EEXIST && unlinkat(a->dir_fd, name, 0) == 0)
		dst = openat(a->dir_fd, name, flags, mode & 0777); /* a jail built again */
	if (dst < 0)
		return -errno;
	while ((n = copy_file_range(src, NULL, dst, NULL, 1 << 30, 0)) > 0)
		;
	if (n < 0)
		ret = -errno;
	if (close(dst) < 0 && ret == 0)
		ret = -errno;
	return ret;
}

/* Tree mode: a directory (kept if it exists) or a symbolic link at `name`. */
static int tree_entry(struct archive *a, const char *name, const struct stat *st,
		      const char *link_target)
{
	int ret = S_ISDIR(st->st_mode) ? mkdirat(a->dir_fd, name, st->st_mode & 07777)
				       : symlinkat(link_target, a->dir_fd, name);

	if (ret < 0 && errno == EEXIST && !S_ISDIR(st->st_mode) &&
	    unlinkat(a->dir_fd, name, 0) == 0) /* a jail built again: the link replaced */
		ret = symlinkat(link_target, a->dir_fd, name);
	return ret < 0 && !(errno == EEXIST && S_ISDIR(st->st_mode)) ? -errno : 0;
}

/* Copy the regular file at path (canonical) in as `name`. */
static int add_file(struct archive *a, const char *path, struct sandbox_err *e)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	char size[32];
	int ret;

	if (fd < 0)
		return sandbox_fail(e, SANDBOX_EXIT_KILN, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return sandbox_fail(e, SANDBOX_EXIT_KILN, -EINVAL, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > a->max_len) {
		close(fd);
		return sandbox_fail(e, SANDBOX_EXIT_KILN, -EFBIG,
				    "%s: %llu bytes, more than the initramfs may hold (%s)", path,
				    (unsigned long long)st.st_size,
				    size_text(a->max_len, size, sizeof(size)));
	}
	if (a->dir_fd >= 0)
		ret = copy_into(a, path + 1, st.st_mode, fd);
	else
		ret = cpio_add_file(&a->w, path + 1, st.st_mode, mtime32(&st), fd,
				    (uint64_t)st.st_size);
	close(fd);
	if (ret == -EIO)
		return sandbox_fail(e, SANDBOX_EXIT_KILN, ret, "%s: shrank while being copied",
				    path);
	if (ret < 0)
		return write_failed(a, path + 1, ret, e);
	a->stats.files++;
	a->stats.file_bytes += (uint64_t)st.st_size;
	return 0;
}

/* Add the host object at the canonical path (already lstat'ed), unless present. */
static int add_entry(struct archive *a, const char *path, const struct stat *st,
		     const char *link_target, struct sandbox_err *e)
{
	const char *name = path + 1;
	int tag = strset_get(&a->names, name), ret;

	if (tag == TAG_OWN)
		return sandbox_fail(e, SANDBOX_EXIT_KILN, -EEXIST,
				    "%s: the path collides with kiln sandbox's own /%s", path,
				    name);
	if (tag >= 0)
		return 0;
	if (a->dir_fd >= 0 && !S_ISREG(st->st_mode)) {
		ret = tree_entry(a, name, st, link_target);
		tag = S_ISDIR(st->st_mode) ? TAG_DIR : TAG_LINK;
	} else if (S_ISDIR(st->st_mode)) {
		ret = cpio_add_dir(&a->w, name, st->st_mode, mtime32(st));
		a->stats.dirs += ret == 0;
		tag = TAG_DIR;
	} else if (S_ISLNK(st->st_mode)) {
		ret = cpio_add_symlink(&a->w, name, link_target);
		a->stats.symlinks += ret == 0;
		tag = TAG_LINK;
	} else {
		ret = add_file(a, path, e);
		if (ret < 0)
			return ret;
		tag = TAG_FILE;
	}
	if (ret == 0)
		ret = strset_put(&a->names, name, (uint8_t)tag);
	return ret < 0 ? write_failed(a, name, ret, e) : 0;
}

/* The next component of the walk (NUL-terminated in place), or NULL at the end. */
static char *next_component(struct walk *w)
{
	char *c, *slash;

	while (w->rest[w->pos] == '/')
		w->pos++;
	if (!w->rest[w->pos])
		return NULL;
	c = w->rest + w->pos;
	slash = strchr(c, '/');
	if (slash) {
		*slash = '\0';
		w->pos = (size_t)(slash - w->rest) + 1;
	} else {
		w->pos += strlen(c);
	}
	return c;
}

static bool walk_done(const struct walk *w)
{
	for (size_t i = w->pos; w->rest[i]; i++)
		if (w->rest[i] != '/')
			return false;
	return true;
}

/* Continue the walk at a link's target, then what was left after the link. */
static int splice_link(struct walk *w, const char *target)
{
	char buf[sizeof(w->rest)];
	int n = snprintf(buf, sizeof(buf), "%s/%s", target, w->rest + w->pos);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(w->rest, buf, (size_t)n + 1);
	w->pos = 0;
	if (target[0] == '/')
		w->cur_len = 0; /* an absolute target starts again at the root */
	w->cur[w->cur_len] = '\0';
	return 0;
}

/* The guest mounts its own proc, sysfs and devtmpfs over these: files there would vanish. */
static bool mounted_over(const char *path)
{
	return strcmp(path, "/dev") == 0 || strcmp(path, "/proc") == 0 || strcmp(path, "/sys") == 0;
}

/* Step into the component c (not . or ..): add it, follow it if it is a link. */
static int step(struct archive *a, struct walk *w, const char *c, const char *orig,
		struct sandbox_err *e)
{
	char target[PATH_MAX];
	size_t clen = strlen(c);
	struct stat st;
	ssize_t n;
	int ret;

	if (w->cur_len + 1 + clen >= sizeof(w->cur))
		return sandbox_fail(e, SANDBOX_EXIT_KILN, -ENAMETOOLONG, "%s: path too long", orig);
	w->cur[w->cur_len] = '/';
	memcpy(w->cur + w->cur_len + 1, c, clen + 1);
	if (lstat(w->cur, &st) < 0)
		return sandbox_fail(e, SANDBOX_EXIT_KILN, -errno, "%s: %s: %s", orig, w->cur,
				    strerror(errno));
	if (S_ISDIR(st.st_mode) && mounted_over(w->cur))
		return sandbox_fail(e, SANDBOX_EXIT_KILN, -EINVAL,
				    "%s lies under %s, where the guest mounts its own file system",
				    orig, w->cur);
	if (!S_ISLNK(st.st_mode)) {
		if (!S_ISDIR(st.st_mode) && !(S_ISREG(st.st_mode) && walk_done(w)))
			return sandbox_fail(e, SANDBOX_EXIT_KILN, -EINVAL, "%s: %s is not a %s",
					    orig, w->cur,
					    walk_done(w) ? "regular file" : "directory");
		w->cur_len += 1 + clen;
		w->at_file = S_ISREG(st.st_mode);
		return add_entry(a, w->cur, &st, NULL, e);
	}
	w->at_file = false;
	if (++w->links > ARCHIVE_MAX_LINKS)
		return sandbox_fail(e, SANDBOX_EXIT_KILN, -ELOOP,
				    "%s: more than %d symbolic links (a loop?)", orig,
				    ARCHIVE_MAX_LINKS);
	n = readlink(w->cur, target, sizeof(target));
	if (n <= 0 || (size_t)n >= sizeof(target))
		return sandbox_fail(e, SANDBOX_EXIT_KILN, n < 0 ? -errno : -ENAMETOOLONG,
				    "%s: cannot read the link %s", orig, w->cur);
	target[n] = '\0';
	ret = add_entry(a, w->cur, &st, target, e);
	if (ret < 0)
		return ret;
	if (splice_link(w, target) < 0)
		return sandbox_fail(e, SANDBOX_EXIT_KILN, -ENAMETOOLONG, "%s: path too long", orig);
	return 0;
}

static void step_up(struct walk *w)
{
	while (w->cur_len > 0 && w->cur[w->cur_len - 1] != '/')
		w->cur_len--;
	if (w->cur_len > 0)
		w->cur_len--; /* the slash */
	w->cur[w->cur_len] = '\0';
}

int archive_add_host(struct archive *a, const char *path, char *canon, size_t canon_len,
		     struct sandbox_err *e)
{
	struct walk *w = calloc(1, sizeof(*w));
	char *c;
	int ret = 0;

	if (!w)
		return sandbox_fail(e, SANDBOX_EXIT_KILN, -ENOMEM, "out of memory");
	if (path[0] != '/' || strlen(path) >= PATH_MAX)
		ret = sandbox_fail(e, SANDBOX_EXIT_KILN, -EINVAL, "%s: not an absolute path", path);
	else
		strcpy(w->rest, path);
	while (ret == 0 && (c = next_component(w)) != NULL) {
		if (strcmp(c, ".") == 0)
			continue;
		w->at_file = false;
		if (strcmp(c, "..") == 0) {
			step_up(w);
			continue;
		}
		ret = step(a, w, c, path, e);
	}
	if (ret == 0 && !w->at_file)
		ret = sandbox_fail(e, SANDBOX_EXIT_KILN, -EISDIR, "%s: is a directory", path);
	if (ret == 0 && (size_t)snprintf(canon, canon_len, "%s", w->cur) >= canon_len)
		ret = sandbox_fail(e, SANDBOX_EXIT_KILN, -ENAMETOOLONG, "%s: path too long", path);
	free(w);
	return ret;
}

/* Reserve name for kiln's own entry; an existing entry of that name is an error. */
static int own(struct archive *a, const char *name, struct sandbox_err *e)
{
	int ret;

	if (strset_get(&a->names, name) >= 0)
		return sandbox_fail(e, SANDBOX_EXIT_KILN, -EEXIST, "/%s is in the initramfs twice",
				    name);
	ret = strset_put(&a->names, name, TAG_OWN);
	return ret < 0 ? write_failed(a, name, ret, e) : 0;
}

int archive_add_own_dir(struct archive *a, const char *name, struct sandbox_err *e)
{
	int ret = own(a, name, e);

	if (ret < 0)
		return ret;
	ret = cpio_add_dir(&a->w, name, 0755, 0);
	if (ret < 0)
		return write_failed(a, name, ret, e);
	a->stats.dirs++;
	return 0;
}

int archive_add_own_file(struct archive *a, const char *name, uint32_t perm, const void *data,
			 size_t len, struct sandbox_err *e)
{
	int ret = own(a, name, e);

	if (ret < 0)
		return ret;
	ret = cpio_add_data(&a->w, name, perm, 0, data, len);
	if (ret < 0)
		return write_failed(a, name, ret, e);
	a->stats.files++;
	a->stats.file_bytes += len;
	return 0;
}

int archive_add_own_chardev(struct archive *a, const char *name, uint32_t major, uint32_t minor,
			    struct sandbox_err *e)
{
	int ret = own(a, name, e);

	if (ret < 0)
		return ret;
	ret = cpio_add_chardev(&a->w, name, 0600, major, minor);
	return ret < 0 ? write_failed(a, name, ret, e) : 0;
}

int archive_finish(struct archive *a, struct sandbox_err *e)
{
	int ret = cpio_finish(&a->w);

	return ret == 0 ? 0 : write_failed(a, CPIO_TRAILER, ret, e);
}
