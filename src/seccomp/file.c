/* file.c — the seccomp filter file `kiln seccomp compile` writes and `--seccomp-filter` reads.
 *
 * Written by hand: it is kiln's own format, little-endian throughout:
 *   "KILNSECF" | u32 version (1) | u32 AUDIT_ARCH of the machine | u32 count (3)
 *   count x { char name[16] (NUL-padded) | u32 instructions | instructions x
 *             { u16 code | u8 jt | u8 jf | u32 k } }
 *   u32 CRC-32C of everything before it.
 * Firecracker's own file (a Rust serde stream of its thread names) is not read: see
 * docs/seccomp.md. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seccomp/seccomp.h"
#include "state/snapshot.h"
#include "util/file.h"
#include "util/io.h"
#include "util/log.h"

#define MAGIC	  "KILNSECF"
#define VERSION	  1
#define NAME_LEN  16
#define MAX_INSNS 4096 /* BPF_MAXINSNS */
#define MAX_FILE  (24 + SECCOMP_NR_THREADS * (NAME_LEN + 4 + MAX_INSNS * 8) + 4)

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#endif

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* An instruction between host order (struct sock_filter in memory) and the file's. */
static void insn_to_le(uint8_t *dst, const uint8_t *src)
{
	uint16_t code;
	uint32_t k;

	memcpy(&code, src, 2);
	memcpy(&k, src + 4, 4);
	dst[0] = (uint8_t)code;
	dst[1] = (uint8_t)(code >> 8);
	dst[2] = src[2];
	dst[3] = src[3];
	put_le32(dst + 4, k);
}

static void insn_from_le(uint8_t *dst, const uint8_t *src)
{
	uint16_t code = (uint16_t)(src[0] | src[1] << 8);
	uint32_t k = get_le32(src + 4);

	memcpy(dst, &code, 2);
	dst[2] = src[2];
	dst[3] = src[3];
	memcpy(dst + 4, &k, 4);
}

static int say(char *err, size_t errlen, const char *what, const char *path)
{
	char shown[257];

	snprintf(err, errlen, "--seccomp-filter: %s: %s", log_printable(path, shown, sizeof(shown)),
		 what);
	return -EINVAL;
}

int seccomp_file_encode(const struct seccomp_filters *f, uint8_t **out, size_t *out_len)
{
	size_t len = 24 + 4, off = 24;
	uint8_t *buf;

	for (int t = 0; t < SECCOMP_NR_THREADS; t++)
		len += NAME_LEN + 4 + (size_t)f->prog[t].len * 8;
	buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, MAGIC, 8);
	put_le32(buf + 8, VERSION);
	put_le32(buf + 12, NATIVE_ARCH);
	put_le32(buf + 16, SECCOMP_NR_THREADS);
	for (int t = 0; t < SECCOMP_NR_THREADS; t++) {
		strncpy((char *)buf + off, seccomp_thread_name((enum seccomp_thread)t), NAME_LEN);
		put_le32(buf + off + NAME_LEN, f->prog[t].len);
		off += NAME_LEN + 4;
		for (uint32_t i = 0; i < f->prog[t].len; i++, off += 8)
			insn_to_le(buf + off, (const uint8_t *)f->prog[t].insns + 8 * i);
	}
	put_le32(buf + off, snapshot_crc32c(0, buf, off));
	*out = buf;
	*out_len = len;
	return 0;
}

int seccomp_file_write(const char *path, const struct seccomp_filters *f, char *err, size_t errlen)
{
	uint8_t *buf;
	size_t len;
	int fd, ret = seccomp_file_encode(f, &buf, &len);

	if (ret < 0) {
		snprintf(err, errlen, "seccomp: cannot write %.256s: %s", path, strerror(-ret));
		return ret;
	}
	fd = file_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644, FILE_REG);
	ret = fd < 0 ? fd : io_write_all(fd, buf, len);
	if (fd >= 0 && close(fd) < 0 && ret == 0)
		ret = -errno;
	free(buf);
	if (ret < 0)
		snprintf(err, errlen, "seccomp: cannot write %.256s: %s", path, file_strerror(ret));
	return ret;
}

