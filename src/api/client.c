/* client.c — HTTP/1.1 over the API's Unix socket with plain sockets: send one request, read the
 * response until the server closes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/client.h"
#include "util/io.h"
#include "util/unix_sock.h"

#define CLIENT_MAX_RESP (1 << 20)

/* Read until the server closes (Connection: close): 0, -ETIMEDOUT, -EMSGSIZE (more than
 * CLIENT_MAX_RESP bytes), -ENOMEM or another -errno. */
static int recv_all(int fd, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);

	while (buf) {
		ssize_t r = recv(fd, buf + n, cap - n, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = errno == EAGAIN ? -ETIMEDOUT : -errno;

			free(buf);
			return err;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			char *nb;

			if (cap >= CLIENT_MAX_RESP) { /* no API answer is that long: not a kiln */
				free(buf);
				return -EMSGSIZE;
			}
			nb = realloc(buf, cap * 2 + 1);
			if (!nb)
				break; /* reported as -ENOMEM below */
			buf = nb;
			cap *= 2;
		}
	}
	if (!buf)
		return -ENOMEM;
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}

static int parse_response(char *raw, struct api_client_response *out)
{
	char *body = strstr(raw, "\r\n\r\n");
	int status;

	if (sscanf(raw, "HTTP/1.%*d %d", &status) != 1 || !body)
		return -EPROTO;
	out->status = status;
	out->body = strdup(body + 4);
	return out->body ? 0 : -ENOMEM;
}

int api_client_request(const char *sock, const char *method, const char *path, const char *body,
		       struct api_client_response *out)
{
	size_t blen = body ? strlen(body) : 0, rlen;
	char head[512], *raw = NULL;
	int fd = unix_connect(sock, 0, API_CLIENT_TIMEOUT_S), ret, n;

	if (fd < 0)
		return fd;
	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n",
		     method, path, blen);
	ret = n < (int)sizeof(head) ? io_write_all(fd, head, (size_t)n) : -ENAMETOOLONG;
	if (ret == 0 && blen)
		ret = io_write_all(fd, body, blen);
	if (ret == 0)
		ret = recv_all(fd, &raw, &rlen);
	close(fd);
	if (ret == 0)
		ret = parse_response(raw, out);
	free(raw);
	return ret;
}
