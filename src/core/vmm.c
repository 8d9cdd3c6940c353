/* vmm.c — the process around the VM: signals, the terminal, serial console input, starting the
 * VM and restarting it after a guest reset. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/board.h"
#include "core/vcpu.h"
#include "core/vmm.h"
#include "migrate/migrate.h"
#include "seccomp/seccomp.h"
#include "state/snapshot.h"
#include "util/err.h"
#include "util/log.h"
#include "virtio/blk.h"
#include "virtio/net.h"
#include "util/file.h"

/* A serial port on stdio: the vmm feeds it stdin. */
static bool serial_on_stdio(const struct vm_config *c)
{
	return c->com1.mode == SERIAL_STDIO || c->com2.mode == SERIAL_STDIO;
}

/* Anything on stdio (a serial port, or the virtio console, which reads stdin itself). */
static bool uses_terminal(const struct vm_config *c)
{
	return serial_on_stdio(c) || c->vconsole.mode == VCONSOLE_STDIO;
}

/* Offer pending input to the console UART. stdin is watched only while nothing is pending, so
 * a guest that does not read its console holds input back instead of losing it. */
static void feed_pending(struct vmm *m)
{
	size_t took = board_console_input(m->vm, m->pending, m->pending_len);

	memmove(m->pending, m->pending + took, m->pending_len - took);
	m->pending_len -= took;
	if (m->stdin_watched &&
	    event_loop_mod(&m->loop, STDIN_FILENO, m->pending_len ? 0 : EPOLLIN) < 0)
		log_debug("stdin: epoll_ctl failed");
}

/* The console UART has room again. */
static void on_console_space(void *ctx, int fd, uint32_t events)
{
	struct vmm *m = ctx;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("console eventfd read: %s", strerror(errno));
	if (m->pending_len && m->vm)
		feed_pending(m);
}

static void on_stdin(void *ctx, int fd, uint32_t events)
{
	struct vmm *m = ctx;
	bool quit = false;
	ssize_t n;

	(void)events;
	if (m->pending_len || !m->vm)
		return; /* not watched while input is pending; a stale event */
	/* one byte spare: term_escape_filter may put back a held Ctrl-A */
	n = read(fd, m->pending, sizeof(m->pending) - 1);
	if (n <= 0) { /* EOF or error: stop reading, the VM keeps running */
		if (event_loop_del(&m->loop, fd) == 0)
			m->stdin_watched = false;
		return;
	}
	m->pending_len = term_escape_filter(&m->esc, m->pending, (size_t)n, &quit);
	if (quit) {
		m->pending_len = 0;
		vmm_request_stop(m);
		return;
	}
	feed_pending(m);
}

static void console_attach(struct vmm *m)
{
	int rx_fd = board_console_rx_fd(m->vm);

	m->pending_len = 0;
	if (!serial_on_stdio(&m->cfg) ||
	    event_loop_add(&m->loop, STDIN_FILENO, EPOLLIN, on_stdin, m) < 0)
		return;
	m->stdin_watched = true;
	if (rx_fd < 0 || event_loop_add(&m->loop, rx_fd, EPOLLIN, on_console_space, m) < 0)
		log_warn("console: input flow control unavailable");
}

static void console_detach(struct vmm *m)
{
	int rx_fd = m->vm ? board_console_rx_fd(m->vm) : -1;

	if (m->stdin_watched && event_loop_del(&m->loop, STDIN_FILENO) == 0)
		m->stdin_watched = false;
	if (rx_fd >= 0)
		event_loop_del(&m->loop, rx_fd);
}

static void vm_finish(struct vmm *m)
{
	migrate_shutdown(m); /* its thread uses the VM */
	if (m->on_vm_end)
		m->on_vm_end(m->on_vm_end_ctx);
	console_detach(m);
	event_loop_del(&m->loop, m->vm->stop_efd);
	vm_destroy(m->vm);
	m->vm = NULL;
}

