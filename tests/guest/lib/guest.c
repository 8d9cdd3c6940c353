/* guest.c — the kit's runtime: console, formatting, strings, boot info, exits, traps. */
#include "guest.h"

#define COM1		0x3f8
#define COM1_LSR	(COM1 + 5)
#define LSR_THRE	0x20
#define DEBUG_EXIT_PORT 0xf4

#define PVH_MAGIC	    0x336ec578
#define PVH_CMDLINE	    24 /* hvm_start_info.cmdline_paddr */
#define PVH_MEMMAP	    40 /* memmap_paddr */
#define PVH_MEMMAP_ENTRIES  48 /* memmap_entries */
#define BP_E820_ENTRIES	    0x1e8
#define BP_CMD_LINE_PTR	    0x228
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_TABLE	    0x2d0
#define E820_ENTRY_SIZE	    20

#define IOAPIC_GPA 0xfec00000ULL

/* Filled by entry.S at ring 0, before CPL3 starts. */
extern uint64_t guest_boot_info;
extern uint32_t guest_boot_proto;
extern void (*guest_ring0_fn)(void);
extern const char guest_ring0_ud2[];
extern char __bss_start[], __bss_end[];

volatile uint64_t guest_irq_count[KIT_VECTORS];
volatile uint32_t guest_ap_next, guest_ap_reported;
volatile uint32_t guest_ap_lapic_id[KIT_MAX_CPUS];
volatile uint32_t guest_ap_cpuid1_id[KIT_MAX_CPUS];
volatile uint32_t guest_ap_cpuidb_id[KIT_MAX_CPUS];

/* ---- strings ------------------------------------------------------------------------------ */
void *memset(void *d, int c, size_t n)
{
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	void *r = d;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return r;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

int strcmp(const char *a, const char *b)
{
	return strncmp(a, b, (size_t)-1);
}

char *strstr(const char *h, const char *n)
{
	size_t len = strlen(n);

	for (; *h; h++)
		if (strncmp(h, n, len) == 0)
			return (char *)h;
	return len ? NULL : (char *)h;
}

/* ---- console and formatting --------------------------------------------------------------- */
static void com1_raw(char c)
{
	while (!(inb(COM1_LSR) & LSR_THRE))
		;
	outb(COM1, (uint8_t)c);
}

void guest_putc(char c)
{
	if (c == '\n')
		com1_raw('\r');
	com1_raw(c);
}

void guest_puts(const char *s)
{
	while (*s)
		guest_putc(*s++);
}

/* Where formatted output goes: the console (buf NULL) or a bounded buffer. */
struct sink {
	char *buf;
	size_t cap, len;
};

static void sink_put(struct sink *s, char c)
{
	if (!s->buf)
		guest_putc(c);
	else if (s->len + 1 < s->cap)
		s->buf[s->len] = c;
	s->len++;
}

static void put_num(struct sink *s, uint64_t v, unsigned base, bool neg, int width, char pad)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	for (; width > n; width--)
		sink_put(s, pad);
	while (n)
		sink_put(s, tmp[--n]);
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		int lng = 0, width = 0;
		bool alt = false;
		char pad = ' ';
		uint64_t u;
		int64_t d;

		if (*fmt != '%') {
			sink_put(s, *fmt);
			continue;
		}
		fmt++;
		if (*fmt == '#')
			alt = true, fmt++;
		if (*fmt == '0')
			pad = '0', fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + *fmt++ - '0';
		while (*fmt == 'l')
			lng++, fmt++;
		switch (*fmt) {
		case 'd':
		case 'i':
			d = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			put_num(s, d < 0 ? -(uint64_t)d : (uint64_t)d, 10, d < 0, width, pad);
			break;
		case 'u':
		case 'x':
			u = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			if (alt && *fmt == 'x')
				sink_put(s, '0'), sink_put(s, 'x');
			put_num(s, u, *fmt == 'u' ? 10 : 16, false, width, pad);
			break;
		case 'p':
			sink_put(s, '0');
			sink_put(s, 'x');
			put_num(s, (uint64_t)va_arg(ap, void *), 16, false, width, pad);
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);

			for (str = str ? str : "(null)"; *str; str++)
				sink_put(s, *str);
			break;
		}
		case 'c':
			sink_put(s, (char)va_arg(ap, int));
			break;
		case '%':
			sink_put(s, '%');
			break;
		default: /* unknown conversion: show it */
			sink_put(s, '%');
			if (!*fmt)
				return;
			sink_put(s, *fmt);
		}
	}
}

