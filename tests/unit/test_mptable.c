/* test_mptable.c — MP table written into host-side guest memory and parsed back as Linux does. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"

#define MAX_CPUS 256

/* What the parser found; byte offsets from the MP spec 1.4, chapter 4. */
struct parsed {
	uint64_t mpf_gpa, mpc_gpa, mpc_end;
	unsigned ncpus, nbus, nioapic, nioint, nlint;
	uint8_t apic_id[MAX_CPUS], cpu_flags[MAX_CPUS], cpu_ver[MAX_CPUS];
	uint8_t ioapic_id, ioapic_ver, ioapic_flags;
	uint32_t ioapic_gpa;
	uint8_t ioint[16][8], lint[2][8];
	char bus[7];
};

struct fixture {
	struct guest_mem m;
};

static int setup(void **state)
{
	static struct fixture f;

	guest_mem_init(&f.m, -1);
	if (guest_mem_add(&f.m, 0, MiB(2), GUEST_MEM_RAM) < 0)
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	guest_mem_destroy(&f->m);
	return 0;
}

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Linux's smp_scan_config(): 16-byte steps, "_MP_", length 1, checksum, revision 1 or 4. */
static uint64_t scan_mpf(const struct guest_mem *m, uint64_t base, uint64_t len)
{
	for (uint64_t a = base; a + 16 <= base + len; a += 16) {
		const uint8_t *p = guest_mem_ptr(m, a, 16);

		if (p && memcmp(p, "_MP_", 4) == 0 && p[8] == 1 && sum8(p, 16) == 0 &&
		    (p[9] == 1 || p[9] == 4))
			return a;
	}
	return 0;
}

static void parse_entry(struct parsed *r, const uint8_t *e)
{
	switch (e[0]) {
	case 0:
		assert_true(r->ncpus < MAX_CPUS);
		r->apic_id[r->ncpus] = e[1];
		r->cpu_ver[r->ncpus] = e[2];
		r->cpu_flags[r->ncpus++] = e[3];
		break;
	case 1:
		memcpy(r->bus, e + 2, 6);
		r->nbus++;
		break;
	case 2:
		r->ioapic_id = e[1];
		r->ioapic_ver = e[2];
		r->ioapic_flags = e[3];
		r->ioapic_gpa = le32(e + 4);
		r->nioapic++;
		break;
	case 3:
		assert_true(r->nioint < 16);
		memcpy(r->ioint[r->nioint++], e, 8);
		break;
	case 4:
		assert_true(r->nlint < 2);
		memcpy(r->lint[r->nlint++], e, 8);
		break;
	default:
		fail_msg("unknown entry type %u", e[0]);
	}
}

/* Walk the base table: entries in ascending type order, sizes by type, exactly `length`. */
static void parse_entries(struct parsed *r, const uint8_t *t, uint16_t len, uint16_t count)
{
	size_t off = 44;
	uint8_t last_type = 0;

	for (uint16_t i = 0; i < count; i++) {
		size_t sz = t[off] == 0 ? 20 : 8;

		assert_true(off + sz <= len);
		assert_true(t[off] >= last_type);
		last_type = t[off];
		parse_entry(r, t + off);
		off += sz;
	}
	assert_int_equal(off, len);
}

static void parse(const struct guest_mem *m, struct parsed *r)
{
	const uint8_t *mpf, *t;
	uint16_t len;

	memset(r, 0, sizeof(*r));
	/* Where Linux looks without a BDA pointer: the last KiB of base memory (639 KiB). */
	r->mpf_gpa = scan_mpf(m, 639 * 0x400, 0x400);
	assert_int_equal(r->mpf_gpa, LAYOUT_MPTABLE_GPA);
	mpf = guest_mem_ptr(m, r->mpf_gpa, 16);
	assert_int_equal(mpf[9], 4);
	assert_int_equal(mpf[11], 0); /* feature byte 1: a configuration table follows */
	assert_int_equal(mpf[12], 0); /* IMCRP clear: virtual wire mode */
	r->mpc_gpa = le32(mpf + 4);
	t = guest_mem_ptr(m, r->mpc_gpa, 44);
	assert_non_null(t);
	assert_memory_equal(t, "PCMP", 4);
	len = le16(t + 4);
	r->mpc_end = r->mpc_gpa + len;
	assert_true(r->mpc_end <= LAYOUT_BIOS_GPA);
	t = guest_mem_ptr(m, r->mpc_gpa, len);
	assert_non_null(t);
	assert_int_equal(sum8(t, len), 0);
	assert_int_equal(t[6], 4);
	assert_memory_equal(t + 8, "KILN    ", 8);
	assert_int_equal(le32(t + 36), LAYOUT_LAPIC_GPA);
	assert_int_equal(le16(t + 40), 0); /* no extended table */
	assert_int_equal(le32(t + 28), 0); /* no OEM table */
	parse_entries(r, t, len, le16(t + 34));
}