/* The VM stopped: join its vCPUs; boot it again after a reset if asked to, else end the loop. */
static void on_vm_stop(void *ctx, int fd, uint32_t events)
{
	struct vmm *m = ctx;
	bool restart;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("stop eventfd read: %s", strerror(errno));
	m->exit_status = vm_join(m->vm);
	m->stop_reason = m->vm->stop_reason;
	if (m->stop_reason == VM_STOP_PANIC && !m->owner_reports_stop)
		log_err("the guest kernel panicked (pvpanic)");
	/* A reset restarts the VM unless the host asked to stop meanwhile (Ctrl-A x, a signal). */
	pthread_mutex_lock(&m->vm->lock);
	restart = m->vm->stop_reason == VM_STOP_RESET && m->cfg.on_reset == RESET_RESTART &&
		  !m->vm->host_stop;
	pthread_mutex_unlock(&m->vm->lock);
	vm_finish(m);
	if (restart) {
		log_info("guest reset: restarting");
		m->vm_started = false;
		if (vmm_start_vm(m, NULL) == 0)
			return;
		m->exit_status = KILN_EXIT_HOST;
	}
	event_loop_stop(&m->loop);
}

static void on_signal(void *ctx, int fd, uint32_t events)
{
	struct vmm *m = ctx;
	struct signalfd_siginfo si;

	(void)events;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("signal %u: stopping", si.ssi_signo);
	if (!m->stop_signal)
		m->stop_signal = (int)si.ssi_signo;
	if (m->vm)
		vmm_request_stop(m);
	else
		event_loop_stop(&m->loop);
}

static int signals_init(struct vmm *m)
{
	sigset_t set;

	/* A serial sink whose reader went away is a write error, not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	m->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (m->sig_fd < 0)
		return -errno;
	return event_loop_add(&m->loop, m->sig_fd, EPOLLIN, on_signal, m);
}

/* What a VM built by m uses of the process. */
static struct vm_env vm_env_of(struct vmm *m)
{
	return (struct vm_env){.kvm = &m->kvm,
			       .loop = &m->loop,
			       .mmds = &m->mmds,
			       .sync_teardown = m->sync_teardown || m->cfg.sync_teardown};
}

/* Lift the soft limit on open files to the hard one: a VM holds a descriptor per vsock
 * connection (up to 1023), per disk, TAP and eventfd, and the soft default of 1024 would refuse
 * connections well before the device's own limit. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_debug("setrlimit(RLIMIT_NOFILE): %s", strerror(errno));
	}
}

/* The defaults of a vmm whose bytes are all zero. */
static void defaults_zeroed(struct vmm *m)
{
	m->sig_fd = -1;
	m->loop.epfd = -1;
	m->kvm.fd = -1;
	config_defaults_zeroed(&m->cfg);
	mmds_init(&m->mmds, MMDS_DEFAULT_LIMIT);
}

struct vmm *vmm_new(void)
{
	struct vmm *m = calloc(1, sizeof(*m));

	if (m)
		defaults_zeroed(m);
	return m;
}

int vmm_init(struct vmm *m)
{
	memset(m, 0, sizeof(*m));
	defaults_zeroed(m);
	return vmm_open(m);
}

int vmm_open(struct vmm *m)
{
	int ret;

	raise_fd_limit();
	ret = event_loop_init(&m->loop);
	if (ret == 0)
		ret = signals_init(m);
	if (ret < 0) {
		log_err("event loop set-up: %s", strerror(-ret));
		return ret;
	}
	ret = vcpu_signals_init();
	if (ret == 0)
		ret = kvm_sys_open(&m->kvm);
	return ret;
}

static void terminal_raw(struct vmm *m)
{
	int ret;

	if (m->term_raw || !uses_terminal(&m->cfg))
		return;
	ret = term_raw_enable(STDIN_FILENO);
	if (ret == 0)
		m->term_raw = true;
	else if (ret != -ENOTTY)
		log_warn("console: cannot set raw mode: %s", strerror(-ret));
}

/* machine-config track_dirty_pages: the log runs from the start for Diff snapshots. */
static int track_dirty(struct vmm *m, struct kiln_err *err)
{
	int ret = m->cfg.track_dirty_pages ? guest_mem_log_start(&m->vm->mem) : 0;

	if (ret < 0)
		return err_set(err, ret, "dirty-page tracking: %s", strerror(-ret));
	return 0;
}

/* Ready the process's seccomp filters for the VM of m->cfg (once; src/seccomp). */
static int seccomp_ready(struct vmm *m, struct kiln_err *err)
{
	char why[256];
	int ret =
	    seccomp_prepare(m->cfg.on_reset == RESET_RESTART, m->cfg.nr_fs > 0, why, sizeof(why));

	return ret < 0 ? err_set(err, ret, "%s", why) : 0;
}

/* The VM's vCPU threads run under their filters: the VMM thread takes its own before it goes
 * back to the event loop, where it would first act on what the guest did. */
static int seccomp_vmm(struct kiln_err *err)
{
	int ret = seccomp_enter(SECCOMP_VMM, "vmm");

	return ret < 0 ? err_set(err, ret, "seccomp: the VMM thread's filter: %s", strerror(-ret))
		       : 0;
}

int vmm_start_vm(struct vmm *m, struct kiln_err *err)
{
	struct vm_env env = vm_env_of(m);
	int ret;

	if (m->vm || m->vm_started)
		return err_set(err, -EBUSY, "a VM exists or already ran");
	ret = seccomp_ready(m, err);
	if (ret < 0)
		return ret;
	terminal_raw(m);
	ret = vm_create(&m->cfg, &env, &m->vm, err);
	if (ret < 0) {
		m->vm = NULL;
		return ret;
	}
	m->vm_started = true;
	ret = event_loop_add(&m->loop, m->vm->stop_efd, EPOLLIN, on_vm_stop, m);
	if (ret == 0)
		ret = track_dirty(m, err);
	if (ret == 0) {
		console_attach(m);
		ret = vm_start(m->vm);
	}
	if (ret == 0)
		ret = seccomp_vmm(err);
	if (ret < 0) {
		vm_request_stop(m->vm, VM_STOP_HOST, KILN_EXIT_HOST);
		m->exit_status = vm_join(m->vm);
		vm_finish(m);
	}
	return ret;
}

/* Open the memory file and check it holds exactly the snapshot's RAM. fd or -errno (reported). */
static int open_mem_file(const char *path, uint64_t want, struct kiln_err *err)
{
	int fd = file_open(path, O_RDONLY, 0, FILE_REG);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = fd < 0 ? fd : -errno;
		int code = e == -ENOENT || e == -EACCES || e == -FILE_EKIND ? -EINVAL : e;

		err_set(err, code, "snapshot: memory file %s: %s", path, file_strerror(e));
		if (fd >= 0)
			close(fd);
		return code;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != want) {
		err_set(err, -EINVAL,
			"snapshot: memory file %s is %llu bytes, the snapshot needs %llu", path,
			(unsigned long long)st.st_size, (unsigned long long)want);
		close(fd);
		return -EINVAL;
	}
	return fd;
}

