/* rules.c — kiln's built-in seccomp allow-lists, per kind of thread, as a filter description
 * (the JSON of `kiln seccomp print`; compiled by compile.c).
 *
 * The lists come from what each thread does (strace of the test suites, then every suite run with
 * the filters on): a vCPU thread runs KVM_RUN and the device emulation of its MMIO and port exits
 * (writes to serial sinks, eventfds, timers, tap offloads, KVM interrupt ioctls); it opens
 * nothing, creates no socket, thread or process. The VMM thread runs the event loop, the API,
 * the devices' queues and snapshots: files and sockets, but no exec, no fork (clone only with
 * CLONE_THREAD; clone3 answers ENOSYS so glibc falls back to clone), no mount, ptrace, bpf,
 * module or key calls, and only the ioctls below. The migration thread streams memory and state
 * to one TCP peer. */
#include <errno.h>
#include <linux/kvm.h>
#include <linux/vfio.h>
#include <linux/if_tun.h>
#include <linux/fs.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "seccomp/rules.h"
#include "seccomp/seccomp.h"

/* Requests of every architecture. */
static const struct seccomp_ioctl common_ioctls[] = {
    SC_IOCTL(KVM_RUN, SC_VCPU | SC_REBUILD),
    /* device emulation: interrupts, doorbells, notifications (vCPU and VMM threads) */
    SC_IOCTL(KVM_IRQ_LINE, SC_VCPU | SC_VMM | SC_REBUILD),
    SC_IOCTL(KVM_IRQFD, SC_VCPU | SC_VMM | SC_REBUILD),
    SC_IOCTL(KVM_IOEVENTFD, SC_VCPU | SC_VMM | SC_REBUILD),
    SC_IOCTL(KVM_SET_GSI_ROUTING, SC_VCPU | SC_VMM | SC_REBUILD),
    SC_IOCTL(TUNSETOFFLOAD, SC_VCPU | SC_VMM | SC_REBUILD), /* the driver's offloads */
    SC_IOCTL(TUNSETVNETHDRSZ, SC_VCPU | SC_VMM | SC_REBUILD),
    SC_IOCTL(FIONREAD, SC_VCPU | SC_VMM | SC_REBUILD),
    /* dirty-page logging (snapshots, migration) and the memory slots' flags */
    SC_IOCTL(KVM_GET_DIRTY_LOG, SC_VMM | SC_MIG | SC_REBUILD),
    SC_IOCTL(KVM_SET_USER_MEMORY_REGION, SC_VCPU | SC_VMM | SC_MIG | SC_REBUILD), /* and BARs */
    SC_IOCTL(KVM_CHECK_EXTENSION, SC_VMM | SC_MIG | SC_REBUILD),
    SC_IOCTL(KVM_GET_MP_STATE, SC_VMM | SC_MIG | SC_REBUILD),
    /* the VMM thread: the terminal, disks and taps the API names */
    SC_IOCTL(TCGETS, SC_VMM | SC_REBUILD),
    SC_IOCTL(TCSETS, SC_VMM | SC_REBUILD),
    SC_IOCTL(TCSETSW, SC_VMM | SC_REBUILD),
    SC_IOCTL(TCSETSF, SC_VMM | SC_REBUILD),
    SC_IOCTL(TIOCGWINSZ, SC_VMM | SC_REBUILD),
    SC_IOCTL(FIONBIO, SC_VMM | SC_REBUILD),
    SC_IOCTL(BLKGETSIZE64, SC_VMM | SC_REBUILD),
    /* passthrough devices: interrupts and BARs follow the guest's configuration writes (vCPU
     * threads); the device is wired up when a VM is built (a restart) */
    SC_IOCTL(VFIO_DEVICE_SET_IRQS, SC_VCPU | SC_VMM | SC_REBUILD),
    SC_IOCTL(VFIO_GET_API_VERSION, SC_REBUILD),
    SC_IOCTL(VFIO_CHECK_EXTENSION, SC_REBUILD),
    SC_IOCTL(VFIO_SET_IOMMU, SC_REBUILD),
    SC_IOCTL(VFIO_GROUP_GET_STATUS, SC_REBUILD),
    SC_IOCTL(VFIO_GROUP_SET_CONTAINER, SC_REBUILD),
    SC_IOCTL(VFIO_GROUP_GET_DEVICE_FD, SC_REBUILD),
    SC_IOCTL(VFIO_DEVICE_GET_INFO, SC_REBUILD),
    SC_IOCTL(VFIO_DEVICE_GET_REGION_INFO, SC_REBUILD),
    SC_IOCTL(VFIO_DEVICE_GET_IRQ_INFO, SC_REBUILD),
    SC_IOCTL(VFIO_DEVICE_RESET, SC_REBUILD),
    SC_IOCTL(VFIO_IOMMU_MAP_DMA, SC_REBUILD),
    SC_IOCTL(VFIO_IOMMU_UNMAP_DMA, SC_REBUILD),
    /* building a VM (a restart) */
    SC_IOCTL(KVM_GET_API_VERSION, SC_REBUILD),
    SC_IOCTL(KVM_CREATE_VM, SC_REBUILD),
    SC_IOCTL(KVM_GET_VCPU_MMAP_SIZE, SC_REBUILD),
    SC_IOCTL(KVM_CREATE_VCPU, SC_REBUILD),
    SC_IOCTL(KVM_SET_MP_STATE, SC_REBUILD),
    SC_IOCTL(TUNSETIFF, SC_REBUILD),
    SC_IOCTL(SIOCGIFINDEX, SC_REBUILD),
};

