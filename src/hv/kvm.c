/* kvm.c — KVM ioctl wrappers; each logs the failing ioctl with its cause and returns -errno. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv/kvm.h"
#include "util/log.h"

static int xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret < 0 && errno == EINTR && req != KVM_RUN);
	if (ret < 0) {
		int err = errno;

		log_err("%s: %s", what, strerror(err));
		return -err;
	}
	return ret;
}

/* As xioctl, but 0 on success: for ioctls whose positive results carry nothing. */
static int xioctl0(int fd, unsigned long req, void *arg, const char *what)
{
	int ret = xioctl(fd, req, arg, what);

	return ret < 0 ? ret : 0;
}

#define IOCTL(fd, req, arg) xioctl0(fd, req, (void *)(arg), #req)

int kvm_cap(int fd, long cap)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

static struct kvm_cpuid2 *get_supported_cpuid(int fd)
{
	for (unsigned n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			return NULL;
		c->nent = n;
		if (ioctl(fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG)
			break;
	}
	log_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	return NULL;
}

static struct kvm_msr_list *get_msr_list(int fd)
{
	struct kvm_msr_list probe = {.nmsrs = 0}, *l;

	if (ioctl(fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return NULL;
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	if (!l)
		return NULL;
	l->nmsrs = probe.nmsrs;
	if (ioctl(fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		log_err("KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
		free(l);
		return NULL;
	}
	return l;
}

static int check_caps(int fd)
{
	static const struct {
		long cap;
		const char *name;
	} need[] = {
	    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
	    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
	    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
	    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
	    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
	};

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (!kvm_cap(fd, need[i].cap)) {
			log_err("KVM lacks %s, which kiln needs", need[i].name);
			return -ENOTSUP;
		}
	}
	return 0;
}

int kvm_sys_open(struct kvm_sys *k)
{
	const char *path = getenv("KILN_KVM_DEV");
	int ret;

	memset(k, 0, sizeof(*k));
	if (!path)
		path = "/dev/kvm";
	k->fd = open(path, O_RDWR | O_CLOEXEC);
	if (k->fd < 0) {
		ret = -errno;
		log_err("open %s: %s", path, strerror(errno));
		return ret;
	}
	ret = ioctl(k->fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION) {
		log_err("%s: KVM API version %d, kiln needs %d", path, ret, KVM_API_VERSION);
		ret = -ENOTSUP;
		goto out_close;
	}
	ret = check_caps(k->fd);
	if (ret < 0)
		goto out_close;
	ret = ioctl(k->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ret <= 0) {
		ret = -EINVAL;
		goto out_close;
	}
	k->run_size = (size_t)ret;
	k->max_vcpus = kvm_cap(k->fd, KVM_CAP_MAX_VCPUS);
	if (k->max_vcpus <= 0)
		k->max_vcpus = kvm_cap(k->fd, KVM_CAP_NR_VCPUS);
	k->cpuid = get_supported_cpuid(k->fd);
	k->msrs = get_msr_list(k->fd);
	if (!k->cpuid || !k->msrs) {
		ret = -EIO;
		goto out_free;
	}
	return 0;
out_free:
	free(k->cpuid);
	free(k->msrs);
out_close:
	close(k->fd);
	k->fd = -1;
	return ret;
}

void kvm_sys_close(struct kvm_sys *k)
{
	free(k->cpuid);
	free(k->msrs);
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	k->cpuid = NULL;
	k->msrs = NULL;
}

int kvm_msr_supported(const struct kvm_sys *k, uint32_t msr)
{
	for (uint32_t i = 0; k->msrs && i < k->msrs->nmsrs; i++)
		if (k->msrs->indices[i] == msr)
			return 1;
	return 0;
}

int kvm_vm_create(const struct kvm_sys *k, int *vm_fd)
{
	int fd = xioctl(k->fd, KVM_CREATE_VM, 0, "KVM_CREATE_VM");

	if (fd < 0)
		return fd;
	*vm_fd = fd;
	return 0;
}

int kvm_set_memory_region(int vm_fd, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size,
			  void *host)
{
	struct kvm_userspace_memory_region r = {
	    .slot = slot,
	    .flags = flags,
	    .guest_phys_addr = gpa,
	    .memory_size = size,
	    .userspace_addr = (uint64_t)(uintptr_t)host,
	};

	return IOCTL(vm_fd, KVM_SET_USER_MEMORY_REGION, &r);
}

int kvm_set_tss_addr(int vm_fd, uint64_t gpa)
{
	return xioctl0(vm_fd, KVM_SET_TSS_ADDR, (void *)(uintptr_t)gpa, "KVM_SET_TSS_ADDR");
}

int kvm_set_identity_map_addr(int vm_fd, uint64_t gpa)
{
	return IOCTL(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &gpa);
}

int kvm_create_irqchip(int vm_fd)
{
	return IOCTL(vm_fd, KVM_CREATE_IRQCHIP, NULL);
}

int kvm_create_pit2(int vm_fd)
{
	struct kvm_pit_config cfg = {.flags = KVM_PIT_SPEAKER_DUMMY};

	return IOCTL(vm_fd, KVM_CREATE_PIT2, &cfg);
}

int kvm_irq_line(int vm_fd, uint32_t gsi, int level)
{
	struct kvm_irq_level l = {.irq = gsi, .level = (uint32_t)level};

	return IOCTL(vm_fd, KVM_IRQ_LINE, &l);
}

int kvm_ioeventfd(int vm_fd, uint64_t addr, uint32_t len, uint64_t datamatch, int fd, bool deassign)
{
	struct kvm_ioeventfd e = {
	    .datamatch = datamatch,
	    .addr = addr,
	    .len = len,
	    .fd = fd,
	    .flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (deassign ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0),
	};

	return IOCTL(vm_fd, KVM_IOEVENTFD, &e);
}

int kvm_irqfd(int vm_fd, int fd, uint32_t gsi, bool deassign)
{
	struct kvm_irqfd i = {
	    .fd = (uint32_t)fd, .gsi = gsi, .flags = deassign ? KVM_IRQFD_FLAG_DEASSIGN : 0};

	return IOCTL(vm_fd, KVM_IRQFD, &i);
}

int kvm_vcpu_create(const struct kvm_sys *k, int vm_fd, unsigned id, int *fd, struct kvm_run **run)
{
	int vfd = xioctl(vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)id, "KVM_CREATE_VCPU");
	void *p;

	if (vfd < 0)
		return vfd;
	p = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
	if (p == MAP_FAILED) {
		int err = errno;

		log_err("mmap kvm_run of vCPU %u: %s", id, strerror(err));
		close(vfd);
		return -err;
	}
	*fd = vfd;
	*run = p;
	return 0;
}

void kvm_vcpu_destroy(const struct kvm_sys *k, int fd, struct kvm_run *run)
{
	if (run)
		munmap(run, k->run_size);
	if (fd >= 0)
		close(fd);
}

int kvm_vcpu_run(int vcpu_fd)
{
	return ioctl(vcpu_fd, KVM_RUN, 0) < 0 ? -errno : 0;
}

#define WRAP(fn, req, type)                                                                        \
	int fn(int vcpu_fd, type arg)                                                              \
	{                                                                                          \
		return xioctl0(vcpu_fd, req, (void *)arg, #req);                                   \
	}

WRAP(kvm_get_regs, KVM_GET_REGS, struct kvm_regs *)
WRAP(kvm_set_regs, KVM_SET_REGS, const struct kvm_regs *)
WRAP(kvm_get_sregs, KVM_GET_SREGS, struct kvm_sregs *)
WRAP(kvm_set_sregs, KVM_SET_SREGS, const struct kvm_sregs *)
WRAP(kvm_get_fpu, KVM_GET_FPU, struct kvm_fpu *)
WRAP(kvm_set_fpu, KVM_SET_FPU, const struct kvm_fpu *)
WRAP(kvm_set_cpuid, KVM_SET_CPUID2, const struct kvm_cpuid2 *)
WRAP(kvm_get_cpuid, KVM_GET_CPUID2, struct kvm_cpuid2 *)
WRAP(kvm_get_lapic, KVM_GET_LAPIC, struct kvm_lapic_state *)
WRAP(kvm_set_lapic, KVM_SET_LAPIC, const struct kvm_lapic_state *)

int kvm_set_msrs(int vcpu_fd, const struct kvm_msrs *m)
{
	int n = xioctl(vcpu_fd, KVM_SET_MSRS, (void *)m, "KVM_SET_MSRS");

	if (n < 0)
		return n;
	if ((uint32_t)n != m->nmsrs) {
		log_err("KVM_SET_MSRS: MSR %#x refused", m->entries[n].index);
		return -EINVAL;
	}
	return 0;
}

int kvm_get_msrs(int vcpu_fd, struct kvm_msrs *m)
{
	int n = xioctl(vcpu_fd, KVM_GET_MSRS, m, "KVM_GET_MSRS");

	if (n < 0)
		return n;
	if ((uint32_t)n != m->nmsrs) {
		log_err("KVM_GET_MSRS: MSR %#x refused", m->entries[n].index);
		return -EINVAL;
	}
	return 0;
}

int kvm_set_mp_state(int vcpu_fd, uint32_t state)
{
	struct kvm_mp_state mp = {.mp_state = state};

	return IOCTL(vcpu_fd, KVM_SET_MP_STATE, &mp);
}

/* --- state capture --- */

struct kvm_msr_list *kvm_feature_msr_list(const struct kvm_sys *k)
{
	struct kvm_msr_list probe = {.nmsrs = 0}, *l;

	if (ioctl(k->fd, KVM_GET_MSR_FEATURE_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return NULL;
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	if (!l)
		return NULL;
	l->nmsrs = probe.nmsrs;
	if (ioctl(k->fd, KVM_GET_MSR_FEATURE_INDEX_LIST, l) < 0) {
		free(l);
		return NULL;
	}
	return l;
}

int kvm_get_mp_state(int vcpu_fd, uint32_t *state)
{
	struct kvm_mp_state mp;
	int ret = IOCTL(vcpu_fd, KVM_GET_MP_STATE, &mp);

	if (ret == 0)
		*state = mp.mp_state;
	return ret;
}

int kvm_get_xsave(int vcpu_fd, void *buf, bool xsave2)
{
	if (xsave2)
		return IOCTL(vcpu_fd, KVM_GET_XSAVE2, buf);
	return IOCTL(vcpu_fd, KVM_GET_XSAVE, buf);
}

int kvm_set_xsave(int vcpu_fd, const void *buf)
{
	return IOCTL(vcpu_fd, KVM_SET_XSAVE, buf);
}

WRAP(kvm_get_xcrs, KVM_GET_XCRS, struct kvm_xcrs *)
WRAP(kvm_set_xcrs, KVM_SET_XCRS, const struct kvm_xcrs *)
WRAP(kvm_get_vcpu_events, KVM_GET_VCPU_EVENTS, struct kvm_vcpu_events *)
WRAP(kvm_set_vcpu_events, KVM_SET_VCPU_EVENTS, const struct kvm_vcpu_events *)
WRAP(kvm_get_debugregs, KVM_GET_DEBUGREGS, struct kvm_debugregs *)
WRAP(kvm_set_debugregs, KVM_SET_DEBUGREGS, const struct kvm_debugregs *)
WRAP(kvm_get_irqchip, KVM_GET_IRQCHIP, struct kvm_irqchip *)
WRAP(kvm_set_irqchip, KVM_SET_IRQCHIP, const struct kvm_irqchip *)
WRAP(kvm_get_pit2, KVM_GET_PIT2, struct kvm_pit_state2 *)
WRAP(kvm_set_pit2, KVM_SET_PIT2, const struct kvm_pit_state2 *)
WRAP(kvm_get_clock, KVM_GET_CLOCK, struct kvm_clock_data *)
WRAP(kvm_set_clock, KVM_SET_CLOCK, const struct kvm_clock_data *)

int kvm_get_msrs_partial(int vcpu_fd, struct kvm_msrs *m)
{
	int n = ioctl(vcpu_fd, KVM_GET_MSRS, m);

	return n < 0 ? -errno : n;
}

int kvm_set_msrs_partial(int vcpu_fd, const struct kvm_msrs *m)
{
	int n = ioctl(vcpu_fd, KVM_SET_MSRS, m);

	return n < 0 ? -errno : n;
}