/* Build and load the VM of img into m->vm (state CREATED). */
static int restore_build(struct vmm *m, struct snapshot_image *img, int mem_fd,
			 struct kiln_err *err)
{
	struct vm_env env = vm_env_of(m);
	/* filters first: vm_create_restore starts the vCPU threads, which enter theirs at once */
	int ret = seccomp_ready(m, err);

	if (ret == 0)
		ret = vm_create_restore(&m->cfg, &env, mem_fd, &m->vm, err);
	if (ret < 0) {
		m->vm = NULL;
		return ret;
	}
	ret = snapshot_load_state(m->vm, img, err);
	if (ret < 0) {
		vm_destroy(m->vm);
		m->vm = NULL;
	}
	return ret;
}

/* Start the restored VM's vCPUs parked, then resume them if asked. */
static int restore_launch(struct vmm *m, bool resume, struct kiln_err *err)
{
	int ret;

	m->vm_started = true; /* the filters were readied before the VM was built */
	ret = event_loop_add(&m->loop, m->vm->stop_efd, EPOLLIN, on_vm_stop, m);
	if (ret == 0)
		ret = track_dirty(m, err);
	if (ret == 0) {
		console_attach(m);
		board_restored(m->vm);
		ret = vm_start_paused(m->vm);
	}
	if (ret == 0)
		ret = seccomp_vmm(err);
	if (ret == 0 && resume)
		ret = vm_resume(m->vm);
	if (ret < 0) {
		vm_request_stop(m->vm, VM_STOP_HOST, KILN_EXIT_HOST);
		m->exit_status = vm_join(m->vm);
		vm_finish(m);
	}
	return ret;
}

