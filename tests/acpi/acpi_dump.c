/* acpi_dump.c — write kiln's ACPI tables for a configuration into files, one per table, for
 * iasl: acpi_dump DIR SOCKETS:CORES:THREADS NR_VIRTIO. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/acpi.h"
#include "arch/x86/layout.h"

static const uint32_t gsis[LAYOUT_VIRTIO_SLOTS] = LAYOUT_VIRTIO_GSIS;

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Write len bytes of guest memory at gpa to DIR/name; 0 or -1 (message printed). */
static int dump(const struct guest_mem *m, const char *dir, const char *name, uint64_t gpa,
		uint64_t len)
{
	const uint8_t *p = guest_mem_ptr(m, gpa, len);
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!p || !f || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "acpi_dump: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

/* The table at gpa, written under its lower-case signature. */
static int dump_table(const struct guest_mem *m, const char *dir, uint64_t gpa)
{
	const uint8_t *h = guest_mem_ptr(m, gpa, 36);
	char name[16];

	if (!h)
		return -1;
	snprintf(name, sizeof(name), "%c%c%c%c.dat", h[0] | 0x20, h[1] | 0x20, h[2] | 0x20,
		 h[3] | 0x20);
	return dump(m, dir, name, gpa, le32(h + 4));
}

/* Follow RSDP -> XSDT -> each table (and FADT -> DSDT), dumping all of them. */
static int dump_all(const struct guest_mem *m, const char *dir, uint64_t rsdp)
{
	const uint8_t *r = guest_mem_ptr(m, rsdp, 36), *x, *t;
	uint64_t xsdt;
	int ret;

	if (!r)
		return -1;
	xsdt = le64(r + 24);
	x = guest_mem_ptr(m, xsdt, 36);
	ret = dump(m, dir, "rsdp.dat", rsdp, 36) | (x ? dump_table(m, dir, xsdt) : -1);
	for (uint32_t off = 36; ret == 0 && x && off < le32(x + 4); off += 8) {
		uint64_t gpa = le64(x + off);

		ret = dump_table(m, dir, gpa);
		t = guest_mem_ptr(m, gpa, 148);
		if (ret == 0 && t && memcmp(t, "FACP", 4) == 0)
			ret = dump_table(m, dir, le64(t + 140));
	}
	return ret;
}

int main(int argc, char **argv)
{
	struct x86_topology t;
	struct virtio_slot v[LAYOUT_VIRTIO_SLOTS];
	struct acpi_config cfg = {.topo = &t,
				  .virtio = v,
				  .com = {true, true},
				  .rtc = true,
				  .kbd = true,
				  .pvpanic_port = LAYOUT_PVPANIC_PORT};
	struct guest_mem m;
	uint64_t rsdp = 0;
	int ret;

	if (argc < 4 || argc > 5 ||
	    sscanf(argv[2], "%u:%u:%u", &t.sockets, &t.cores, &t.threads) != 3 ||
	    sscanf(argv[3], "%u", &cfg.nr_virtio) != 1 || cfg.nr_virtio > LAYOUT_VIRTIO_SLOTS ||
	    (argc == 5 && strcmp(argv[4], "pci") != 0)) {
		fprintf(stderr,
			"usage: acpi_dump DIR SOCKETS:CORES:THREADS NR_VIRTIO (0-%d) [pci]\n",
			LAYOUT_VIRTIO_SLOTS);
		return 2;
	}
	if (argc == 5) { /* the host bridge of --virtio-transport pci */
		cfg.pci_mem_base = (uint32_t)LAYOUT_PCI_MEM32_GPA;
		cfg.pci_mem_len = (uint32_t)LAYOUT_PCI_MEM32_SIZE;
		cfg.pci_ecam_base = (uint32_t)LAYOUT_PCI_ECAM_GPA;
		for (unsigned i = 0; i < 4; i++)
			cfg.pci_intx_gsi[i] = 20 + i;
	}
	for (unsigned i = 0; i < cfg.nr_virtio; i++)
		v[i] = (struct virtio_slot){.base = LAYOUT_VIRTIO_MMIO_GPA +
						    i * LAYOUT_VIRTIO_SLOT_SIZE,
					    .size = VIRTIO_SLOT_WINDOW,
					    .gsi = gsis[i]};
	guest_mem_init(&m, -1);
	ret = guest_mem_add(&m, 0, MiB(2), GUEST_MEM_RAM);
	if (ret == 0)
		ret = acpi_write(&m, &cfg, &rsdp);
	if (ret < 0) {
		fprintf(stderr, "acpi_dump: %s\n", strerror(-ret));
		return 1;
	}
	ret = dump_all(&m, argv[1], rsdp);
	guest_mem_destroy(&m);
	return ret ? 1 : 0;
}
