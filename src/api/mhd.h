/* mhd.h — libmicrohttpd, loaded with dlopen when the API starts: the library links GnuTLS and
 * half a dozen others whose loading and constructors cost every kiln process ~5 ms and ~3 MiB
 * (measured with bench/measure), so only processes that serve the API pay for them. */
#ifndef KILN_API_MHD_H
#define KILN_API_MHD_H

#include <microhttpd.h>

#include "util/compiler.h"

/* The library's name as kiln opens it (the jailer copies it into the jail with its own). */
#define MHD_SONAME "libmicrohttpd.so.12"

/* The libmicrohttpd functions kiln uses, with their own types. */
struct mhd_api {
	__typeof__(&MHD_start_daemon) start_daemon;
	__typeof__(&MHD_stop_daemon) stop_daemon;
	__typeof__(&MHD_run) run;
	__typeof__(&MHD_get_timeout) get_timeout;
	__typeof__(&MHD_get_daemon_info) get_daemon_info;
	__typeof__(&MHD_get_connection_info) get_connection_info;
	__typeof__(&MHD_lookup_connection_value) lookup_connection_value;
	__typeof__(&MHD_create_response_from_buffer) create_response_from_buffer;
	__typeof__(&MHD_add_response_header) add_response_header;
	__typeof__(&MHD_queue_response) queue_response;
	__typeof__(&MHD_destroy_response) destroy_response;
};

/* Load the library once (later calls return the same table). Returns NULL with one line logged
 * ("api: cannot load libmicrohttpd: ...") if it or a symbol is missing. */
const struct mhd_api *mhd_load(void);

#endif