/* System calls every thread makes: I/O on descriptors it holds, memory (malloc), time, locks,
 * signals to its own threads, and its end. */
static const char *const common_calls[] = {
    "read",
    "readv",
    "write",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "preadv2",
    "pwritev2",
    "lseek",
    "close",
    "fsync",
    "fdatasync",
    "fallocate",
    "sendto",
    "sendmsg",
    "recvfrom",
    "recvmsg",
    "poll", /* the UART waits for a full non-blocking sink on a vCPU thread */
    "ppoll",
    "epoll_ctl",
    "eventfd2",
    "timerfd_settime",
    "timerfd_gettime",
    "io_uring_enter",
    "fstat",
    "newfstatat",
    "mmap",
    "munmap",
    "mprotect",
    "madvise",
    "mremap",
    "brk",
    "futex",
    "clock_gettime",
    "clock_nanosleep",
    "nanosleep",
    "gettimeofday",
    "getpid",
    "gettid",
    "tgkill",
    "rt_sigprocmask",
    "rt_sigreturn",
    "restart_syscall",
    "sched_yield",
    "getrandom",
    "exit",
    "exit_group",
    "rseq",
    "set_robust_list",
};

/* The VMM thread's own: paths, sockets, the event loop, processes it waits for. */
static const char *const vmm_calls[] = {
    "open",
    "openat",
    "stat",
    "lstat",
    "statx",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "getcwd",
    "unlink",
    "unlinkat",
    "rmdir",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "mkdir",
    "mkdirat",
    "chmod",
    "fchmod",
    "fchmodat",
    "ftruncate",
    "fcntl",
    "dup",
    "dup2",
    "dup3",
    "pipe2",
    "statfs",
    "fstatfs",
    "getdents64",
    "fadvise64",
    "socket",
    "socketpair",
    "connect",
    "accept4",
    "bind",
    "listen",
    "shutdown",
    "getsockname",
    "getpeername",
    "getsockopt",
    "setsockopt",
    "epoll_create1",
    "epoll_wait",
    "epoll_pwait",
    "select",
    "pselect6",
    "timerfd_create",
    "signalfd4",
    "memfd_create",
    "io_uring_setup",
    "io_uring_register",
    "wait4",
    "waitid",
    "kill",
    "rt_sigaction",
    "sigaltstack",
    "sched_getaffinity",
    "prlimit64",
    "getrlimit",
    "uname",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "arch_prctl",
    "set_tid_address",
};

/* The migration thread's own: its one connection. */
static const char *const mig_calls[] = {
    "socket", "connect", "setsockopt", "getsockopt", "shutdown", "fcntl",
};

static int add_call(json_t *filter, const char *name)
{
	return json_array_append_new(filter, json_pack("{s:s}", "syscall", name));
}

static int add_calls(json_t *filter, const char *const *names, size_t n)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = add_call(filter, names[i]);
	return ret;
}