void guest_vprintf(const char *fmt, va_list ap)
{
	struct sink s = {0};

	format(&s, fmt, ap);
}

void guest_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	guest_vprintf(fmt, ap);
	va_end(ap);
}

int guest_snprintf(char *buf, size_t n, const char *fmt, ...)
{
	struct sink s = {.buf = buf, .cap = n};
	va_list ap;

	va_start(ap, fmt);
	format(&s, fmt, ap);
	va_end(ap);
	if (n)
		buf[s.len < n ? s.len : n - 1] = '\0';
	return (int)s.len;
}

/* ---- exits -------------------------------------------------------------------------------- */
void guest_exit(unsigned v)
{
	outb(DEBUG_EXIT_PORT, (uint8_t)v);
	/* Not reached with a debug-exit port; without one, spin (a CPL3 hlt would #GP). */
	for (;;)
		guest_pause();
}

void guest_pass(void)
{
	guest_puts("PASS\n");
	guest_exit(GUEST_EXIT_PASS);
}

void guest_fail(const char *fmt, ...)
{
	va_list ap;

	guest_puts("FAIL ");
	va_start(ap, fmt);
	guest_vprintf(fmt, ap);
	va_end(ap);
	guest_putc('\n');
	guest_exit(GUEST_EXIT_FAIL);
}

/* ---- boot information --------------------------------------------------------------------- */
static uint32_t rd32(uint64_t gpa)
{
	return *(const volatile uint32_t *)gpa;
}

static uint64_t rd64(uint64_t gpa)
{
	return *(const volatile uint64_t *)gpa;
}

int guest_boot_protocol(void)
{
	return (int)guest_boot_proto;
}

const char *guest_boot_protocol_name(void)
{
	return guest_boot_proto == KIT_BOOT_PVH ? "pvh" : "linux";
}

uint64_t guest_boot_info_gpa(void)
{
	return guest_boot_info;
}

const char *guest_cmdline(void)
{
	uint64_t p;

	if (guest_boot_proto == KIT_BOOT_PVH)
		p = rd64(guest_boot_info + PVH_CMDLINE);
	else
		p = rd32(guest_boot_info + BP_CMD_LINE_PTR) |
		    (uint64_t)rd32(guest_boot_info + BP_EXT_CMD_LINE_PTR) << 32;
	return p ? (const char *)p : "";
}

bool guest_cmdline_get(const char *key, char *buf, size_t len)
{
	const char *s = guest_cmdline();
	size_t klen = strlen(key);

	while (*s) {
		const char *w = s;

		while (*s && *s != ' ')
			s++;
		if ((size_t)(s - w) > klen && strncmp(w, key, klen) == 0 && w[klen] == '=') {
			size_t n = 0;

			for (w += klen + 1; w < s && n + 1 < len; w++)
				buf[n++] = *w;
			if (len)
				buf[n] = '\0';
			return true;
		}
		while (*s == ' ')
			s++;
	}
	return false;
}

bool guest_cmdline_u64(const char *key, uint64_t *out)
{
	char v[32], *p = v;
	unsigned base = 10, shift = 0;
	uint64_t n = 0;

	if (!guest_cmdline_get(key, v, sizeof(v)) || !*v)
		return false;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		base = 16, p += 2;
	for (; *p; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			break;
		n = n * base + d;
	}
	switch (*p) {
	case 'K':
		shift = 10, p++;
		break;
	case 'M':
		shift = 20, p++;
		break;
	case 'G':
		shift = 30, p++;
		break;
	case 'T':
		shift = 40, p++;
		break;
	}
	if (*p)
		return false;
	*out = n << shift;
	return true;
}

int guest_memmap(struct guest_mem_range *out, int max)
{
	uint64_t bi = guest_boot_info;
	int n;

	if (guest_boot_proto == KIT_BOOT_PVH) {
		uint64_t map = rd64(bi + PVH_MEMMAP);

		n = (int)rd32(bi + PVH_MEMMAP_ENTRIES);
		for (int i = 0; i < n && i < max; i++) {
			out[i].addr = rd64(map + 24 * i);
			out[i].size = rd64(map + 24 * i + 8);
			out[i].type = rd32(map + 24 * i + 16);
		}
	} else {
		uint64_t map = bi + BP_E820_TABLE;

		n = *(const volatile uint8_t *)(bi + BP_E820_ENTRIES);
		for (int i = 0; i < n && i < max; i++) {
			out[i].addr = rd64(map + E820_ENTRY_SIZE * i);
			out[i].size = rd64(map + E820_ENTRY_SIZE * i + 8);
			out[i].type = rd32(map + E820_ENTRY_SIZE * i + 16);
		}
	}
	return n < max ? n : max;
}

