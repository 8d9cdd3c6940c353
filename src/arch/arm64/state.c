/* state.c — arm64 vCPU and GICv3 state for snapshots and live migration, through KVM's own
 * interfaces: every register KVM_GET_REG_LIST names (core, system, FP/SIMD, timer and firmware
 * registers) by ONE_REG, the power state by MP_STATE, and the GICv3's distributor,
 * redistributor and CPU-interface registers and SPI line levels by device attributes, as the KVM
 * API documents them (Documentation/virt/kvm/devices/arm-vgic-v3.rst). Little-endian on the
 * wire like every kiln format.
 *
 * vCPU section "vcpu.N", version 1: u32 register count, then per register u64 id, u16 length,
 * the value's bytes (length = the size the id encodes); then u32 mp_state.
 * Platform section "gicv3", version 1: u32 interrupts, u32 vCPUs, the distributor's registers
 * (below, in table order), the SPIs' line levels, then per vCPU its redistributor's registers and
 * its CPU interface's (u8 present, u64 value each: the number of active-priority registers
 * depends on the implemented priority bits).
 * Platform section "gicv3-its", version 1, only on a board with an ITS (PCI): u32 vCPUs, per vCPU
 * its redistributor's GICR_CTLR (u32), GICR_PROPBASER and GICR_PENDBASER (u64), then the ITS's
 * registers (u64 each, its_regs order). The ITS's tables and the LPIs' pending bits are in guest
 * memory, where KVM wrote them (KVM_DEV_ARM_ITS_SAVE_TABLES, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES)
 * before the memory was saved. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arm64/layout.h"
#include "arch/arm64/state.h"
#include "hv/kvm.h"
#include "util/log.h"

#define REG_MAX_BYTES 256  /* KVM_REG_SIZE_U2048, the widest ONE_REG */
#define REGS_MAX      4096 /* registers per vCPU we accept on load */

/* Refuse the stream (logged, recorded in b->err): -EINVAL. */
#define BAD(fmt, ...) state_refuse(b, fmt, ##__VA_ARGS__)

static size_t reg_bytes(uint64_t id)
{
	return (size_t)1 << ((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT);
}

int arm64_vcpu_save(int fd, struct state_buf *b)
{
	struct kvm_reg_list *l = kvm_get_reg_list(fd);
	uint8_t val[REG_MAX_BYTES];
	uint32_t mp;
	int ret = l ? 0 : -EIO;

	if (ret == 0)
		state_put_u32(b, (uint32_t)l->n);
	for (uint64_t i = 0; ret == 0 && i < l->n; i++) {
		uint64_t id = l->reg[i];
		size_t len = reg_bytes(id);

		if (len > sizeof(val)) {
			log_err("vCPU register %#llx: %zu bytes", (unsigned long long)id, len);
			ret = -EINVAL;
			break;
		}
		ret = kvm_get_one_reg(fd, id, val);
		state_put_u64(b, id);
		state_put_u16(b, (uint16_t)len);
		state_put_bytes(b, val, len);
	}
	if (ret == 0)
		ret = kvm_get_mp_state(fd, &mp);
	if (ret == 0)
		state_put_u32(b, mp);
	free(l);
	return ret;
}

int arm64_vcpu_load(int fd, unsigned index, struct state_buf *b, uint16_t version)
{
	uint32_t n = state_get_u32(b), mp;
	uint8_t val[REG_MAX_BYTES];

	if (version != ARM64_VCPU_STATE_VERSION)
		return BAD("vcpu %u: unknown section version %u", index, version);
	if (n > REGS_MAX)
		return BAD("vcpu %u: %u registers", index, n);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t id = state_get_u64(b);
		uint16_t len = state_get_u16(b);

		if (b->overflow || len != reg_bytes(id) || len > sizeof(val))
			return BAD("vcpu %u: register %#llx has a bad length", index,
				   (unsigned long long)id);
		state_get_bytes(b, val, len);
		if (b->overflow)
			break;
		if (kvm_set_one_reg(fd, id, val) < 0)
			return BAD("vcpu %u: KVM refused register %#llx", index,
				   (unsigned long long)id);
	}
	mp = state_get_u32(b);
	if (state_section_done(b))
		return BAD("vcpu %u: section length wrong", index);
	if (mp != KVM_MP_STATE_RUNNABLE && mp != KVM_MP_STATE_STOPPED)
		return BAD("vcpu %u: power state %u", index, mp);
	if (kvm_set_mp_state(fd, mp) < 0)
		return BAD("vcpu %u: KVM refused power state %u", index, mp);
	return 0;
}