/* The snapshot's machine against what the restore asked for. 0 or -EINVAL (reported). */
static int restore_check(const struct vmm *m, const struct vmm_restore *r,
			 const struct snapshot_image *img, struct kiln_err *err)
{
	if ((r->expect_mem_bytes && r->expect_mem_bytes != img->cfg.mem_bytes) ||
	    (r->expect_vcpus && r->expect_vcpus != config_vcpus(&img->cfg)))
		return err_set(
		    err, -EINVAL,
		    "snapshot: the snapshot has %llu MiB and %u vCPUs, not what was asked",
		    (unsigned long long)(img->cfg.mem_bytes >> 20), config_vcpus(&img->cfg));
	if (r->check_config && snapshot_config_check(&m->cfg, &img->cfg, err) < 0)
		return -EINVAL;
	return 0;
}

int vmm_restore_vm(struct vmm *m, const struct vmm_restore *r, struct kiln_err *err)
{
	struct vm_config saved = m->cfg;
	struct snapshot_image img;
	int ret, fd;

	if (m->vm || m->vm_started)
		return err_set(err, -EBUSY, "a VM exists or already ran");
	ret = snapshot_read(r->snapshot_path, &img, err);
	if (ret < 0)
		return ret == -ENOENT || ret == -EACCES ? -EINVAL : ret;
	if (restore_check(m, r, &img, err) < 0) {
		snapshot_image_free(&img);
		return -EINVAL;
	}
	fd = open_mem_file(r->mem_path, img.mem_bytes, err);
	if (fd < 0) {
		snapshot_image_free(&img);
		return fd;
	}
	m->cfg = img.cfg;
	m->cfg.verbosity = saved.verbosity;
	m->cfg.track_dirty_pages = r->track_dirty;
	terminal_raw(m);
	ret = restore_build(m, &img, fd, err);
	close(fd); /* the mappings keep the file */
	snapshot_image_free(&img);
	if (ret == 0)
		ret = restore_launch(m, r->resume, err);
	if (ret < 0 && !m->vm_started)
		m->cfg = saved;
	return ret;
}

int vmm_snapshot(struct vmm *m, const char *snap_path, const char *mem_path, bool diff,
		 struct kiln_err *err)
{
	int ret;

	if (!m->vm || vm_get_state(m->vm) != VM_PAUSED)
		return err_set(err, -EBUSY, "snapshot: the VM must be paused");
	if (m->vm->cfg->nr_fs)
		return err_set(err, -EINVAL,
			       "snapshot: not supported with a virtio-fs device (its vhost-user "
			       "backend's state cannot be saved)");
	if (m->vm->cfg->nr_vfio)
		return err_set(
		    err, -EINVAL,
		    "snapshot: not supported with a passthrough device (kiln_vfio %s: the "
		    "device's own state cannot be saved)",
		    m->vm->cfg->vfio[0].id);
	if (diff && m->dirty_log_used)
		return err_set(err, -EINVAL,
			       "snapshot: a migration used the dirty log since the last snapshot: "
			       "take a Full snapshot first");
	ret = snapshot_create(m->vm, snap_path, mem_path, diff, err);
	if (ret == 0)
		m->dirty_log_used = false;
	return ret;
}

int vmm_incoming_create(struct vmm *m, const struct vm_config *cfg, struct kiln_err *err)
{
	struct vm_env env = vm_env_of(m);
	int fd, ret, verbosity = m->cfg.verbosity;

	if (m->vm || m->vm_started)
		return err_set(err, -EBUSY, "a VM exists or already ran");
	fd = memfd_create("kiln-incoming-ram", MFD_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "guest RAM: memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)cfg->mem_bytes) < 0) {
		ret = err_set(err, -errno, "guest RAM: %llu bytes: %s",
			      (unsigned long long)cfg->mem_bytes, strerror(errno));
		close(fd);
		return ret;
	}
	m->cfg = *cfg;
	m->cfg.verbosity = verbosity;
	ret = seccomp_ready(m, err); /* before the vCPU threads start (vm_create_restore) */
	if (ret == 0)
		ret = vm_create_restore(&m->cfg, &env, fd, &m->vm, err);
	close(fd); /* the mappings keep it */
	if (ret < 0) {
		m->vm = NULL;
		config_defaults(&m->cfg);
	}
	return ret;
}

