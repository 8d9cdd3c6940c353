/* kvm.c — KVM ioctl wrappers; each logs the failing ioctl with its cause and returns -errno. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv/kvm.h"
#include "hv/kvm_priv.h"
#include "util/log.h"

int kvm_xioctl(int fd, unsigned long req, void *arg, const char *what)
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

int kvm_xioctl0(int fd, unsigned long req, void *arg, const char *what)
{
	int ret = kvm_xioctl(fd, req, arg, what);

	return ret < 0 ? ret : 0;
}

int kvm_cap(int fd, long cap)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

static int check_caps(int fd)
{
	static const struct kvm_need common[] = {
	    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
	    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
	    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
	    {0, NULL},
	};
	const struct kvm_need *tables[] = {common, kvm_arch_needs};

	for (size_t t = 0; t < 2; t++) {
		for (const struct kvm_need *n = tables[t]; n->cap; n++) {
			if (!kvm_cap(fd, n->cap)) {
				log_err("KVM lacks %s, which kiln needs", n->name);
				return -ENOTSUP;
			}
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
	ret = kvm_arch_open(k);
	if (ret == 0)
		return 0;
	kvm_arch_close(k);
out_close:
	close(k->fd);
	k->fd = -1;
	return ret;
}

void kvm_sys_close(struct kvm_sys *k)
{
	kvm_arch_close(k);
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

int kvm_vm_create(const struct kvm_sys *k, int *vm_fd)
{
	int fd = kvm_xioctl(k->fd, KVM_CREATE_VM, 0, "KVM_CREATE_VM");

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

int kvm_get_dirty_log(int vm_fd, uint32_t slot, uint64_t *bitmap)
{
	struct kvm_dirty_log d = {.slot = slot, .dirty_bitmap = bitmap};

	return IOCTL(vm_fd, KVM_GET_DIRTY_LOG, &d);
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

int kvm_set_gsi_routing(int vm_fd, const struct kvm_irq_routing *r)
{
	return IOCTL(vm_fd, KVM_SET_GSI_ROUTING, (void *)r);
}

int kvm_irqfd(int vm_fd, int fd, uint32_t gsi, bool deassign)
{
	struct kvm_irqfd i = {
	    .fd = (uint32_t)fd, .gsi = gsi, .flags = deassign ? KVM_IRQFD_FLAG_DEASSIGN : 0};

	return IOCTL(vm_fd, KVM_IRQFD, &i);
}

int kvm_irqfd_wire(int vm_fd, int fd, uint32_t gsi, bool *wired, bool on)
{
	int ret = *wired == on ? 0 : kvm_irqfd(vm_fd, fd, gsi, !on);

	if (ret == 0)
		*wired = on;
	return ret;
}

int kvm_irqfd_resample(int vm_fd, int fd, int resample_fd, uint32_t gsi, bool deassign)
{
	struct kvm_irqfd i = {.fd = (uint32_t)fd,
			      .gsi = gsi,
			      .flags = deassign ? KVM_IRQFD_FLAG_DEASSIGN : KVM_IRQFD_FLAG_RESAMPLE,
			      .resamplefd = (uint32_t)resample_fd};

	return IOCTL(vm_fd, KVM_IRQFD, &i);
}

int kvm_vcpu_create(const struct kvm_sys *k, int vm_fd, unsigned id, int *fd, struct kvm_run **run)
{
	int vfd = kvm_xioctl(vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)id, "KVM_CREATE_VCPU");
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

int kvm_set_mp_state(int vcpu_fd, uint32_t state)
{
	struct kvm_mp_state mp = {.mp_state = state};

	return IOCTL(vcpu_fd, KVM_SET_MP_STATE, &mp);
}

int kvm_get_mp_state(int vcpu_fd, uint32_t *state)
{
	struct kvm_mp_state mp;
	int ret = IOCTL(vcpu_fd, KVM_GET_MP_STATE, &mp);

	if (ret == 0)
		*state = mp.mp_state;
	return ret;
}