/* --- the GICv3 --- */

/* A register block of the distributor or a redistributor: `words` 32-bit registers from
 * `offset`; clear_offset, if not 0, is the write-1-to-clear twin written with all ones before
 * the set register on load (ISENABLER/ICENABLER and the like). */
struct gic_block {
	uint32_t offset, clear_offset, words;
};

#define SPIS	 (ARM64_NR_IRQS - 32)
#define SGI_BASE 0x10000 /* the redistributor's SGI/PPI frame */

/* The distributor: GICD_CTLR, then the SPIs' bits, priorities, configurations and routes. */
static const struct gic_block dist_blocks[] = {
    {0x0000, 0, 1},			 /* GICD_CTLR */
    {0x0080 + 4, 0, SPIS / 32},		 /* IGROUPR */
    {0x0100 + 4, 0x0180 + 4, SPIS / 32}, /* ISENABLER / ICENABLER */
    {0x0200 + 4, 0x0280 + 4, SPIS / 32}, /* ISPENDR / ICPENDR */
    {0x0300 + 4, 0x0380 + 4, SPIS / 32}, /* ISACTIVER / ICACTIVER */
    {0x0400 + 32, 0, SPIS / 4},		 /* IPRIORITYR, a byte per interrupt */
    {0x0c00 + 8, 0, SPIS / 16},		 /* ICFGR, two bits per interrupt */
    {0x0d00 + 4, 0, SPIS / 32},		 /* IGRPMODR */
    {0x6000 + 8 * 32, 0, SPIS * 2},	 /* IROUTER, 64 bits per interrupt as two words */
};

/* A redistributor's SGI/PPI frame. */
static const struct gic_block redist_blocks[] = {
    {SGI_BASE + 0x0080, 0, 1},		       /* IGROUPR0 */
    {SGI_BASE + 0x0100, SGI_BASE + 0x0180, 1}, /* ISENABLER0 / ICENABLER0 */
    {SGI_BASE + 0x0200, SGI_BASE + 0x0280, 1}, /* ISPENDR0 / ICPENDR0 */
    {SGI_BASE + 0x0300, SGI_BASE + 0x0380, 1}, /* ISACTIVER0 / ICACTIVER0 */
    {SGI_BASE + 0x0400, 0, 8},		       /* IPRIORITYR0-7 */
    {SGI_BASE + 0x0c00, 0, 2},		       /* ICFGR0-1 */
    {SGI_BASE + 0x0d00, 0, 1},		       /* IGRPMODR0 */
};

/* CPU-interface system registers (op0, op1, CRn, CRm, op2), KVM's attribute encoding. */
#define ICC(op0, op1, crn, crm, op2) ((op0) << 14 | (op1) << 11 | (crn) << 7 | (crm) << 3 | (op2))
static const uint16_t icc_regs[] = {
    ICC(3, 0, 12, 12, 4), /* ICC_CTLR_EL1 */
    ICC(3, 0, 4, 6, 0),	  /* ICC_PMR_EL1 */
    ICC(3, 0, 12, 8, 3),  /* ICC_BPR0_EL1 */
    ICC(3, 0, 12, 12, 3), /* ICC_BPR1_EL1 */
    ICC(3, 0, 12, 8, 4),  ICC(3, 0, 12, 8, 5), ICC(3, 0, 12, 8, 6), ICC(3, 0, 12, 8, 7), /* AP0R */
    ICC(3, 0, 12, 9, 0),  ICC(3, 0, 12, 9, 1), ICC(3, 0, 12, 9, 2), ICC(3, 0, 12, 9, 3), /* AP1R */
    ICC(3, 0, 12, 12, 6), /* IGRPEN0 */
    ICC(3, 0, 12, 12, 7), /* IGRPEN1 */
};

