/* test_seccomp.c — src/seccomp: kiln's built-in filters compile and do what they say when
 * installed (in a forked child: a vCPU thread may run KVM_RUN but not create a VM, open a file or
 * a socket; the VMM thread may not fork, exec or create a VM unless it may rebuild); the filter
 * file round-trips and every damaged or foreign file is refused; bad descriptions are refused
 * with a reason. */
#include <errno.h>
#include <linux/kvm.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <unistd.h>

#include <cmocka.h>
#include <seccomp.h>

#include "seccomp/prebuilt.h"
#include "seccomp/seccomp.h"
#include "state/snapshot.h"

static struct seccomp_filters builtin(bool rebuild)
{
	struct seccomp_filters f;
	json_t *d = seccomp_builtin_json(rebuild);
	char err[256] = "";

	assert_non_null(d);
	assert_int_equal(seccomp_compile(d, &f, err, sizeof(err)), 0);
	json_decref(d);
	for (int t = 0; t < SECCOMP_NR_THREADS; t++) {
		assert_non_null(f.prog[t].insns);
		assert_true(f.prog[t].len > 10 && f.prog[t].len <= 4096);
	}
	return f;
}

/* What a probe did under the filter: its errno, or SIGSYS if the filter trapped it. */
#define TRAPPED 1000

typedef long (*probe_fn)(void);

/* Run probe in a child under filter t (the default action traps: no handler, so the child dies
 * of SIGSYS). Returns TRAPPED, or the errno the call ended with (0 if it succeeded). */
static int under_filter(const struct seccomp_filters *f, enum seccomp_thread t, probe_fn probe)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct sock_fprog prog = {.len = (unsigned short)f->prog[t].len,
					  .filter = f->prog[t].insns};
		long r;

		signal(SIGSYS, SIG_DFL); /* cmocka's handler would report and go on */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
			_exit(200);
		errno = 0;
		r = probe();
		/* exit_group itself: a sanitizer's _exit runs its own calls (sigaltstack) first */
		syscall(SYS_exit_group, r < 0 ? (errno > 0 && errno < 200 ? errno : 199) : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status)) {
		assert_int_equal(WTERMSIG(status), SIGSYS);
		return TRAPPED;
	}
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 200);
	return WEXITSTATUS(status);
}

/* Probes on fd -1: the filter decides before the kernel finds no such descriptor (EBADF).
 * Raw system calls: a sanitizer's interceptors make calls of their own around libc's. */
static long p_kvm_run(void)
{
	return syscall(SYS_ioctl, -1, KVM_RUN, 0);
}
static long p_irq_line(void)
{
	return syscall(SYS_ioctl, -1, KVM_IRQ_LINE, 0);
}
static long p_create_vm(void)
{
	return syscall(SYS_ioctl, -1, KVM_CREATE_VM, 0);
}
static long p_create_vcpu(void)
{
	return syscall(SYS_ioctl, -1, KVM_CREATE_VCPU, 0);
}
static long p_dirty_log(void)
{
	return syscall(SYS_ioctl, -1, KVM_GET_DIRTY_LOG, 0);
}
/* the request's upper 32 bits are not the kernel's: an int, and the filter reads it so */
static long p_kvm_run_high(void)
{
	return syscall(SYS_ioctl, -1, 0x100000000UL | KVM_RUN, 0);
}
static long p_open(void)
{
	return syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
}
static long p_socket(void)
{
	return syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
}
static long p_write(void)
{
	return syscall(SYS_write, -1, "x", 1);
}
static long p_execve(void)
{
	return syscall(SYS_execve, "/bin/true", NULL, NULL);
}
static long p_fork(void)
{
	return syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
}
static long p_clone3(void)
{
	return syscall(SYS_clone3, NULL, 0);
}
static long p_ptrace(void)
{
	return syscall(SYS_ptrace, 0, 0, 0, 0);
}
static long p_mount(void)
{
	return syscall(SYS_mount, "none", "/x", "tmpfs", 0, NULL);
}

static void test_vcpu_filter(void **state)
{
	struct seccomp_filters f = builtin(false);

	(void)state;
	assert_int_equal(under_filter(&f, SECCOMP_VCPU, p_kvm_run), EBADF);
	assert_int_equal(under_filter(&f, SECCOMP_VCPU, p_irq_line), EBADF);
	assert_int_equal(under_filter(&f, SECCOMP_VCPU, p_write), EBADF);
	assert_int_equal(under_filter(&f, SECCOMP_VCPU, p_kvm_run_high), EBADF);
	assert_int_equal(under_filter(&f, SECCOMP_VCPU, p_create_vm), TRAPPED);
	assert_int_equal(under_filter(&f, SECCOMP_VCPU, p_create_vcpu), TRAPPED);
	assert_int_equal(under_filter(&f, SECCOMP_VCPU, p_dirty_log), TRAPPED);
	assert_int_equal(under_filter(&f, SECCOMP_VCPU, p_open), TRAPPED);
	assert_int_equal(under_filter(&f, SECCOMP_VCPU, p_socket), TRAPPED);
	assert_int_equal(under_filter(&f, SECCOMP_VCPU, p_fork), TRAPPED);
	seccomp_filters_free(&f);
}

