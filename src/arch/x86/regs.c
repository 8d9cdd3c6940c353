/* regs.c — boot GDT, identity page tables, and the entry register state for each boot mode. */
#include <errno.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "arch/x86/regs.h"
#include "hv/kvm.h"

#define CR0_PE	 0x1ULL
#define CR0_ET	 0x10ULL
#define CR0_PG	 0x80000000ULL
#define CR4_PAE	 0x20ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL

#define PTE_P  0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL

#define SEL_CODE    0x10
#define SEL_DATA    0x18
#define SEL_TSS	    0x20
#define GDT_ENTRIES 5

/* Descriptor from base, limit and the flags/access word (as in the Linux GDT_ENTRY macro). */
static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000) << 32) | ((uint64_t)(flags & 0xf0ff) << 40) |
	       ((uint64_t)(limit & 0xf0000) << 32) | ((uint64_t)(base & 0x00ffffff) << 16) |
	       (uint64_t)(limit & 0xffff);
}

static void gdt_build(uint64_t gdt[GDT_ENTRIES], enum boot_cpu_mode mode)
{
	memset(gdt, 0, GDT_ENTRIES * sizeof(gdt[0]));
	gdt[SEL_CODE / 8] = gdt_entry(mode == BOOT_CPU_LONG64 ? 0xa09b : 0xc09b, 0, 0xfffff);
	gdt[SEL_DATA / 8] = gdt_entry(0xc093, 0, 0xfffff);
	gdt[SEL_TSS / 8] = gdt_entry(0x008b, 0, 0x67);
}

static int page_tables_write(struct guest_mem *m)
{
	uint64_t pml4[512] = {0}, pdpt[512] = {0}, pd[512];

	pml4[0] = LAYOUT_PDPT_GPA | PTE_P | PTE_RW;
	for (int i = 0; i < 4; i++)
		pdpt[i] = (LAYOUT_PD_GPA + (uint64_t)i * 0x1000) | PTE_P | PTE_RW;
	if (guest_mem_write(m, LAYOUT_PML4_GPA, pml4, sizeof(pml4)) < 0 ||
	    guest_mem_write(m, LAYOUT_PDPT_GPA, pdpt, sizeof(pdpt)) < 0)
		return -EFAULT;
	for (int t = 0; t < 4; t++) {
		for (int i = 0; i < 512; i++)
			pd[i] = (((uint64_t)t * 512 + (uint64_t)i) << 21) | PTE_P | PTE_RW | PTE_PS;
		if (guest_mem_write(m, LAYOUT_PD_GPA + (uint64_t)t * 0x1000, pd, sizeof(pd)) < 0)
			return -EFAULT;
	}
	return 0;
}

int x86_boot_tables_write(struct guest_mem *m, enum boot_cpu_mode mode)
{
	uint64_t gdt[GDT_ENTRIES];
	uint64_t idt = 0;

	gdt_build(gdt, mode);
	if (guest_mem_write(m, LAYOUT_GDT_GPA, gdt, sizeof(gdt)) < 0 ||
	    guest_mem_write(m, LAYOUT_IDT_GPA, &idt, sizeof(idt)) < 0)
		return -EFAULT;
	return mode == BOOT_CPU_LONG64 ? page_tables_write(m) : 0;
}

/* KVM segment register from a GDT descriptor and its selector. */
static struct kvm_segment seg_from_gdt(uint64_t d, uint16_t sel)
{
	struct kvm_segment s = {
	    .base = (uint32_t)(((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000)),
	    .limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000)),
	    .selector = sel,
	    .type = (d >> 40) & 0xf,
	    .present = (d >> 47) & 1,
	    .dpl = (d >> 45) & 3,
	    .db = (d >> 54) & 1,
	    .s = (d >> 44) & 1,
	    .l = (d >> 53) & 1,
	    .g = (d >> 55) & 1,
	};

	if (s.g)
		s.limit = (s.limit << 12) | 0xfff;
	return s;
}

static void sregs_fill(struct kvm_sregs *s, enum boot_cpu_mode mode)
{
	uint64_t gdt[GDT_ENTRIES];
	struct kvm_segment data;

	gdt_build(gdt, mode);
	s->cs = seg_from_gdt(gdt[SEL_CODE / 8], SEL_CODE);
	data = seg_from_gdt(gdt[SEL_DATA / 8], SEL_DATA);
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->tr = seg_from_gdt(gdt[SEL_TSS / 8], SEL_TSS);
	s->gdt.base = LAYOUT_GDT_GPA;
	s->gdt.limit = sizeof(gdt) - 1;
	s->idt.base = LAYOUT_IDT_GPA;
	s->idt.limit = 7;
	s->cr0 = (s->cr0 | CR0_PE | CR0_ET) & ~CR0_PG;
	s->cr4 &= ~CR4_PAE;
	s->efer &= ~(EFER_LME | EFER_LMA);
	if (mode == BOOT_CPU_LONG64) {
		s->cr3 = LAYOUT_PML4_GPA;
		s->cr4 |= CR4_PAE;
		s->cr0 |= CR0_PG;
		s->efer |= EFER_LME | EFER_LMA;
	}
}

int x86_boot_regs_set(int vcpu_fd, const struct boot_entry *e)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int ret;

	ret = kvm_get_sregs(vcpu_fd, &sregs);
	if (ret < 0)
		return ret;
	sregs_fill(&sregs, e->mode);
	ret = kvm_set_sregs(vcpu_fd, &sregs);
	if (ret < 0)
		return ret;
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = e->rip;
	regs.rsi = e->rsi;
	regs.rbx = e->rbx;
	regs.rsp = e->rsp;
	regs.rbp = e->rsp;
	return kvm_set_regs(vcpu_fd, &regs);
}