/* The attribute's vCPU part: MPIDR's Aff2-Aff0 in bits 63:32 (without RES1 bit 31). */
static uint64_t vcpu_attr(uint64_t mpidr)
{
	return (mpidr & 0xffffffULL) << KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT;
}

static int block_get(int fd, uint32_t group, uint64_t vattr, const struct gic_block *k,
		     struct state_buf *b)
{
	for (uint32_t w = 0; w < k->words; w++) {
		uint32_t v;
		int ret = kvm_get_device_attr(fd, group, vattr | (k->offset + 4 * w), &v);

		if (ret < 0)
			return ret;
		state_put_u32(b, v);
	}
	return 0;
}

static int block_set(int fd, uint32_t group, uint64_t vattr, const struct gic_block *k,
		     struct state_buf *b)
{
	for (uint32_t w = 0; w < k->words; w++) {
		uint32_t v = state_get_u32(b), ones = ~0u;
		int ret = 0;

		if (b->overflow)
			return -EINVAL;
		if (k->clear_offset)
			ret = kvm_set_device_attr(fd, group, vattr | (k->clear_offset + 4 * w),
						  &ones);
		if (ret == 0)
			ret = kvm_set_device_attr(fd, group, vattr | (k->offset + 4 * w), &v);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The SPIs' line levels, 32 interrupts a word. */
static uint64_t level_attr(uint32_t intid)
{
	return (uint64_t)VGIC_LEVEL_INFO_LINE_LEVEL << KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT |
	       intid;
}

static int vcpu_gic_save(int fd, uint64_t mpidr, struct state_buf *b)
{
	uint64_t va = vcpu_attr(mpidr);
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < sizeof(redist_blocks) / sizeof(redist_blocks[0]); i++)
		ret = block_get(fd, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, va, &redist_blocks[i], b);
	for (size_t i = 0; ret == 0 && i < sizeof(icc_regs) / sizeof(icc_regs[0]); i++) {
		uint64_t v = 0;
		bool present =
		    kvm_has_device_attr(fd, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, va | icc_regs[i]) &&
		    kvm_get_device_attr_quiet(fd, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS,
					      va | icc_regs[i], &v) == 0;

		/* KVM lists the AP0R/AP1R registers beyond the priority bits the CPU
		 * implements but refuses to read them (EINVAL): saved as absent. */
		state_put_u8(b, present);
		state_put_u64(b, v);
	}
	return ret;
}

int arm64_gic_save(int fd, const uint64_t *mpidr, unsigned nr_vcpus, struct state_buf *b)
{
	int ret = 0;

	state_put_u32(b, ARM64_NR_IRQS);
	state_put_u32(b, nr_vcpus);
	for (size_t i = 0; ret == 0 && i < sizeof(dist_blocks) / sizeof(dist_blocks[0]); i++)
		ret = block_get(fd, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0, &dist_blocks[i], b);
	for (uint32_t intid = 32; ret == 0 && intid < ARM64_NR_IRQS; intid += 32) {
		uint32_t v;

		ret =
		    kvm_get_device_attr(fd, KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO, level_attr(intid), &v);
		state_put_u32(b, v);
	}
	for (unsigned c = 0; ret == 0 && c < nr_vcpus; c++)
		ret = vcpu_gic_save(fd, mpidr[c], b);
	return ret;
}

static int vcpu_gic_load(int fd, uint64_t mpidr, struct state_buf *b)
{
	uint64_t va = vcpu_attr(mpidr);
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < sizeof(redist_blocks) / sizeof(redist_blocks[0]); i++)
		ret = block_set(fd, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, va, &redist_blocks[i], b);
	for (size_t i = 0; ret == 0 && i < sizeof(icc_regs) / sizeof(icc_regs[0]); i++) {
		uint8_t present = state_get_u8(b);
		uint64_t v = state_get_u64(b);

		if (present)
			ret = kvm_set_device_attr(fd, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS,
						  va | icc_regs[i], &v);
	}
	return ret;
}

