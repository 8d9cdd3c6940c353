/* test_sandbox_initramfs.c — kiln sandbox's archive: the string set, ld.so.conf, $ORIGIN, finding
 * CMD, host paths with their links (and loops), #! scripts, glibc's library search order on
 * synthetic ELF files, and /bin/true packed and parsed back byte for byte. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cpio_read.h"
#include "elf_build.h"
#include "sandbox/initramfs.h"
#include "sandbox/ldconf.h"
#include "sandbox/protocol.h"
#include "sandbox/strset.h"

static char tmp[64]; /* a fresh directory per test */
static struct sandbox_err e;

static int setup(void **st)
{
	(void)st;
	snprintf(tmp, sizeof(tmp), "/tmp/kiln-test-initramfs-XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **st)
{
	char cmd[PATH_MAX + 16];

	(void)st;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

/* tmp/rel, in a static buffer (one of four, so a few can be used at once). */
static const char *at(const char *rel)
{
	static char buf[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmp, rel);
	return buf[i];
}

static void put_file(const char *rel, const char *text, mode_t mode)
{
	int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* --- the archive --- */

struct packed {
	uint8_t *buf;
	struct cpio_ent *e;
	size_t n;
};

static void packed_free(struct packed *p)
{
	free(p->buf);
	free(p->e);
}

static int build(const char *exe, const char *conf, uint64_t max_len, struct packed *p)
{
	static char *argv[] = {"prog", "arg one", "", NULL};
	static char *envp[] = {"PATH=/bin", NULL};
	struct initramfs_input in = {.exe = exe,
				     .argv = argv,
				     .envp = envp,
				     .init = "INIT",
				     .init_len = 4,
				     .ld_so_conf = conf ? conf : at("no-such.conf"),
				     .ld_so_cache = NULL,
				     .path_env = "/usr/bin:/bin",
				     .max_len = max_len};
	int fd = memfd_create("test-initramfs", MFD_CLOEXEC);
	size_t len;
	int ret;

	assert_true(fd >= 0);
	memset(&e, 0, sizeof(e));
	ret = initramfs_build(&in, fd, NULL, &e);
	if (ret == 0 && p) {
		p->buf = cpio_slurp(fd, &len);
		assert_non_null(p->buf);
		assert_int_equal(cpio_read(p->buf, len, &p->e, &p->n), 0);
	}
	close(fd);
	return ret;
}

static const struct cpio_ent *need(const struct packed *p, const char *name, mode_t type)
{
	const struct cpio_ent *en = cpio_find(p->e, p->n, name);

	if (!en)
		fail_msg("%s is not in the archive", name);
	assert_int_equal(en->mode & S_IFMT, type);
	return en;
}

/* Every entry's parent directory (or link to one) comes before it. */
static void check_parents_first(const struct packed *p)
{
	for (size_t i = 0; i < p->n; i++) {
		char parent[4096];
		char *slash;
		bool seen = false;

		snprintf(parent, sizeof(parent), "%s", p->e[i].name);
		slash = strrchr(parent, '/');
		if (!slash)
			continue;
		*slash = '\0';
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(p->e[j].name, parent) == 0;
		if (!seen)
			fail_msg("%s comes before its directory", p->e[i].name);
	}
}

/* The archive's copy of a host file has the host's bytes. */
static void same_bytes(const struct packed *p, const char *host)
{
	const struct cpio_ent *en = need(p, host + 1, S_IFREG);
	int fd = open(host, O_RDONLY);
	size_t len;
	uint8_t *b;

	assert_true(fd >= 0);
	b = cpio_slurp(fd, &len);
	close(fd);
	assert_int_equal(en->size, len);
	assert_memory_equal(en->data, b, len);
	free(b);
}

/* Concatenate up to three strings into dst (size bytes), failing the test if they do not fit. */
static void cat3(char *dst, size_t size, const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);

	assert_true(la + lb + lc < size);
	memmove(dst, a, la);
	memmove(dst + la, b, lb);
	memmove(dst + la + lb, c, lc);
	dst[la + lb + lc] = '\0';
}

/* Follow the archive's own links from name to a regular file; its entry. */
static const struct cpio_ent *resolve_in(const struct packed *p, const char *path)
{
	char cur[4096], rest[8192], next[8192];
	int hops = 0;

	cur[0] = '\0';
	cat3(rest, sizeof(rest), path, "", "");
	while (rest[0]) {
		char *c = rest + strspn(rest, "/"), *slash = strchr(c, '/');
		const struct cpio_ent *en;
		char cand[4096];

		if (!*c)
			break;
		if (slash)
			*slash = '\0';
		cat3(cand, sizeof(cand), cur, cur[0] ? "/" : "", c);
		en = cpio_find(p->e, p->n, cand);
		if (!en)
			fail_msg("%s: %s missing in the archive", path, cand);
		cat3(next, sizeof(next), slash ? slash + 1 : "", "", "");
		if ((en->mode & S_IFMT) == S_IFLNK) {
			char target[4096];

			assert_true(++hops < 40);
			assert_true(en->size < sizeof(target));
			memcpy(target, en->data, en->size);
			target[en->size] = '\0';
			if (target[0] == '/')
				cur[0] = '\0';
			cat3(rest, sizeof(rest), target, "/", next);
			continue;
		}
		cat3(cur, sizeof(cur), cand, "", "");
		cat3(rest, sizeof(rest), next, "", "");
		if ((en->mode & S_IFMT) == S_IFREG)
			return en;
	}
	fail_msg("%s does not resolve to a file", path);
	return NULL;
}

static void test_true(void **st)
{
	const struct cpio_ent *en;
	char canon[PATH_MAX];
	struct packed p;

	(void)st;
	assert_int_equal(build("/bin/true", NULL, 1 << 30, &p), 0);
	check_parents_first(&p);
	en = need(&p, SANDBOX_INIT, S_IFREG);
	assert_memory_equal(en->data, "INIT", 4);
	assert_int_equal(en->mode & 0777, 0755);
	en = need(&p, SANDBOX_EXE, S_IFREG);
	assert_int_equal(en->size, sizeof("/bin/true"));
	assert_memory_equal(en->data, "/bin/true", sizeof("/bin/true"));
	en = need(&p, SANDBOX_ARGV, S_IFREG);
	assert_int_equal(en->size, sizeof("prog") + sizeof("arg one") + 1);
	assert_memory_equal(en->data, "prog\0arg one\0", en->size);
	en = need(&p, SANDBOX_ENV, S_IFREG);
	assert_memory_equal(en->data, "PATH=/bin", en->size);
	en = need(&p, "dev/console", S_IFCHR);
	assert_int_equal(en->rdev_major, 5);
	/* The guest finds everything along the same paths as the host: the program, its
	 * interpreter through /lib64, and libc. */
	assert_non_null(realpath("/bin/true", canon));
	same_bytes(&p, canon);
	en = resolve_in(&p, "/bin/true");
	assert_int_equal(en->mode & 0111, 0111);
	en = resolve_in(&p, "/lib64/ld-linux-x86-64.so.2");
	resolve_in(&p, "/lib/x86_64-linux-gnu/libc.so.6");
	packed_free(&p);
}

static void test_limit(void **st)
{
	struct stat libc;

	(void)st;
	assert_int_equal(stat("/lib/x86_64-linux-gnu/libc.so.6", &libc), 0);
	/* one file larger than the whole archive may be */
	assert_int_equal(build("/bin/true", NULL, 64 << 10, NULL), -EFBIG);
	assert_int_equal(e.status, SANDBOX_EXIT_KILN);
	assert_non_null(strstr(e.msg, "more than the initramfs may hold (64 KiB)"));
	/* each file fits, all of them do not */
	assert_int_equal(build("/bin/true", NULL, (uint64_t)libc.st_size + (100 << 10), NULL),
			 -EFBIG);
	assert_non_null(strstr(e.msg, "would exceed"));
}

/* --- host paths --- */

static void test_links(void **st)
{
	struct archive a;
	char canon[PATH_MAX];
	int fd = memfd_create("t", MFD_CLOEXEC);

	(void)st;
	assert_int_equal(mkdir(at("d"), 0700), 0);
	put_file("d/f", "data", 0644);
	assert_int_equal(symlink("d", at("rel")), 0);
	assert_int_equal(symlink(at("d"), at("abs")), 0);
	assert_int_equal(symlink("loop2", at("loop1")), 0);
	assert_int_equal(symlink("loop1", at("loop2")), 0);
	assert_int_equal(symlink("nowhere", at("dangling")), 0);
	archive_init(&a, fd, 1 << 20);
	assert_int_equal(archive_add_host(&a, at("rel/../rel/./f"), canon, sizeof(canon), &e), 0);
	assert_string_equal(canon, at("d/f"));
	assert_int_equal(archive_add_host(&a, at("abs/f"), canon, sizeof(canon), &e), 0);
	assert_int_equal(a.stats.files, 1); /* the same file once */
	assert_int_equal(a.stats.symlinks, 2);
	assert_int_equal(archive_add_host(&a, at("loop1/f"), canon, sizeof(canon), &e), -ELOOP);
	assert_non_null(strstr(e.msg, "symbolic links"));
	assert_int_equal(archive_add_host(&a, at("dangling"), canon, sizeof(canon), &e), -ENOENT);
	assert_int_equal(archive_add_host(&a, at("d/f/x"), canon, sizeof(canon), &e), -EINVAL);
	assert_int_equal(archive_add_host(&a, at("d"), canon, sizeof(canon), &e), -EISDIR);
	assert_int_equal(archive_add_host(&a, "d/f", canon, sizeof(canon), &e), -EINVAL);
	assert_int_equal(archive_add_host(&a, "/dev/null", canon, sizeof(canon), &e), -EINVAL);
	assert_non_null(strstr(e.msg, "mounts its own"));
	assert_int_equal(archive_add_host(&a, "/proc/self/exe", canon, sizeof(canon), &e), -EINVAL);
	assert_int_equal(e.status, SANDBOX_EXIT_KILN);
	archive_free(&a);
	close(fd);
}

static void test_own_collision(void **st)
{
	struct archive a;
	char canon[PATH_MAX];
	int fd = memfd_create("t", MFD_CLOEXEC);

	(void)st;
	archive_init(&a, fd, 1 << 20);
	/* kiln's entry first, then a host path through it */
	assert_int_equal(archive_add_own_dir(&a, tmp + 1, &e), 0);
	put_file("f", "x", 0644);
	assert_int_equal(archive_add_host(&a, at("f"), canon, sizeof(canon), &e), -EEXIST);
	assert_int_equal(archive_add_own_dir(&a, tmp + 1, &e), -EEXIST);
	archive_free(&a);
	close(fd);
}

/* --- finding CMD --- */

static void test_find_cmd(void **st)
{
	char out[PATH_MAX], cwd[PATH_MAX], path[2 * PATH_MAX];

	(void)st;
	assert_int_equal(
	    initramfs_find_cmd("true", "/nonexistent:/usr/bin:/bin", out, sizeof(out), &e), 0);
	assert_string_equal(out, "/usr/bin/true");
	assert_int_equal(
	    initramfs_find_cmd("no-such-command-xyz", "/usr/bin", out, sizeof(out), &e), -ENOENT);
	assert_int_equal(e.status, SANDBOX_EXIT_NOT_FOUND);
	assert_int_equal(initramfs_find_cmd("", NULL, out, sizeof(out), &e), -ENOENT);
	assert_int_equal(initramfs_find_cmd("/etc", NULL, out, sizeof(out), &e), -EACCES);
	assert_int_equal(e.status, SANDBOX_EXIT_CANNOT_EXEC);
	assert_int_equal(initramfs_find_cmd("/no/such/file", NULL, out, sizeof(out), &e), -ENOENT);
	assert_int_equal(e.status, SANDBOX_EXIT_NOT_FOUND);
	/* in PATH, not executable: 126; an executable later in PATH wins */
	assert_int_equal(mkdir(at("a"), 0755), 0);
	assert_int_equal(mkdir(at("b"), 0755), 0);
	put_file("a/tool", "#!/bin/sh\n", 0644);
	snprintf(path, sizeof(path), "%s", at("a"));
	assert_int_equal(initramfs_find_cmd("tool", path, out, sizeof(out), &e), -EACCES);
	assert_int_equal(e.status, SANDBOX_EXIT_CANNOT_EXEC);
	put_file("b/tool", "#!/bin/sh\n", 0755);
	snprintf(path, sizeof(path), "%s:%s", at("a"), at("b"));
	assert_int_equal(initramfs_find_cmd("tool", path, out, sizeof(out), &e), 0);
	assert_string_equal(out, at("b/tool"));
	/* a relative path is made absolute; so is an empty PATH entry (the current directory) */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(at("b")), 0);
	assert_int_equal(initramfs_find_cmd("./tool", NULL, out, sizeof(out), &e), 0);
	assert_string_equal(out, at("b/./tool"));
	assert_int_equal(initramfs_find_cmd("tool", "/nonexistent:", out, sizeof(out), &e), 0);
	assert_string_equal(out, at("b/tool"));
	assert_int_equal(chdir(cwd), 0);
}

/* --- #! scripts --- */

static void test_scripts(void **st)
{
	char text[PATH_MAX + 16];
	struct packed p;

	(void)st;
	put_file("s1", "#!/bin/sh -e\necho hi\n", 0755);
	assert_int_equal(build(at("s1"), NULL, 1 << 30, &p), 0);
	need(&p, at("s1") + 1, S_IFREG);
	resolve_in(&p, "/bin/sh");
	resolve_in(&p, "/lib/x86_64-linux-gnu/libc.so.6");
	packed_free(&p);
	/* a script interpreting a script */
	snprintf(text, sizeof(text), "#!%s\n", at("s1"));
	put_file("s2", text, 0755);
	assert_int_equal(build(at("s2"), NULL, 1 << 30, NULL), 0);
	/* a script interpreting itself never ends */
	snprintf(text, sizeof(text), "#! %s x\n", at("s3"));
	put_file("s3", text, 0755);
	assert_int_equal(build(at("s3"), NULL, 1 << 30, NULL), -ELOOP);
	assert_int_equal(e.status, SANDBOX_EXIT_CANNOT_EXEC);
	put_file("s4", "#!/no/such/interpreter\n", 0755);
	assert_int_equal(build(at("s4"), NULL, 1 << 30, NULL), -ENOENT);
	assert_int_equal(e.status, SANDBOX_EXIT_NOT_FOUND);
	put_file("s5", "#!sh\n", 0755);
	assert_int_equal(build(at("s5"), NULL, 1 << 30, NULL), -ENOEXEC);
	assert_int_equal(e.status, SANDBOX_EXIT_CANNOT_EXEC);
	memset(text, 'x', 300);
	memcpy(text, "#!/", 3);
	text[300] = '\0';
	put_file("s6", text, 0755);
	assert_int_equal(build(at("s6"), NULL, 1 << 30, NULL), -ENOEXEC);
	put_file("s7", "echo no interpreter line\n", 0755);
	assert_int_equal(build(at("s7"), NULL, 1 << 30, NULL), -ENOEXEC);
	assert_int_equal(e.status, SANDBOX_EXIT_CANNOT_EXEC);
	assert_non_null(strstr(e.msg, "neither an ELF executable nor a #! script"));
}

static void test_env_scripts(void **st)
{
	struct packed p;

	(void)st;
	put_file("e1", "#!/usr/bin/env -i FOO=1 true\n", 0755);
	assert_int_equal(build(at("e1"), NULL, 1 << 30, &p), 0);
	resolve_in(&p, "/usr/bin/env");
	resolve_in(&p, "/usr/bin/true");
	packed_free(&p);
	put_file("e2", "#!/usr/bin/env no-such-command-xyz\n", 0755);
	assert_int_equal(build(at("e2"), NULL, 1 << 30, NULL), -ENOENT);
	assert_int_equal(e.status, SANDBOX_EXIT_NOT_FOUND);
}

/* --- ELF files --- */

static void test_bad_programs(void **st)
{
	struct elf_spec s = {.machine = EM_AARCH64};
	uint8_t b[ELF_BUILD_LEN];
	int fd;

	(void)st;
	assert_int_equal(elf_build_file(&s, at("arm")), 0);
	assert_int_equal(build(at("arm"), NULL, 1 << 30, NULL), -ENOTSUP);
	assert_int_equal(e.status, SANDBOX_EXIT_CANNOT_EXEC);
	/* truncated: the error names the file, status 125 */
	elf_build(&(struct elf_spec){.interp = "/lib64/ld-linux-x86-64.so.2"}, b);
	fd = open(at("cut"), O_WRONLY | O_CREAT, 0755);
	assert_int_equal(write(fd, b, 200), 200);
	close(fd);
	assert_int_equal(build(at("cut"), NULL, 1 << 30, NULL), -EINVAL);
	assert_int_equal(e.status, SANDBOX_EXIT_KILN);
	assert_non_null(strstr(e.msg, at("cut")));
	/* a PT_INTERP that does not exist */
	assert_int_equal(elf_build_file(&(struct elf_spec){.interp = "/no/ld.so"}, at("noint")), 0);
	assert_int_equal(build(at("noint"), NULL, 1 << 30, NULL), -ENOENT);
	assert_int_equal(e.status, SANDBOX_EXIT_KILN);
}

static void mkdirs(const char *const *dirs)
{
	for (; *dirs; dirs++)
		assert_int_equal(mkdir(at(*dirs), 0755), 0);
}

/* DT_RUNPATH of a program does not apply to its libraries' lookups; DT_RPATH does. */
static void test_rpath_rules(void **st)
{
	static const char *const dirs[] = {"bin", "lib", NULL};
	struct elf_spec lib1 = {.dynamic = true, .needed = {"libkt2.so"}};
	struct elf_spec lib2 = {.dynamic = true};
	struct elf_spec prog = {.dynamic = true, .needed = {"libkt1.so"}};
	struct packed p;

	(void)st;
	mkdirs(dirs);
	assert_int_equal(elf_build_file(&lib1, at("lib/libkt1.so")), 0);
	assert_int_equal(elf_build_file(&lib2, at("lib/libkt2.so")), 0);
	prog.runpath = "$ORIGIN/../lib";
	assert_int_equal(elf_build_file(&prog, at("bin/prog")), 0);
	assert_int_equal(build(at("bin/prog"), NULL, 1 << 30, NULL), -ENOENT);
	assert_int_equal(e.status, SANDBOX_EXIT_KILN);
	assert_non_null(strstr(e.msg, "libkt2.so (needed by"));
	prog.runpath = NULL;
	prog.rpath = "/nonexistent:$ORIGIN/../lib";
	assert_int_equal(elf_build_file(&prog, at("bin/prog")), 0);
	assert_int_equal(build(at("bin/prog"), NULL, 1 << 30, &p), 0);
	need(&p, at("lib/libkt1.so") + 1, S_IFREG);
	need(&p, at("lib/libkt2.so") + 1, S_IFREG);
	packed_free(&p);
}

/* Candidates for another class are skipped (as ld.so does); a non-ELF one is an error. */
static void test_candidates(void **st)
{
	static const char *const dirs[] = {"l32", "l64", "lbad", NULL};
	struct elf_spec lib32 = {.elf_class = ELFCLASS32};
	struct elf_spec prog = {.dynamic = true, .needed = {"libkt.so"}};
	char rpath[3 * PATH_MAX];
	struct packed p;

	(void)st;
	mkdirs(dirs);
	assert_int_equal(elf_build_file(&lib32, at("l32/libkt.so")), 0);
	assert_int_equal(elf_build_file(&(struct elf_spec){0}, at("l64/libkt.so")), 0);
	put_file("lbad/libkt.so", "INPUT(-lkt)\n", 0644);
	snprintf(rpath, sizeof(rpath), "%s:%s", at("l32"), at("l64"));
	prog.rpath = rpath;
	assert_int_equal(elf_build_file(&prog, at("prog")), 0);
	assert_int_equal(build(at("prog"), NULL, 1 << 30, &p), 0);
	need(&p, at("l64/libkt.so") + 1, S_IFREG);
	assert_null(cpio_find(p.e, p.n, at("l32/libkt.so") + 1));
	packed_free(&p);
	snprintf(rpath, sizeof(rpath), "%s:%s", at("lbad"), at("l64"));
	assert_int_equal(elf_build_file(&prog, at("prog")), 0);
	assert_int_equal(build(at("prog"), NULL, 1 << 30, NULL), -ENOEXEC);
	assert_non_null(strstr(e.msg, "lbad/libkt.so"));
}

/* Libraries needing each other end; a directory from ld.so.conf is searched. */
static void test_needed_loop_and_conf(void **st)
{
	static const char *const dirs[] = {"conf.d", "libs", NULL};
	struct elf_spec a = {.dynamic = true, .needed = {"libktb.so"}};
	struct elf_spec b = {.dynamic = true, .needed = {"libkta.so"}};
	struct elf_spec prog = {.dynamic = true, .needed = {"libkta.so"}};
	char text[PATH_MAX + 32];
	struct packed p;

	(void)st;
	mkdirs(dirs);
	assert_int_equal(elf_build_file(&a, at("libs/libkta.so")), 0);
	assert_int_equal(elf_build_file(&b, at("libs/libktb.so")), 0);
	assert_int_equal(elf_build_file(&prog, at("prog")), 0);
	put_file("ld.so.conf", "include conf.d/*.conf\n", 0644);
	snprintf(text, sizeof(text), "# test\n%s/\n", at("libs"));
	put_file("conf.d/kt.conf", text, 0644);
	assert_int_equal(build(at("prog"), at("ld.so.conf"), 1 << 30, &p), 0);
	need(&p, at("libs/libkta.so") + 1, S_IFREG);
	need(&p, at("libs/libktb.so") + 1, S_IFREG);
	packed_free(&p);
	assert_int_equal(build(at("prog"), NULL, 1 << 30, NULL), -ENOENT);
}

/* --- ld.so.conf, $ORIGIN, the string set --- */

static void test_ldconf(void **st)
{
	static const char *const dirs[] = {"d", NULL};
	char text[PATH_MAX + 64], err[512];
	struct ldconf lc;

	(void)st;
	mkdirs(dirs);
	snprintf(text, sizeof(text),
		 "/opt/a\n  /opt/b/  # comment\nhwcap 0 nosegneg\ninclude d/*.conf %s/none*\n"
		 "/opt/a\n",
		 tmp);
	put_file("main.conf", text, 0644);
	put_file("d/2.conf", "/opt/c=libc6\n", 0644);
	put_file("d/1.conf", "/usr/lib\n", 0644);
	assert_int_equal(ldconf_load(&lc, at("main.conf"), err, sizeof(err)), 0);
	assert_int_equal(lc.nr, 8); /* /usr/lib is listed once */
	assert_string_equal(lc.dirs[0], "/opt/a");
	assert_string_equal(lc.dirs[1], "/opt/b");
	assert_string_equal(lc.dirs[2], "/usr/lib"); /* d/1.conf before d/2.conf */
	assert_string_equal(lc.dirs[3], "/opt/c");
	assert_string_equal(lc.dirs[4], "/lib/x86_64-linux-gnu"); /* then the defaults */
	assert_string_equal(lc.dirs[6], "/lib64");
	assert_string_equal(lc.dirs[7], "/lib");
	ldconf_free(&lc);
	/* a loop of includes, a relative directory, an overlong line */
	put_file("loop.conf", "include loop.conf\n", 0644);
	assert_int_equal(ldconf_load(&lc, at("loop.conf"), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "nested deeper"));
	ldconf_free(&lc);
	put_file("rel.conf", "lib\n", 0644);
	assert_int_equal(ldconf_load(&lc, at("rel.conf"), err, sizeof(err)), -EINVAL);
	ldconf_free(&lc);
	memset(text, 'a', sizeof(text) - 1);
	text[0] = '/';
	text[sizeof(text) - 1] = '\0';
	put_file("long.conf", text, 0644);
	assert_int_equal(ldconf_load(&lc, at("long.conf"), err, sizeof(err)), -EINVAL);
	ldconf_free(&lc);
	assert_int_equal(ldconf_load(&lc, at("missing.conf"), err, sizeof(err)), 0);
	assert_int_equal(lc.nr, 5);
	ldconf_free(&lc);
}

static void test_origin(void **st)
{
	char out[64];

	(void)st;
	assert_int_equal(initramfs_expand_origin("$ORIGIN/../lib", "/o", out, sizeof(out)), 0);
	assert_string_equal(out, "/o/../lib");
	assert_int_equal(initramfs_expand_origin("${ORIGIN}:x$ORIGIN", "/o", out, sizeof(out)), 0);
	assert_string_equal(out, "/o:x/o");
	assert_int_equal(initramfs_expand_origin("/plain", "/o", out, sizeof(out)), 0);
	assert_string_equal(out, "/plain");
	assert_int_equal(initramfs_expand_origin("$ORIGINX", "/o", out, sizeof(out)), -ENOTSUP);
	assert_int_equal(initramfs_expand_origin("$LIB/x", "/o", out, sizeof(out)), -ENOTSUP);
	assert_int_equal(initramfs_expand_origin("${PLATFORM}", "/o", out, sizeof(out)), -ENOTSUP);
	assert_int_equal(initramfs_expand_origin("x$", "/o", out, sizeof(out)), -ENOTSUP);
	assert_int_equal(initramfs_expand_origin("$ORIGIN$ORIGIN",
						 "/0123456789012345678901234567890123456789", out,
						 sizeof(out)),
			 -ENAMETOOLONG);
}

static void test_strset(void **st)
{
	struct strset s;
	char key[32];

	(void)st;
	strset_init(&s, 1000);
	assert_int_equal(strset_get(&s, "x"), -1);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "key%d", i);
		assert_int_equal(strset_put(&s, key, (uint8_t)i), 0);
	}
	assert_int_equal(strset_put(&s, "one more", 1), -E2BIG);
	assert_int_equal(strset_put(&s, "key7", 9), 0); /* a present key may change its tag */
	assert_int_equal(strset_get(&s, "key7"), 9);
	assert_int_equal(strset_get(&s, "key999"), 999 & 0xff);
	assert_int_equal(strset_get(&s, "key1000"), -1);
	strset_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_true, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_links, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_own_collision, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_find_cmd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scripts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_env_scripts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_programs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rpath_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_candidates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_needed_loop_and_conf, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ldconf, setup, teardown),
	    cmocka_unit_test(test_origin),
	    cmocka_unit_test(test_strset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