/* A rule: `call` with argument `index` (32 bits) equal to val; comment names the value. */
static int add_eq(json_t *filter, const char *call, int index, uint32_t val, const char *comment)
{
	return json_array_append_new(filter,
				     json_pack("{s:s, s:[{s:i, s:s, s:s, s:I, s:s}]}", "syscall",
					       call, "args", "index", index, "type", "dword", "op",
					       "eq", "val", (json_int_t)val, "comment", comment));
}

/* One rule per request: ioctl with argument 1 (a 32-bit request number) equal to it. */
static int add_ioctls(json_t *filter, const struct seccomp_ioctl *t, size_t n, unsigned kinds)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < n; i++)
		if (t[i].kinds & kinds)
			ret = add_eq(filter, "ioctl", 1, (uint32_t)t[i].req, t[i].name);
	return ret;
}

/* clone only for threads (CLONE_THREAD set), clone3 answered ENOSYS (glibc then uses clone). */
static int add_thread_clone(json_t *filter)
{
	int ret = json_array_append_new(
	    filter,
	    json_pack("{s:s, s:[{s:i, s:s, s:{s:I}, s:I, s:s}]}", "syscall", "clone", "args",
		      "index", 0, "type", "qword", "op", "masked_eq", (json_int_t)CLONE_THREAD,
		      "val", (json_int_t)CLONE_THREAD, "comment", "threads only, never a process"));

	if (ret == 0)
		ret = json_array_append_new(
		    filter, json_pack("{s:s, s:{s:i}, s:s}", "syscall", "clone3", "action", "errno",
				      ENOSYS, "comment", "glibc falls back to clone"));
	return ret;
}

/* prctl(PR_SET_NO_NEW_PRIVS) and seccomp(SECCOMP_SET_MODE_FILTER): what a thread the VMM thread
 * starts (the migration thread, vCPU threads on a restart) needs to take its own filter; both
 * only ever take privilege away. */
static int add_self_restrict(json_t *filter)
{
	int ret = add_eq(filter, "prctl", 0, PR_SET_NO_NEW_PRIVS, "PR_SET_NO_NEW_PRIVS");

	return ret == 0 ? add_eq(filter, "seccomp", 0, SECCOMP_SET_MODE_FILTER,
				 "SECCOMP_SET_MODE_FILTER")
			: ret;
}

/* The filter of kind t (kinds: the ioctl classes it takes). */
static json_t *thread_filter(enum seccomp_thread t, bool rebuild)
{
	json_t *filter = json_array();
	const struct seccomp_ioctl *arch;
	size_t n_arch;
	unsigned kinds;
	int ret;

	if (!filter)
		return NULL;
	arch = arch_seccomp_ioctls(&n_arch);
	kinds = t == SECCOMP_VCPU	 ? SC_VCPU
		: t == SECCOMP_MIGRATION ? SC_MIG
		: rebuild		 ? SC_VMM | SC_REBUILD | SC_VCPU
					 : SC_VMM;
	ret = add_calls(filter, common_calls, sizeof(common_calls) / sizeof(common_calls[0]));
	if (ret == 0 && t == SECCOMP_VMM)
		ret = add_calls(filter, vmm_calls, sizeof(vmm_calls) / sizeof(vmm_calls[0]));
	if (ret == 0 && t == SECCOMP_VMM)
		ret = add_thread_clone(filter);
	if (ret == 0 && t == SECCOMP_VMM)
		ret = add_self_restrict(filter);
	if (ret == 0 && t == SECCOMP_MIGRATION)
		ret = add_calls(filter, mig_calls, sizeof(mig_calls) / sizeof(mig_calls[0]));
	if (ret == 0)
		ret = add_ioctls(filter, common_ioctls,
				 sizeof(common_ioctls) / sizeof(common_ioctls[0]), kinds);
	if (ret == 0)
		ret = add_ioctls(filter, arch, n_arch, kinds);
	if (ret < 0) {
		json_decref(filter);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:o}", "default_action", "trap", "filter_action", "allow",
			 "filter", filter);
}

json_t *seccomp_builtin_json(bool rebuild)
{
	json_t *all = json_object();

	for (int t = 0; all && t < SECCOMP_NR_THREADS; t++) {
		json_t *f = thread_filter((enum seccomp_thread)t, rebuild);

		if (!f ||
		    json_object_set_new(all, seccomp_thread_name((enum seccomp_thread)t), f)) {
			json_decref(all);
			return NULL;
		}
	}
	return all;
}