int arm64_gic_load(int fd, const uint64_t *mpidr, unsigned nr_vcpus, struct state_buf *b,
		   uint16_t version)
{
	uint32_t irqs = state_get_u32(b), cpus = state_get_u32(b);
	int ret = 0;

	if (version != ARM64_GIC_STATE_VERSION)
		return BAD("gicv3: unknown section version %u", version);
	if (irqs != ARM64_NR_IRQS || cpus != nr_vcpus)
		return BAD("gicv3: %u interrupts and %u vCPUs, this VM has %u and %u", irqs, cpus,
			   ARM64_NR_IRQS, nr_vcpus);
	for (size_t i = 0; ret == 0 && i < sizeof(dist_blocks) / sizeof(dist_blocks[0]); i++)
		ret = block_set(fd, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0, &dist_blocks[i], b);
	for (uint32_t intid = 32; ret == 0 && intid < ARM64_NR_IRQS; intid += 32) {
		uint32_t v = state_get_u32(b);

		ret =
		    kvm_set_device_attr(fd, KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO, level_attr(intid), &v);
	}
	for (unsigned c = 0; ret == 0 && c < nr_vcpus; c++)
		ret = vcpu_gic_load(fd, mpidr[c], b);
	if (ret == 0 && state_section_done(b))
		return BAD("gicv3: section length wrong");
	if (ret < 0)
		return BAD("gicv3: KVM refused a saved register (%s)", strerror(-ret));
	return 0;
}

/* --- the ITS and the LPIs (docs: Documentation/virt/kvm/devices/arm-vgic-its.rst) --- */

#define GICR_CTLR      0x0000
#define GICR_PROPBASER 0x0070
#define GICR_PENDBASER 0x0078
#define GITS_CTLR      0x0000
#define GITS_IIDR      0x0004
#define GITS_CBASER    0x0080
#define GITS_CWRITER   0x0088
#define GITS_CREADR    0x0090
#define GITS_BASER(n)  (0x0100 + 8 * (n))

/* The ITS registers in the section's and the restore's order: GITS_IIDR first (it selects the
 * table ABI), GITS_CBASER before GITS_CREADR (writing CBASER resets CREADR); GITS_CTLR is not
 * here: it is written last, after the tables. */
static const uint32_t its_regs[] = {
    GITS_IIDR,	   GITS_CBASER,	  GITS_CREADR,	 GITS_CWRITER,	GITS_BASER(0), GITS_BASER(1),
    GITS_BASER(2), GITS_BASER(3), GITS_BASER(4), GITS_BASER(5), GITS_BASER(6), GITS_BASER(7),
};
#define NR_ITS_REGS (sizeof(its_regs) / sizeof(its_regs[0]))

/* A 64-bit redistributor register as KVM's 32-bit accesses see it: low word, then high. */
static int redist_get64(int fd, uint64_t va, uint32_t off, uint64_t *v)
{
	uint32_t lo, hi;
	int ret = kvm_get_device_attr(fd, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, va | off, &lo);

	if (ret == 0)
		ret =
		    kvm_get_device_attr(fd, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, va | (off + 4), &hi);
	*v = (uint64_t)hi << 32 | lo;
	return ret;
}

static int redist_set64(int fd, uint64_t va, uint32_t off, uint64_t v)
{
	uint32_t lo = (uint32_t)v, hi = (uint32_t)(v >> 32);
	int ret = kvm_set_device_attr(fd, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, va | off, &lo);

	return ret ? ret
		   : kvm_set_device_attr(fd, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, va | (off + 4), &hi);
}

static int vcpu_lpi_save(int fd, uint64_t mpidr, struct state_buf *b)
{
	uint64_t va = vcpu_attr(mpidr), prop = 0, pend = 0;
	uint32_t ctlr = 0;
	int ret = kvm_get_device_attr(fd, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, va | GICR_CTLR, &ctlr);

	ret = ret ? ret : redist_get64(fd, va, GICR_PROPBASER, &prop);
	ret = ret ? ret : redist_get64(fd, va, GICR_PENDBASER, &pend);
	state_put_u32(b, ctlr);
	state_put_u64(b, prop);
	state_put_u64(b, pend);
	return ret;
}

