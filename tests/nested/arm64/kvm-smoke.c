/* kvm-smoke — the arm64 nested rig's self-test: does L1's KVM run a guest?
 *
 * Creates a VM with one vCPU (KVM_ARM_PREFERRED_TARGET, KVM_ARM_VCPU_INIT), gives it 64 KiB of
 * memory holding six instructions, and runs it. With the MMU off every access outside a memslot
 * is an MMIO exit, so the guest's store, load and store to 0x10000000 come back as three
 * KVM_EXIT_MMIO: the first writes 0xdeadbeef, the second reads (this program answers 0x5a5a5a5a)
 * and the third writes back what the load got, which proves the answer reached the guest's
 * register. Prints each exit and "kvm-smoke: PASS", exit status 0; otherwise "kvm-smoke: FAIL
 * ..." and 1.
 *
 * Built static for arm64 and run in the arm64 rig by tests/nested/arm64/smoke:
 *   aarch64-linux-gnu-gcc -static -O2 -Wall -o DIR/kvm-smoke tests/nested/arm64/kvm-smoke.c
 *   scripts/nested --arch arm64 --workdir DIR -- DIR/kvm-smoke
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define RAM_GPA	 0x80000000ull /* where the guest's memory is (the virt board's RAM base) */
#define RAM_SIZE 0x10000ull
#define MMIO_GPA 0x10000000ull /* no memslot there: an MMIO exit */
#define ANSWER	 0x5a5a5a5au   /* what the guest's load gets */

/* The guest, at RAM_GPA (aarch64-linux-gnu-as; x1 = MMIO_GPA). */
static const uint32_t guest[] = {
    0xd297dde0, /* mov  x0, #0xbeef           */
    0xf2bbd5a0, /* movk x0, #0xdead, lsl #16  */
    0xd2a20001, /* mov  x1, #0x10000000       */
    0xf9000020, /* str  x0, [x1]       exit 1: 8-byte write of 0xdeadbeef */
    0xb9400822, /* ldr  w2, [x1, #8]   exit 2: 4-byte read, answered ANSWER */
    0xb9001022, /* str  w2, [x1, #16]  exit 3: 4-byte write of what the load got */
    0x14000000, /* b    .                     */
};

/* A core register's id for KVM_{GET,SET}_ONE_REG. */
#define CORE_REG(field)                                                                            \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |                                     \
	 (offsetof(struct kvm_regs, field) / sizeof(uint32_t)))

static void fail(const char *what)
{
	printf("kvm-smoke: FAIL %s: %m\n", what);
	exit(1);
}

static uint64_t get_reg(int vcpu, uint64_t id)
{
	uint64_t v = 0;
	struct kvm_one_reg r = {.id = id, .addr = (uintptr_t)&v};
	if (ioctl(vcpu, KVM_GET_ONE_REG, &r) < 0)
		fail("KVM_GET_ONE_REG");
	return v;
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		fail("open /dev/kvm");
	printf("kvm-smoke: API version %d\n", ioctl(kvm, KVM_GET_API_VERSION, 0));
	int vm = ioctl(kvm, KVM_CREATE_VM, 0); /* type 0: the default 40-bit IPA space */
	if (vm < 0)
		fail("KVM_CREATE_VM");

	void *ram =
	    mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		fail("mmap");
	memcpy(ram, guest, sizeof(guest));
	struct kvm_userspace_memory_region slot = {.slot = 0,
						   .guest_phys_addr = RAM_GPA,
						   .memory_size = RAM_SIZE,
						   .userspace_addr = (uintptr_t)ram};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		fail("KVM_SET_USER_MEMORY_REGION");

	struct kvm_vcpu_init init;
	if (ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init) < 0)
		fail("KVM_ARM_PREFERRED_TARGET");
	printf("kvm-smoke: preferred target %u\n", init.target);
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		fail("KVM_CREATE_VCPU");
	if (ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) < 0) /* resets it: EL1h, MMU off, DAIF masked */
		fail("KVM_ARM_VCPU_INIT");
	uint64_t pc = RAM_GPA;
	struct kvm_one_reg set_pc = {.id = CORE_REG(regs.pc), .addr = (uintptr_t)&pc};
	if (ioctl(vcpu, KVM_SET_ONE_REG, &set_pc) < 0)
		fail("KVM_SET_ONE_REG pc");

	int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_run *run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		fail("mmap kvm_run");

	/* The three accesses the guest should make, in order. */
	static const struct {
		uint64_t addr;
		int write, len;
		uint32_t data;
	} want[] = {
	    {MMIO_GPA, 1, 8, 0xdeadbeef}, {MMIO_GPA + 8, 0, 4, 0}, {MMIO_GPA + 16, 1, 4, ANSWER}};
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0)
			fail("KVM_RUN");
		if (run->exit_reason != KVM_EXIT_MMIO) {
			printf("kvm-smoke: FAIL exit %u: reason %u, not KVM_EXIT_MMIO (%u)\n",
			       i + 1, run->exit_reason, KVM_EXIT_MMIO);
			return 1;
		}
		uint64_t data = 0;
		memcpy(&data, run->mmio.data, run->mmio.len <= 8 ? run->mmio.len : 8);
		printf("kvm-smoke: exit %u: KVM_EXIT_MMIO %s addr 0x%llx len %u %s 0x%llx\n", i + 1,
		       run->mmio.is_write ? "write" : "read",
		       (unsigned long long)run->mmio.phys_addr, run->mmio.len,
		       run->mmio.is_write ? "data" : "answered",
		       run->mmio.is_write ? (unsigned long long)data : (unsigned long long)ANSWER);
		if (run->mmio.phys_addr != want[i].addr || run->mmio.is_write != want[i].write ||
		    run->mmio.len != (uint32_t)want[i].len ||
		    (want[i].write && data != want[i].data)) {
			printf("kvm-smoke: FAIL exit %u: want %s addr 0x%llx len %d data 0x%x\n",
			       i + 1, want[i].write ? "write" : "read",
			       (unsigned long long)want[i].addr, want[i].len, want[i].data);
			return 1;
		}
		if (!run->mmio.is_write) { /* the load's answer, completed by the next KVM_RUN */
			uint32_t answer = ANSWER;
			memcpy(run->mmio.data, &answer, sizeof(answer));
		}
	}
	/* pc is still at the last store: KVM steps past an MMIO access on the next KVM_RUN. */
	printf("kvm-smoke: guest pc 0x%llx, x2 0x%llx\n",
	       (unsigned long long)get_reg(vcpu, CORE_REG(regs.pc)),
	       (unsigned long long)get_reg(vcpu, CORE_REG(regs.regs[2])));
	printf("kvm-smoke: PASS\n");
	return 0;
}