static void test_vmm_filter(void **state)
{
	struct seccomp_filters f = builtin(false), r = builtin(true);

	(void)state;
	assert_int_equal(under_filter(&f, SECCOMP_VMM, p_dirty_log), EBADF);
	assert_int_equal(under_filter(&f, SECCOMP_VMM, p_open), 0);
	assert_int_equal(under_filter(&f, SECCOMP_VMM, p_socket), 0);
	assert_int_equal(under_filter(&f, SECCOMP_VMM, p_clone3), ENOSYS);
	assert_int_equal(under_filter(&f, SECCOMP_VMM, p_fork), TRAPPED);
	assert_int_equal(under_filter(&f, SECCOMP_VMM, p_execve), TRAPPED);
	assert_int_equal(under_filter(&f, SECCOMP_VMM, p_ptrace), TRAPPED);
	assert_int_equal(under_filter(&f, SECCOMP_VMM, p_mount), TRAPPED);
	assert_int_equal(under_filter(&f, SECCOMP_VMM, p_create_vm), TRAPPED);
	assert_int_equal(under_filter(&f, SECCOMP_VMM, p_kvm_run), TRAPPED);
	/* a VMM thread that may rebuild the VM also runs what its new vCPU threads run */
	assert_int_equal(under_filter(&r, SECCOMP_VMM, p_create_vm), EBADF);
	assert_int_equal(under_filter(&r, SECCOMP_VMM, p_kvm_run), EBADF);
	assert_int_equal(under_filter(&r, SECCOMP_VMM, p_fork), TRAPPED);
	assert_int_equal(under_filter(&r, SECCOMP_VMM, p_execve), TRAPPED);
	seccomp_filters_free(&f);
	seccomp_filters_free(&r);
}

static void test_migration_filter(void **state)
{
	struct seccomp_filters f = builtin(false);

	(void)state;
	assert_int_equal(under_filter(&f, SECCOMP_MIGRATION, p_dirty_log), EBADF);
	assert_int_equal(under_filter(&f, SECCOMP_MIGRATION, p_socket), 0);
	assert_int_equal(under_filter(&f, SECCOMP_MIGRATION, p_open), TRAPPED);
	assert_int_equal(under_filter(&f, SECCOMP_MIGRATION, p_kvm_run), TRAPPED);
	assert_int_equal(under_filter(&f, SECCOMP_MIGRATION, p_create_vm), TRAPPED);
	seccomp_filters_free(&f);
}

static uint8_t *file_bytes(const struct seccomp_filters *f, size_t *len)
{
	char path[] = "/tmp/kiln-seccomp-XXXXXX", err[256];
	int fd = mkstemp(path);
	uint8_t *buf;
	FILE *fp;

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(seccomp_file_write(path, f, err, sizeof(err)), 0);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	buf = malloc(65536);
	assert_non_null(buf);
	*len = fread(buf, 1, 65536, fp);
	fclose(fp);
	unlink(path);
	return buf;
}

static void test_file_roundtrip(void **state)
{
	struct seccomp_filters f = builtin(false), back;
	char err[256];
	size_t len;
	uint8_t *buf = file_bytes(&f, &len);

	(void)state;
	assert_memory_equal(buf, "KILNSECF", 8);
	assert_int_equal(buf[8], 1); /* version 1, little-endian */
	assert_int_equal(seccomp_file_parse(buf, len, &back, err, sizeof(err)), 0);
	for (int t = 0; t < SECCOMP_NR_THREADS; t++) {
		assert_int_equal(back.prog[t].len, f.prog[t].len);
		assert_memory_equal(back.prog[t].insns, f.prog[t].insns, f.prog[t].len * 8);
	}
	seccomp_filters_free(&back);
	seccomp_filters_free(&f);
	free(buf);
}

/* The filters compiled at build time (gen.c, linked into this test as into kiln) are exactly what
 * compiling kiln's lists now gives, byte for byte, and name the system calls as libseccomp does. */
static void test_prebuilt(void **state)
{
	(void)state;
	if (!&seccomp_prebuilt)
		skip(); /* a build that cannot run seccomp-gen: kiln compiles at start-up */
	for (int rebuild = 0; rebuild < 2; rebuild++) {
		struct seccomp_filters f = builtin(rebuild);
		size_t len;
		uint8_t *buf = file_bytes(&f, &len);

		assert_int_equal(seccomp_prebuilt.len[rebuild], len);
		assert_memory_equal(seccomp_prebuilt.file[rebuild], buf, len);
		free(buf);
		seccomp_filters_free(&f);
	}
	for (int nr = 0; nr < SECCOMP_PREBUILT_NAMES; nr++) {
		char *want = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		const char *got = seccomp_prebuilt.names[nr];

		if (!want || !got)
			assert_true(!want && !got);
		else
			assert_string_equal(got, want);
		free(want);
	}
	assert_string_equal(seccomp_prebuilt.names[SCMP_SYS(ioctl)], "ioctl");
}