/* The program named `name` at buf[*off], checked against len and taken into f. */
static int take_prog(const uint8_t *buf, size_t len, size_t *off, struct seccomp_filters *f,
		     const char **why)
{
	char name[NAME_LEN + 1] = {0};
	uint32_t n;
	int t = 0;

	if (len - *off < NAME_LEN + 4)
		return *why = "truncated", -EINVAL;
	memcpy(name, buf + *off, NAME_LEN);
	while (t < SECCOMP_NR_THREADS && strcmp(name, seccomp_thread_name(t)) != 0)
		t++;
	if (t == SECCOMP_NR_THREADS)
		return *why = "names a thread kiln does not have", -EINVAL;
	if (f->prog[t].insns)
		return *why = "has a thread's filter twice", -EINVAL;
	n = get_le32(buf + *off + NAME_LEN);
	*off += NAME_LEN + 4;
	if (n == 0 || n > MAX_INSNS)
		return *why = "has a program of 0 or more than 4096 instructions", -EINVAL;
	if ((len - *off) / 8 < n)
		return *why = "truncated", -EINVAL;
	f->prog[t].insns = malloc((size_t)n * 8);
	if (!f->prog[t].insns)
		return *why = "out of memory", -ENOMEM;
	for (uint32_t i = 0; i < n; i++, *off += 8)
		insn_from_le((uint8_t *)f->prog[t].insns + 8 * i, buf + *off);
	f->prog[t].len = n;
	return 0;
}

int seccomp_file_parse(const uint8_t *buf, size_t len, struct seccomp_filters *out, char *err,
		       size_t errlen)
{
	const char *why = NULL;
	size_t off = 24;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (len < 28 || memcmp(buf, MAGIC, 8) != 0)
		why = "not a kiln seccomp filter file (make one with kiln seccomp compile)";
	else if (get_le32(buf + len - 4) != snapshot_crc32c(0, buf, len - 4))
		why = "checksum mismatch (the file is damaged)";
	else if (get_le32(buf + 8) != VERSION)
		why = "unknown format version";
	else if (get_le32(buf + 12) != NATIVE_ARCH)
		why = "compiled for another architecture";
	else if (get_le32(buf + 16) != SECCOMP_NR_THREADS)
		why = "does not have exactly the vmm, vcpu and migration filters";
	for (int t = 0; !why && t < SECCOMP_NR_THREADS; t++)
		ret = take_prog(buf, len - 4, &off, out, &why);
	if (!why && off != len - 4)
		why = "has bytes after its filters";
	if (why) {
		seccomp_filters_free(out);
		snprintf(err, errlen, "seccomp filter file %s", why);
		return ret < 0 ? ret : -EINVAL;
	}
	return 0;
}

int seccomp_file_read(const char *path, struct seccomp_filters *out, char *err, size_t errlen)
{
	char *buf, why[200];
	size_t len;
	int ret = file_read_all(path, MAX_FILE, &buf, &len);

	memset(out, 0, sizeof(*out));
	if (ret == -EFBIG)
		return say(err, errlen, "too large for a seccomp filter file", path);
	if (ret < 0) {
		char shown[257];

		snprintf(err, errlen, "--seccomp-filter: cannot open '%s': %s",
			 log_printable(path, shown, sizeof(shown)), file_strerror(ret));
		return ret == -ENOMEM ? ret : -EINVAL;
	}
	ret = seccomp_file_parse((const uint8_t *)buf, len, out, why, sizeof(why));
	free(buf);
	if (ret < 0)
		say(err, errlen, why, path);
	return ret < 0 ? -EINVAL : 0;
}