int arm64_its_save(int gic_fd, int its_fd, const uint64_t *mpidr, unsigned nr_vcpus,
		   struct state_buf *b)
{
	int ret = kvm_set_device_attr(its_fd, KVM_DEV_ARM_VGIC_GRP_CTRL,
				      KVM_DEV_ARM_ITS_SAVE_TABLES, NULL);
	uint64_t v = 0;

	if (ret == 0)
		ret = kvm_set_device_attr(gic_fd, KVM_DEV_ARM_VGIC_GRP_CTRL,
					  KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES, NULL);
	state_put_u32(b, nr_vcpus);
	for (unsigned c = 0; ret == 0 && c < nr_vcpus; c++)
		ret = vcpu_lpi_save(gic_fd, mpidr[c], b);
	for (size_t i = 0; ret == 0 && i < NR_ITS_REGS; i++) {
		ret = kvm_get_device_attr(its_fd, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, its_regs[i], &v);
		state_put_u64(b, v);
	}
	if (ret == 0)
		ret = kvm_get_device_attr(its_fd, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, GITS_CTLR, &v);
	state_put_u64(b, v);
	return ret;
}

/* A redistributor's LPI registers: the tables' bases first, EnableLPIs after (KVM ignores base
 * writes once LPIs are on). */
static int vcpu_lpi_load(int fd, uint64_t mpidr, struct state_buf *b)
{
	uint64_t va = vcpu_attr(mpidr);
	uint32_t ctlr = state_get_u32(b);
	uint64_t prop = state_get_u64(b), pend = state_get_u64(b);
	int ret = b->overflow ? -EINVAL : redist_set64(fd, va, GICR_PROPBASER, prop);

	ret = ret ? ret : redist_set64(fd, va, GICR_PENDBASER, pend);
	return ret ? ret
		   : kvm_set_device_attr(fd, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, va | GICR_CTLR,
					 &ctlr);
}

static int its_regs_load(int its_fd, struct state_buf *b, uint64_t *ctlr)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < NR_ITS_REGS; i++) {
		uint64_t v = state_get_u64(b);

		ret = b->overflow ? -EINVAL
				  : kvm_set_device_attr(its_fd, KVM_DEV_ARM_VGIC_GRP_ITS_REGS,
							its_regs[i], &v);
	}
	*ctlr = state_get_u64(b);
	return ret;
}

int arm64_its_load(int gic_fd, int its_fd, const uint64_t *mpidr, unsigned nr_vcpus,
		   struct state_buf *b, uint16_t version)
{
	uint32_t cpus = state_get_u32(b);
	uint64_t ctlr = 0;
	int ret = 0;

	if (version != ARM64_ITS_STATE_VERSION)
		return BAD("gicv3-its: unknown section version %u", version);
	if (cpus != nr_vcpus)
		return BAD("gicv3-its: %u vCPUs, this VM has %u", cpus, nr_vcpus);
	for (unsigned c = 0; ret == 0 && c < nr_vcpus; c++)
		ret = vcpu_lpi_load(gic_fd, mpidr[c], b);
	if (ret == 0)
		ret = its_regs_load(its_fd, b, &ctlr);
	if (ret == 0 && state_section_done(b))
		return BAD("gicv3-its: section length wrong");
	if (ret == 0)
		ret = kvm_set_device_attr(its_fd, KVM_DEV_ARM_VGIC_GRP_CTRL,
					  KVM_DEV_ARM_ITS_RESTORE_TABLES, NULL);
	if (ret == 0)
		ret = kvm_set_device_attr(its_fd, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, GITS_CTLR, &ctlr);
	if (ret < 0)
		return BAD("gicv3-its: KVM refused the saved ITS or LPI state (%s)",
			   strerror(-ret));
	return 0;
}
