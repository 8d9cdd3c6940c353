/* floor.c — the smallest KVM program that runs a bench guest: one VM, one memory slot, one vCPU
 * and a KVM_RUN loop that handles only what bench/guest/bench.S does. It is the physical floor
 * kiln is measured against; it trusts its input and checks nothing it does not need to.
 * Usage: floor GUEST.elf [MEMORY_MiB] */
#include <elf.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* Copy PT_LOAD segments into guest memory; return the PVH 32-bit entry point. */
static uint32_t load(const char *path, uint8_t *mem, uint64_t mem_len)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	uint8_t *f;
	const Elf64_Ehdr *eh;
	uint32_t entry = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		die(path);
	f = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f == MAP_FAILED)
		die("mmap");
	eh = (const Elf64_Ehdr *)f;
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(f + eh->e_phoff) + i;

		if (ph->p_type == PT_LOAD && ph->p_paddr + ph->p_memsz <= mem_len)
			memcpy(mem + ph->p_paddr, f + ph->p_offset, ph->p_filesz);
		if (ph->p_type == PT_NOTE) /* one note: 12-byte header, "Xen\0", 32-bit entry */
			memcpy(&entry, f + ph->p_offset + 16, 4);
	}
	close(fd);
	return entry;
}

static void set_prot32(int vcpu, uint32_t entry)
{
	struct kvm_sregs s;
	struct kvm_regs r = {.rip = entry, .rflags = 2};
	struct kvm_segment code = {.limit = 0xffffffff,
				   .selector = 0x10,
				   .type = 11,
				   .present = 1,
				   .db = 1,
				   .s = 1,
				   .g = 1};
	struct kvm_segment data = code;

	if (ioctl(vcpu, KVM_GET_SREGS, &s) < 0)
		die("KVM_GET_SREGS");
	data.selector = 0x18;
	data.type = 3;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.cr0 |= 1; /* protected mode, paging off */
	if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0 || ioctl(vcpu, KVM_SET_REGS, &r) < 0)
		die("KVM_SET_*REGS");
}

int main(int argc, char **argv)
{
	uint64_t mem_len = (argc > 2 ? strtoull(argv[2], NULL, 0) : 256) << 20;
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int vm, vcpu;
	uint8_t *mem;
	struct kvm_run *run;

	if (argc < 2 || kvm < 0)
		die(argc < 2 ? "usage: floor GUEST.elf [MiB]" : "/dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	mem = mmap(NULL, mem_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm < 0 || mem == MAP_FAILED)
		die("KVM_CREATE_VM/mmap");
	struct kvm_userspace_memory_region region = {.memory_size = mem_len,
						     .userspace_addr = (uint64_t)(uintptr_t)mem};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	run = mmap(NULL, (size_t)ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE,
		   MAP_SHARED, vcpu, 0);
	if (vcpu < 0 || run == MAP_FAILED)
		die("KVM_CREATE_VCPU");
	set_prot32(vcpu, load(argv[1], mem, mem_len));
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0)
			die("KVM_RUN");
		if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT) {
			uint8_t v = *((uint8_t *)run + run->io.data_offset);

			if (run->io.port == 0x3f8 && write(1, &v, 1) != 1)
				die("write");
			if (run->io.port == 0xf4)
				return ((v & 0x7f) << 1) | 1;
		} else if (run->exit_reason == KVM_EXIT_HLT) {
			return 0;
		} else if (run->exit_reason != KVM_EXIT_MMIO && run->exit_reason != KVM_EXIT_IO) {
			fprintf(stderr, "floor: exit reason %u\n", run->exit_reason);
			return 3;
		}
	}
}
