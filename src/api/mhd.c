/* mhd.c — resolve libmicrohttpd at run time (see mhd.h for why). */
#include <dlfcn.h>
#include <stddef.h>

#include "api/mhd.h"
#include "util/log.h"

/* Debian 12's libmicrohttpd12; the unversioned name as a fallback for other installs. */
static const char *const sonames[] = {MHD_SONAME, "libmicrohttpd.so"};

static struct mhd_api api;
static int loaded; /* 0 not tried, 1 ok, -1 failed */

static void *open_lib(void)
{
	for (size_t i = 0; i < sizeof(sonames) / sizeof(sonames[0]); i++) {
		void *h = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);

		if (h)
			return h;
	}
	return NULL;
}

#define RESOLVE(h, field, sym)                                                                     \
	do {                                                                                       \
		*(void **)&api.field = dlsym(h, #sym);                                             \
		if (!api.field) {                                                                  \
			log_err("api: cannot load libmicrohttpd: symbol %s missing", #sym);        \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

static int resolve(void *h)
{
	RESOLVE(h, start_daemon, MHD_start_daemon);
	RESOLVE(h, stop_daemon, MHD_stop_daemon);
	RESOLVE(h, run, MHD_run);
	RESOLVE(h, get_timeout, MHD_get_timeout);
	RESOLVE(h, get_daemon_info, MHD_get_daemon_info);
	RESOLVE(h, get_connection_info, MHD_get_connection_info);
	RESOLVE(h, lookup_connection_value, MHD_lookup_connection_value);
	RESOLVE(h, create_response_from_buffer, MHD_create_response_from_buffer);
	RESOLVE(h, add_response_header, MHD_add_response_header);
	RESOLVE(h, queue_response, MHD_queue_response);
	RESOLVE(h, destroy_response, MHD_destroy_response);
	return 1;
}

const struct mhd_api *mhd_load(void)
{
	void *h;

	if (loaded)
		return loaded > 0 ? &api : NULL;
	h = open_lib();
	if (!h) {
		log_err("api: cannot load libmicrohttpd: %s", dlerror());
		loaded = -1;
		return NULL;
	}
	loaded = resolve(h);
	return loaded > 0 ? &api : NULL;
}