/* ---- waiting ------------------------------------------------------------------------------ */
/* Asked of CPUID once: every CPUID is an exit, and a wait for each virtio request would
 * otherwise pay one or two of them (two where the VMM shows leaf 0x16, as kiln does and QEMU's
 * default CPU model does not: a benchmark would measure that, not the device). vCPUs racing to
 * fill it compute the same value. */
uint64_t guest_tsc_per_ms(void)
{
	static uint64_t per_ms;
	uint64_t f = 3000000; /* unknown: assume 3 GHz, so waits are at most as long as asked */
	uint32_t r[4];

	if (per_ms)
		return per_ms;
	guest_cpuid(0, 0, r);
	if (r[0] >= 0x16) {
		guest_cpuid(0x16, 0, r); /* base frequency in MHz */
		if (r[0])
			f = (uint64_t)r[0] * 1000;
	}
	per_ms = f;
	return f;
}

bool guest_wait_nonzero(const volatile uint32_t *flag, unsigned ms)
{
	uint64_t end = guest_rdtsc() + guest_tsc_per_ms() * ms;

	while (!*flag) {
		if (guest_rdtsc() > end)
			return false;
		guest_pause();
	}
	return true;
}

void guest_delay_ms(unsigned ms)
{
	uint64_t end = guest_rdtsc() + guest_tsc_per_ms() * ms;

	while (guest_rdtsc() < end)
		guest_pause();
}

/* ---- interrupt controllers ---------------------------------------------------------------- */
uint32_t lapic_enable(void)
{
	lapic_write(LAPIC_SVR, 0x100 | KIT_SPURIOUS_VECTOR);
	return lapic_read(LAPIC_ID) >> 24;
}

void ioapic_route(unsigned pin, uint8_t vector, uint8_t dest)
{
	mmio_write32(IOAPIC_GPA, 0x10 + 2 * pin + 1);
	mmio_write32(IOAPIC_GPA + 0x10, (uint32_t)dest << 24);
	mmio_write32(IOAPIC_GPA, 0x10 + 2 * pin);
	mmio_write32(IOAPIC_GPA + 0x10, vector);
}

void pic_mask_all(void)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

static volatile uint32_t cpuid_io[4];

static void cpuid_ring0(void)
{
	uint32_t r[4];

	guest_cpuid(cpuid_io[0], cpuid_io[2], r);
	for (int i = 0; i < 4; i++)
		cpuid_io[i] = r[i];
}

void guest_cpuid_vm(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	cpuid_io[0] = leaf;
	cpuid_io[2] = sub;
	guest_ring0_call(cpuid_ring0);
	for (int i = 0; i < 4; i++)
		r[i] = cpuid_io[i];
}

/* ---- start and traps ---------------------------------------------------------------------- */
/* CPL3 entry from entry.S: clear .bss (natively: CPL3 is fast), check the boot info, run. */
void guest_start(void);
void guest_start(void)
{
	memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
	if (guest_boot_proto == KIT_BOOT_PVH && rd32(guest_boot_info) != PVH_MAGIC)
		guest_fail("hvm_start_info at %#lx has magic %#x", guest_boot_info,
			   rd32(guest_boot_info));
	if (main() == 0)
		guest_pass();
	guest_fail("main() returned non-zero");
}

struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

void guest_trap(struct trap_frame *f);

/*
 * Ring 0, emulated: keep it short. A ud2 at guest_ring0_ud2 is a guest_ring0_call; anything
 * else is reported and ends the test.
 */
void guest_trap(struct trap_frame *f)
{
	if (f->vector == 6 && f->rip == (uint64_t)guest_ring0_ud2 && guest_ring0_fn) {
		guest_ring0_fn();
		f->rip += 2;
		return;
	}
	if (f->vector >= 32)
		guest_printf("guest interrupt %lu in ring 0 at %#lx\n", f->vector, f->rip);
	else
		guest_printf("guest exception %lu at %#lx (error %#lx)\n", f->vector, f->rip,
			     f->error);
	if (f->vector == 14) {
		uint64_t cr2;

		__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
		guest_printf("  page fault address %#lx\n", cr2);
	}
	guest_exit(GUEST_EXIT_EXCEPTION);
}
