/* file.c — open a user-named path without blocking, and only if it is a kind of file the caller
 * accepts (file.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file.h"
#include "util/io.h"

static bool kind_ok(mode_t m, unsigned kinds)
{
	return ((kinds & FILE_REG) && S_ISREG(m)) || ((kinds & FILE_BLK) && S_ISBLK(m)) ||
	       ((kinds & FILE_CHR) && S_ISCHR(m));
}

int file_open(const char *path, int flags, mode_t mode, unsigned kinds)
{
	int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, mode), err;
	struct stat st;

	if (fd < 0) {
		err = errno;
		/* a FIFO opened for writing without a reader: ENXIO, which says nothing useful */
		if (err == ENXIO && stat(path, &st) == 0 && S_ISFIFO(st.st_mode))
			return -FILE_EKIND;
		return -err;
	}
	if (fstat(fd, &st) < 0 || !kind_ok(st.st_mode, kinds)) {
		err = errno;
		close(fd);
		return kind_ok(st.st_mode, kinds) ? -err : -FILE_EKIND;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

const char *file_strerror(int err)
{
	if (err == -FILE_EKIND)
		return "not a regular file (a FIFO, socket, directory or device)";
	return strerror(-err);
}

int file_read_all(const char *path, size_t max, char **out, size_t *len)
{
	int fd = file_open(path, O_RDONLY, 0, FILE_REG), ret;
	struct stat st;
	char *buf;

	if (fd < 0)
		return fd;
	ret = fstat(fd, &st) < 0 ? -errno : (uint64_t)st.st_size > max ? -EFBIG : 0;
	if (ret < 0) {
		close(fd);
		return ret;
	}
	buf = malloc((size_t)st.st_size + 1);
	ret = buf ? io_read_all(fd, buf, (size_t)st.st_size) : -ENOMEM;
	close(fd);
	if (ret < 0) {
		free(buf);
		return ret;
	}
	buf[st.st_size] = 0;
	*out = buf;
	*len = (size_t)st.st_size;
	return 0;
}