static void check_table(const struct guest_mem *m, const struct x86_topology *t)
{
	static struct parsed r;
	unsigned n = x86_topology_vcpus(t);

	parse(m, &r);
	assert_int_equal(r.ncpus, n);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(r.apic_id[i], x86_apic_id(t, i));
		assert_int_equal(r.cpu_flags[i], i == 0 ? 3 : 1);
		assert_int_equal(r.cpu_ver[i], 0x14);
	}
	assert_int_equal(r.nbus, 1);
	assert_string_equal(r.bus, "ISA   ");
	assert_int_equal(r.nioapic, 1);
	assert_int_equal(r.ioapic_id, x86_apic_id(t, n - 1) + 1);
	assert_int_equal(r.ioapic_ver, 0x11);
	assert_int_equal(r.ioapic_flags, 1);
	assert_int_equal(r.ioapic_gpa, LAYOUT_IOAPIC_GPA);
	assert_int_equal(r.nioint, 16);
	for (unsigned irq = 0; irq < 16; irq++) {
		const uint8_t *e = r.ioint[irq];

		assert_int_equal(e[1], 0);	  /* INT */
		assert_int_equal(le16(e + 2), 0); /* conforms to the ISA bus */
		assert_int_equal(e[4], 0);	  /* the ISA bus */
		assert_int_equal(e[5], irq);
		assert_int_equal(e[6], r.ioapic_id);
		assert_int_equal(e[7], irq); /* IRQ n -> pin n, IRQ 0 included */
	}
	assert_int_equal(r.nlint, 2);
	assert_int_equal(r.lint[0][1], 3); /* ExtINT */
	assert_int_equal(r.lint[0][6], 0xff);
	assert_int_equal(r.lint[0][7], 0); /* LINT0 */
	assert_int_equal(r.lint[1][1], 1); /* NMI */
	assert_int_equal(r.lint[1][6], 0xff);
	assert_int_equal(r.lint[1][7], 1); /* LINT1 */
}

static void write_and_check(struct fixture *f, unsigned s, unsigned c, unsigned th)
{
	struct x86_topology t = {s, c, th};

	assert_int_equal(mptable_write(&f->m, &t), 0);
	check_table(&f->m, &t);
}

static void test_single(void **state)
{
	write_and_check(*state, 1, 1, 1);
}

static void test_cube(void **state)
{
	write_and_check(*state, 2, 2, 2);
}

static void test_padded(void **state)
{
	struct fixture *f = *state;
	static struct parsed r;

	write_and_check(f, 2, 3, 1);
	parse(&f->m, &r);
	assert_int_equal(r.apic_id[3], 4); /* socket 1 starts at APIC ID 4 */
	assert_int_equal(r.ioapic_id, 7);
}

static void test_254_vcpus(void **state)
{
	struct fixture *f = *state;
	static struct parsed r;

	write_and_check(f, 1, 254, 1);
	parse(&f->m, &r);
	assert_int_equal(r.ioapic_id, 254);
	write_and_check(f, 254, 1, 1);
	write_and_check(f, 2, 63, 2); /* 252 vCPUs, APIC IDs up to 253 */
}

static void test_no_stray_bytes(void **state)
{
	struct fixture *f = *state;
	struct x86_topology t = {1, 254, 1};
	static struct parsed r;
	uint8_t *low = guest_mem_ptr(&f->m, 0, LAYOUT_BIOS_END);

	memset(low, 0xa5, LAYOUT_BIOS_END);
	assert_int_equal(mptable_write(&f->m, &t), 0);
	parse(&f->m, &r);
	assert_int_equal(low[LAYOUT_MPTABLE_GPA - 1], 0xa5);
	assert_int_equal(r.mpc_gpa, LAYOUT_MPTABLE_GPA + 16);
	for (uint64_t a = r.mpc_end; a < LAYOUT_BIOS_END; a++)
		assert_int_equal(low[a], 0xa5);
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	struct x86_topology zero = {1, 0, 1}, ioapic255 = {1, 255, 1}, wide = {3, 100, 1};
	struct x86_topology huge = {1, 70000, 1}, ok = {1, 2, 1};
	struct x86_topology padded254 = {2, 127, 1}; /* 254 vCPUs, but APIC IDs reach 254 */
	struct guest_mem high;

	assert_int_equal(mptable_write(&f->m, &zero), -EINVAL);
	assert_int_equal(mptable_write(&f->m, &ioapic255), -ERANGE);
	assert_int_equal(mptable_write(&f->m, &wide), -ERANGE);
	assert_int_equal(mptable_write(&f->m, &padded254), -ERANGE);
	assert_int_equal(mptable_write(&f->m, &huge), -E2BIG);
	guest_mem_init(&high, -1);
	assert_int_equal(guest_mem_add(&high, MiB(1), MiB(1), GUEST_MEM_RAM), 0);
	assert_int_equal(mptable_write(&high, &ok), -EFAULT);
	guest_mem_destroy(&high);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_single, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cube, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_padded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_254_vcpus, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_stray_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