int vmm_incoming_load(struct vmm *m, struct state_buf *body, struct kiln_err *err)
{
	struct snapshot_image img = {.body = *body};

	if (!m->vm)
		return err_set(err, -EINVAL, "no incoming VM");
	return snapshot_load_state(m->vm, &img, err);
}

int vmm_incoming_launch(struct vmm *m)
{
	if (!m->vm)
		return -EINVAL;
	terminal_raw(m);
	return restore_launch(m, false, NULL);
}

void vmm_incoming_discard(struct vmm *m)
{
	if (!m->vm || m->vm_started)
		return;
	vm_destroy(m->vm);
	m->vm = NULL;
	config_defaults(&m->cfg);
}

void vmm_request_stop(struct vmm *m)
{
	if (m->vm)
		vm_request_stop(m->vm, VM_STOP_HOST, KILN_EXIT_OK);
}

int vmm_run(struct vmm *m)
{
	if (event_loop_run(&m->loop) < 0 && m->vm) {
		vm_request_stop(m->vm, VM_STOP_HOST, KILN_EXIT_HOST);
		m->exit_status = vm_join(m->vm);
		vm_finish(m);
	}
	return m->exit_status;
}

void vmm_destroy(struct vmm *m)
{
	if (m->vm) {
		vm_request_stop(m->vm, VM_STOP_HOST, KILN_EXIT_OK);
		vm_join(m->vm);
		vm_finish(m);
	}
	if (m->term_raw)
		term_restore();
	if (m->sig_fd >= 0)
		close(m->sig_fd);
	event_loop_destroy(&m->loop);
	mmds_destroy(&m->mmds);
	if (m->kvm.fd >= 0)
		kvm_sys_close(&m->kvm);
}

int vmm_net_update(struct vmm *m, const char *iface_id, const struct rate_limit_config *rx,
		   const struct rate_limit_config *tx, struct kiln_err *err)
{
	int i = config_net_find(&m->cfg, iface_id), ret;
	struct virtio_net *n;

	if (!m->vm)
		return err_set(err, -EBUSY, "network-interfaces/%s: no microVM is running",
			       iface_id);
	if (i < 0)
		return err_set(err, -EINVAL, "network-interfaces/%s: no such interface", iface_id);
	n = virtio_net_find(m->vm, (unsigned)i);
	if (!n)
		return err_set(err, -EINVAL,
			       "network-interfaces/%s: no virtio-net device behind it", iface_id);
	ret = virtio_net_set_rate_limits(n, rx, tx);
	if (ret < 0)
		return err_set(err, ret, "network-interfaces/%s: rate limiter: %s", iface_id,
			       strerror(-ret));
	if (rx)
		m->cfg.nets[i].rx_rate = *rx;
	if (tx)
		m->cfg.nets[i].tx_rate = *tx;
	return 0;
}

int vmm_drive_update(struct vmm *m, const char *drive_id, const char *path,
		     const struct rate_limit_config *rate, struct kiln_err *err)
{
	int i = config_disk_find(&m->cfg, drive_id);
	struct blk *b;
	int ret;

	if (!m->vm)
		return err_set(err, -EBUSY, "drives/%s: no microVM is running", drive_id);
	if (i < 0)
		return err_set(err, -EINVAL, "drives/%s: no such drive", drive_id);
	b = blk_find(m->vm, (unsigned)i);
	if (!b)
		return err_set(err, -EINVAL, "drives/%s: no virtio-blk device behind it", drive_id);
	ret = path ? blk_replace_backing(b, path, VMM_DRIVE_SWAP_MS, err) : 0;
	if (ret == 0 && path &&
	    config_copy_str(m->cfg.disks[i].path, sizeof(m->cfg.disks[i].path), path) < 0)
		ret = err_set(err, -ENAMETOOLONG, "drives/%s: path too long", drive_id);
	if (ret == 0 && rate) {
		ret = blk_set_rate_limit(b, rate);
		if (ret < 0)
			return err_set(err, ret, "drives/%s: rate limiter: %s", drive_id,
				       strerror(-ret));
		m->cfg.disks[i].rate = *rate;
	}
	return ret;
}
