/* board_util.c — board assembly helpers shared by the architectures (see board_util.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/board_util.h"
#include "core/vm.h"
#include "devices/uart16550.h"
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

void board_console_rx_space(void *ctx)
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

int board_uart_create(struct vm *vm, const struct board_uart *u, struct uart16550 **out)
{
	struct uart16550_config uc = {.name = u->label, .irq = u->irq};
	struct uart16550 *d;
	int ret;

	uc.out_fd = board_serial_sink(u->sc, u->opened, vm->err);
	if (u->sc->mode == SERIAL_FILE && uc.out_fd < 0)
		return -EIO;
	if (u->sc->mode == SERIAL_STDIO) {
		*u->console_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (*u->console_efd < 0)
			return -errno;
		uc.rx_space = board_console_rx_space;
		uc.rx_ctx = u->console_efd;
	}
	ret = uart16550_create(&uc, &d);
	if (ret < 0)
		return ret;
	ret = device_list_add_ops(&vm->devices, &uart16550_device_ops, d, u->name, u->section,
				  UART16550_STATE_VERSION, UART16550_STATE_MIN_VERSION);
	if (ret < 0) {
		uart16550_destroy(d);
		return ret;
	}
	*out = d;
	return 0;
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
