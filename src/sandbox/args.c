/* args.c — `kiln sandbox` flags: its own are parsed here, the VM's are handed to kiln run's
 * parser so that they mean and are worded exactly the same. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/args.h"

enum { OPT_KERNEL = 256, OPT_CPUS, OPT_TOPOLOGY, OPT_MEMORY, OPT_DISK, OPT_TIMEOUT, OPT_CMDLINE };

static const struct option opts[] = {
    {"kernel", required_argument, NULL, OPT_KERNEL},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"topology", required_argument, NULL, OPT_TOPOLOGY},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"disk", required_argument, NULL, OPT_DISK},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"cmdline", required_argument, NULL, OPT_CMDLINE},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Flags handed to config_parse_run: at most every option given, twice each, plus a few. */
struct forward {
	char *argv[2 * 64 + 8];
	int argc;
	bool overflow;
};

void sandbox_usage(FILE *out)
{
	fputs("usage: kiln sandbox --kernel PATH [options] [--] CMD [ARGS...]\n"
	      "Boot the kernel, run CMD inside the VM and exit with CMD's status. CMD (looked up\n"
	      "in PATH), its #! interpreter and the shared libraries they need are copied into an\n"
	      "initramfs at their host paths. CMD's stdout is kiln's stdout (virtio-console), its\n"
	      "stderr and the kernel's console are kiln's stderr (COM1); stdin is /dev/null.\n"
	      "  --kernel PATH          the guest kernel (bzImage or vmlinux); required\n"
	      "  --cpus N               N vCPUs (default 1)\n"
	      "  --topology S:C:T       sockets:cores:threads per core\n"
	      "  --memory SIZE          guest RAM, e.g. 512M, 2G (default 256M)\n"
	      "  --disk PATH[,ro][,id=NAME]  a virtio-blk disk (/dev/vda, vdb, ...; repeatable)\n"
	      "  --timeout S            stop the VM after S seconds (default: no limit)\n"
	      "  --cmdline EXTRA        appended to the kernel command line\n"
	      "                         \"" SANDBOX_BASE_CMDLINE "\"\n"
	      "                         (e.g. loglevel=7 to see the kernel's log)\n"
	      "  -v, --verbose          more of kiln's log (repeat for debug)\n"
	      "  -h, --help             this text\n"
	      "exit status: CMD's; 128+N if CMD was killed by signal N; 121 the VM stopped while\n"
	      "CMD ran, without its status; 122 the guest never started CMD; 123 the guest kernel\n"
	      "panicked while CMD ran; 124 --timeout expired while CMD ran; 125 kiln failed (bad\n"
	      "flags, kernel, unreadable CMD or library, host or KVM error); 126 CMD cannot be\n"
	      "executed; 127 CMD not found.\n",
	      out);
}

static int fail(char *err, size_t errlen, const char *fmt, ...) PRINTF(3, 4);

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void forward(struct forward *f, const char *flag, char *value)
{
	if (f->argc + 2 >= (int)(sizeof(f->argv) / sizeof(f->argv[0]))) {
		f->overflow = true;
		return;
	}
	f->argv[f->argc++] = (char *)flag;
	if (value)
		f->argv[f->argc++] = value;
}

static int parse_timeout(struct sandbox_args *a, const char *v, char *err, size_t errlen)
{
	char *end;
	double t;

	errno = 0;
	t = strtod(v, &end);
	if (*v < '0' || *v > '9' || v[strspn(v, "0123456789.")] || *end || errno || !isfinite(t) ||
	    t > SANDBOX_TIMEOUT_MAX)
		return fail(err, errlen, "--timeout: '%s' is not a number of seconds 0-%.0f", v,
			    SANDBOX_TIMEOUT_MAX);
	a->timeout_s = t;
	a->timeout_text = v;
	return 0;
}

/* The VM's flags, as config_parse_run spells them (indexed by opt - OPT_KERNEL). */
static const char *const vm_flags[] = {"--kernel", "--cpus", "--topology", "--memory", "--disk"};

/* Our own options; the VM's go to f. extra: --cmdline's value. */
static int parse_opts(struct sandbox_args *a, struct forward *f, const char **extra, int argc,
		      char **argv, char *err, size_t errlen)
{
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:vh", opts, NULL)) != -1) {
		if (opt == 'h') {
			sandbox_usage(stdout);
			return 1;
		}
		if (opt == '?')
			return fail(err, errlen, "unknown option '%s' (see kiln sandbox --help)",
				    argv[optind - 1]);
		if (opt == ':')
			return fail(err, errlen, "option '%s' needs a value", argv[optind - 1]);
		if (opt == OPT_TIMEOUT && parse_timeout(a, optarg, err, errlen) < 0)
			return -EINVAL;
		if (opt == OPT_CMDLINE)
			*extra = optarg;
		if (opt == 'v')
			forward(f, "-v", NULL);
		if (opt >= OPT_KERNEL && opt <= OPT_DISK)
			forward(f, vm_flags[opt - OPT_KERNEL], optarg);
	}
	return 0;
}

/* The base command line, then EXTRA. */
static int set_cmdline(struct sandbox_args *a, const char *extra, char *err, size_t errlen)
{
	int n = snprintf(a->vm.cmdline, sizeof(a->vm.cmdline), "%s%s%s", SANDBOX_BASE_CMDLINE,
			 extra && *extra ? " " : "", extra ? extra : "");

	if (n < 0 || (size_t)n >= sizeof(a->vm.cmdline))
		return fail(err, errlen, "--cmdline: with \"%s\" longer than %d bytes",
			    SANDBOX_BASE_CMDLINE, CONFIG_CMDLINE_MAX - 1);
	return 0;
}

/* Hand the VM's flags to kiln run's parser and check what sandbox does not allow. */
static int parse_vm(struct sandbox_args *a, struct forward *f, char *err, size_t errlen)
{
	int ret;

	if (f->overflow)
		return fail(err, errlen, "too many options");
	f->argv[f->argc] = NULL;
	ret = config_parse_run(&a->vm, f->argc, f->argv, err, errlen);
	if (ret != 0)
		return ret < 0 ? ret : fail(err, errlen, "internal: --help forwarded");
	if (!a->vm.kernel_path[0])
		return fail(err, errlen, "--kernel PATH is required (see kiln sandbox --help)");
	for (unsigned i = 0; i < a->vm.nr_disks; i++)
		if (a->vm.disks[i].is_root)
			return fail(err, errlen,
				    "--disk: 'root' does not apply (the initramfs is the root)");
	return 0;
}

int sandbox_args_parse(struct sandbox_args *a, int argc, char **argv, char *err, size_t errlen)
{
	struct forward f = {.argv = {"sandbox"}, .argc = 1};
	const char *extra = NULL;
	int ret;

	memset(a, 0, sizeof(*a));
	config_defaults(&a->vm);
	ret = parse_opts(a, &f, &extra, argc, argv, err, errlen);
	if (ret != 0)
		return ret;
	a->cmd = argv + optind;
	ret = parse_vm(a, &f, err, errlen);
	if (ret == 0)
		ret = set_cmdline(a, extra, err, errlen);
	if (ret == 0 && !a->cmd[0])
		ret = fail(
		    err, errlen,
		    "no command given (kiln sandbox --kernel PATH [options] -- CMD [ARGS...])");
	return ret;
}