static void expect_refused(const uint8_t *buf, size_t len, const char *why)
{
	struct seccomp_filters f;
	char err[256] = "";

	assert_int_equal(seccomp_file_parse(buf, len, &f, err, sizeof(err)), -EINVAL);
	if (!strstr(err, why))
		fail_msg("'%s' does not say '%s'", err, why);
	for (int t = 0; t < SECCOMP_NR_THREADS; t++)
		assert_null(f.prog[t].insns);
}

/* The CRC over buf[0, len-4) into its last 4 bytes: a damaged field, not a damaged file. */
static void reseal(uint8_t *buf, size_t len)
{
	uint32_t c = snapshot_crc32c(0, buf, len - 4);

	for (int i = 0; i < 4; i++)
		buf[len - 4 + i] = (uint8_t)(c >> (8 * i));
}

static void test_file_refused(void **state)
{
	struct seccomp_filters f = builtin(false);
	size_t len;
	uint8_t *buf = file_bytes(&f, &len), *c = malloc(len + 8);

	(void)state;
	assert_non_null(c);
	expect_refused(buf, 10, "not a kiln seccomp filter file");
	memcpy(c, buf, len);
	c[0] = 'X';
	expect_refused(c, len, "not a kiln seccomp filter file");
	memcpy(c, buf, len);
	c[len / 2] ^= 0x40;
	expect_refused(c, len, "checksum mismatch");
	expect_refused(buf, len - 9, "checksum mismatch");
	memcpy(c, buf, len);
	c[8] = 2;
	reseal(c, len);
	expect_refused(c, len, "unknown format version");
	memcpy(c, buf, len);
	c[12] ^= 1;
	reseal(c, len);
	expect_refused(c, len, "another architecture");
	memcpy(c, buf, len);
	c[24] = 'x'; /* "vmm" -> "xmm" */
	reseal(c, len);
	expect_refused(c, len, "names a thread kiln does not have");
	memcpy(c, buf, len);
	c[24 + 16] = 0; /* vmm's program: 0 instructions */
	c[24 + 17] = 0;
	reseal(c, len);
	expect_refused(c, len, "0 or more than 4096");
	memcpy(c, buf, len);
	c[24 + 17] = 0x20; /* vmm's program longer than the file */
	reseal(c, len);
	expect_refused(c, len, "more than 4096");
	memcpy(c, buf, len - 4);
	memset(c + len - 4, 0, 8);
	reseal(c, len + 4);
	expect_refused(c, len + 4, "bytes after its filters");
	seccomp_filters_free(&f);
	free(buf);
	free(c);
}

static void expect_bad_desc(const char *json, const char *why)
{
	struct seccomp_filters f;
	json_error_t je;
	json_t *d = json_loads(json, 0, &je);
	char err[256] = "";

	assert_non_null(d);
	assert_int_equal(seccomp_compile(d, &f, err, sizeof(err)), -EINVAL);
	json_decref(d);
	if (!strstr(err, why) || strchr(err, '\n'))
		fail_msg("'%s' does not say '%s' on one line", err, why);
}

#define T(body) "{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": " body "}"

static void test_bad_descriptions(void **state)
{
	(void)state;
	expect_bad_desc("[]", "not a JSON object");
	expect_bad_desc("{\"api\": " T("[]") "}", "unknown thread 'api'");
	expect_bad_desc("{\"vmm\": " T("[]") ", \"vcpu\": " T("[]") "}",
			"no filter for the 'migration' thread");
	expect_bad_desc("{\"vmm\": " T("[{\"syscall\": \"frobnicate\"}]") "}",
			"unknown system call 'frobnicate'");
	expect_bad_desc("{\"vmm\": " T("[{\"sys\": \"read\"}]") "}", "without a \"syscall\"");
	/* found by fuzz_seccomp: a name with a newline made the one-line error two lines */
	expect_bad_desc("{\"vmm\": " T("[{\"syscall\": \"cl\\ne3\"}]") "}",
			"unknown system call 'cl?e3'");
	expect_bad_desc("{\"vmm\": {\"default_action\": \"maybe\", \"filter_action\": "
			"\"allow\", \"filter\": []}}",
			"needs \"default_action\"");
	expect_bad_desc("{\"vmm\": " T("[{\"syscall\": \"ioctl\", \"args\": [{\"index\": 7, "
				       "\"type\": \"dword\", \"op\": \"eq\", \"val\": 1}]}]") "}",
			"bad argument comparison");
	expect_bad_desc("{\"vmm\": " T("[{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, "
				       "\"type\": \"word\", \"op\": \"eq\", \"val\": 1}]}]") "}",
			"bad argument comparison");
	expect_bad_desc("{\"vmm\": " T("[{\"syscall\": \"read\", \"action\": {\"errno\": "
				       "99999}}]") "}",
			"bad action");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vcpu_filter),	     cmocka_unit_test(test_vmm_filter),
	    cmocka_unit_test(test_migration_filter), cmocka_unit_test(test_file_roundtrip),
	    cmocka_unit_test(test_file_refused),     cmocka_unit_test(test_prebuilt),
	    cmocka_unit_test(test_bad_descriptions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
