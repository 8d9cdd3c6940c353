/* board_util.c — board assembly helpers shared by the architectures (see board_util.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/board_util.h"
#include "core/vm.h"
#include "devices/uart16550.h"
#include "virtio/slots.h"
#include "virtio/virtio_pci.h"
#include "util/file.h"
#include "util/log.h"

int board_serial_sink(const struct serial_config *sc, int *opened, struct kiln_err *err)
{
	*opened = -1;
	switch (sc->mode) {
	case SERIAL_STDIO:
		return STDOUT_FILENO;
	case SERIAL_NONE:
		return -1;
	case SERIAL_FD:
		return sc->fd;
	case SERIAL_FILE:
		*opened =
		    file_open(sc->path, O_WRONLY | O_CREAT | O_TRUNC, 0644, FILE_REG | FILE_CHR);
		if (*opened < 0)
			err_set(err, *opened, "serial file %s: %s", sc->path,
				file_strerror(*opened));
		return *opened;
	}
	return -1;
}

/* A UART's rx_space callback: ctx points at the console eventfd (an int), signalled so the main
 * loop feeds stdin to the port again. */
static void console_rx_space(void *ctx)
{
	int efd = *(int *)ctx;
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) < 0)
		log_debug("console eventfd: %s", strerror(errno));
}

uint8_t *board_map_file(const char *what, const char *path, size_t *len, struct kiln_err *err)
{
	struct stat st;
	void *p;
	int fd = file_open(path, O_RDONLY, 0, FILE_REG);

	if (fd < 0) {
		err_set(err, fd, "%s %s: %s", what, path, file_strerror(fd));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || st.st_size == 0) {
		err_set(err, -EINVAL, "%s %s: not a non-empty regular file", what, path);
		close(fd);
		return NULL;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		err_set(err, -errno, "%s %s: mmap: %s", what, path, strerror(errno));
		return NULL;
	}
	*len = (size_t)st.st_size;
	return p;
}

void board_uarts_init(struct board_uarts *u)
{
	*u = (struct board_uarts){.fd = {-1, -1}, .console_rx_efd = -1};
}

int board_uart_add(struct vm *vm, struct board_uarts *u, unsigned i,
		   const struct board_uart_place *p)
{
	const struct serial_config *sc = i == 0 ? &vm->cfg->com1 : &vm->cfg->com2;
	struct uart16550_config uc = {.name = p->label, .irq = p->irq};
	struct uart16550 *d;
	int ret;

	uc.out_fd = board_serial_sink(sc, &u->fd[i], vm->err);
	if (sc->mode == SERIAL_FILE && uc.out_fd < 0)
		return -EIO;
	if (sc->mode == SERIAL_STDIO) {
		u->console_rx_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (u->console_rx_efd < 0)
			return -errno;
		uc.rx_space = console_rx_space;
		uc.rx_ctx = &u->console_rx_efd;
	}
	ret = uart16550_create(&uc, &d);
	if (ret < 0)
		return ret;
	ret = device_list_add_ops(&vm->devices, &uart16550_device_ops, d, i ? "com2" : "com1",
				  i ? "uart.com2" : "uart.com1", UART16550_STATE_VERSION,
				  UART16550_STATE_MIN_VERSION);
	if (ret < 0) {
		uart16550_destroy(d);
		return ret;
	}
	u->uart[i] = d;
	if (sc->mode == SERIAL_STDIO)
		u->console = d;
	return io_bus_register(p->bus, p->base, UART16550_PORTS, &uart16550_io_ops, d);
}

size_t board_uarts_input(struct board_uarts *u, const uint8_t *buf, size_t len)
{
	return u->console ? uart16550_receive(u->console, buf, len) : len;
}

void board_uarts_close(struct board_uarts *u)
{
	for (int i = 0; i < 2; i++)
		if (u->fd[i] >= 0)
			close(u->fd[i]);
	if (u->console_rx_efd >= 0)
		close(u->console_rx_efd);
	board_uarts_init(u);
}

int board_ram_check(struct vm *vm)
{
	const struct vm_config *c = vm->cfg;
	uint64_t need, nfree, psize;

	if (!c->hugepages || vm->restore_mem_fd >= 0 ||
	    guest_mem_hugepages_check(c->mem_bytes, &need, &nfree, &psize) == 0)
		return 0;
	return err_set(vm->err, -ENOMEM,
		       "--hugepages: need %llu free %llu KiB huge pages, the pool has %llu "
		       "(see /proc/sys/vm/nr_hugepages)",
		       (unsigned long long)need, (unsigned long long)(psize >> 10),
		       (unsigned long long)nfree);
}

int board_ram_add(struct vm *vm, uint64_t gpa, uint64_t len, uint64_t file_off)
{
	const struct vm_config *c = vm->cfg;
	unsigned flags = GUEST_MEM_RAM | (c->hugepages ? GUEST_MEM_HUGEPAGES : 0) |
			 (c->thp ? GUEST_MEM_THP : 0) |
			 (c->nr_fs ? GUEST_MEM_SHARED : 0); /* vhost-user backends map it */
	int ret;

	if (vm->restore_mem_fd >= 0)
		ret = guest_mem_add_file(&vm->mem, gpa, len, vm->restore_mem_fd, file_off, flags);
	else
		ret = guest_mem_add(&vm->mem, gpa, len, flags);
	if (ret < 0)
		err_set(vm->err, ret, "guest memory (%llu MiB): %s",
			(unsigned long long)(c->mem_bytes >> 20), strerror(-ret));
	return ret;
}

int board_virtio_place(struct vm *vm, struct virtio_slots *slots, struct pci_bus *bus,
		       struct irq_routes *routes, unsigned *nr_pci, struct virtio_dev *vd,
		       const char *name)
{
	struct virtio_pci_config pc = {
	    .bus = bus, .vm_fd = vm->fd, .routes = routes, .loop = vm->loop};
	int ret;

	if (config_virtio_transport_of(vm->cfg, name) != VIRTIO_TRANSPORT_PCI)
		return virtio_slots_add(slots, vm, vd, name);
	ret = virtio_pci_attach(vm, &pc, *nr_pci, vd, name);
	if (ret == 0)
		(*nr_pci)++;
	return ret;
}

int board_pci_bus_new(struct pci_bus **out, const uint64_t *base, const uint64_t *len)
{
	struct pci_bus *b = calloc(1, sizeof(*b));
	int ret = b ? pci_bus_init(b, base, len) : -ENOMEM;

	if (ret < 0) {
		free(b);
		b = NULL;
	}
	*out = b;
	return ret;
}
