/* test_config.c — the `kiln run` flag parser: values, combinations and one-line errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "config/config.h"
#include "core/vm.h"

#define PARSE(c, err, ...)                                                                         \
	({                                                                                         \
		char *argv_[] = {"run", __VA_ARGS__, NULL};                                        \
		config_defaults(c);                                                                \
		config_parse_run(c, (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, err,       \
				 sizeof(err));                                                     \
	})

static void test_defaults(void **state)
{
	struct vm_config c;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&c, err, "-v"), 0);
	assert_int_equal(config_vcpus(&c), 1);
	assert_int_equal(c.mem_bytes, 256ULL << 20);
	assert_int_equal(c.com1.mode, SERIAL_STDIO);
	assert_int_equal(c.com2.mode, SERIAL_NONE);
	assert_int_equal(c.debug_exit_port, 0xf4);
	assert_string_equal(c.kernel_path, "");
	assert_int_equal(c.verbosity, 1);
	assert_true(c.acpi);
	assert_false(c.pvpanic);
}

static void test_full_command_line(void **state)
{
	struct vm_config c;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&c, err, "--kernel", "/k", "--initrd", "/i", "--cmdline",
			       "console=ttyS0", "--topology", "2:3:2", "--memory", "2G",
			       "--hugepages", "--serial", "file:/tmp/out", "--serial2", "stdio",
			       "--serial", "none", "--on-reset", "restart", "--boot", "pvh",
			       "--debug-exit-port", "0x501", "--test-device", "--no-acpi",
			       "--pvpanic", "--virtio-transport", "pci"),
			 0);
	assert_string_equal(c.kernel_path, "/k");
	assert_string_equal(c.initrd_path, "/i");
	assert_string_equal(c.cmdline, "console=ttyS0");
	assert_int_equal(config_vcpus(&c), 12);
	assert_int_equal(c.sockets, 2);
	assert_int_equal(c.threads, 2);
	assert_int_equal(c.mem_bytes, 2ULL << 30);
	assert_true(c.hugepages);
	assert_int_equal(c.com1.mode, SERIAL_NONE); /* the last --serial wins */
	assert_int_equal(c.com2.mode, SERIAL_STDIO);
	assert_int_equal(c.on_reset, RESET_RESTART);
	assert_int_equal(c.boot, BOOT_PVH);
	assert_int_equal(c.debug_exit_port, 0x501);
	assert_true(c.test_device);
	assert_false(c.acpi);
	assert_true(c.pvpanic);
	assert_int_equal(c.virtio_transport, VIRTIO_TRANSPORT_PCI);
	assert_int_equal(PARSE(&c, err, "--virtio-transport", "mmio"), 0);
	assert_int_equal(c.virtio_transport, VIRTIO_TRANSPORT_MMIO);
	/* a device's own transport */
	assert_int_equal(PARSE(&c, err, "--virtio-transport", "pci", "--virtio-transport",
			       "block1=mmio", "--virtio-transport", "fs0=mmio",
			       "--virtio-transport", "block1=pci"),
			 0);
	assert_int_equal(c.nr_transport_of, 2);
	assert_int_equal(config_virtio_transport_of(&c, "block1"), VIRTIO_TRANSPORT_PCI);
	assert_int_equal(config_virtio_transport_of(&c, "fs0"), VIRTIO_TRANSPORT_MMIO);
	assert_int_equal(config_virtio_transport_of(&c, "block0"), VIRTIO_TRANSPORT_PCI);
	assert_int_equal(PARSE(&c, err, "--virtio-transport", "entropy=pci"), 0);
	assert_true(config_virtio_pci_used(&c));
	assert_false(config_virtio_name_ok("block"));
	assert_false(config_virtio_name_ok("block123"));
	assert_false(config_virtio_name_ok("blockx"));
	assert_true(config_virtio_name_ok("net12"));
}

/* Whole tokens only: what decides whether kiln adds virtio_mmio.device= tokens (acpi=off). */
static void test_cmdline_has(void **state)
{
	(void)state;
	assert_true(config_cmdline_has("acpi=off", "acpi=off"));
	assert_true(config_cmdline_has("console=ttyS0 acpi=off", "acpi=off"));
	assert_true(config_cmdline_has("acpi=off\tquiet", "acpi=off"));
	assert_true(config_cmdline_has("xacpi=off acpi=off", "acpi=off"));
	assert_false(config_cmdline_has("", "acpi=off"));
	assert_false(config_cmdline_has("acpi=offx", "acpi=off"));
	assert_false(config_cmdline_has("noacpi=off", "acpi=off"));
	assert_false(config_cmdline_has("acpi=of", "acpi=off"));
	assert_false(config_cmdline_has("acpi=off", ""));
}

static void test_virtio_flags(void **state)
{
	struct vm_config c;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&c, err, "--disk", "/img/a.raw", "--disk", "/img/b.raw,ro,id=data-1",
			       "--disk", "/c,id=x,ro", "--console-virtio", "socket:/run/k.sock",
			       "--rng", "--serial", "none"),
			 0);
	assert_int_equal(c.nr_disks, 3);
	assert_string_equal(c.disks[0].path, "/img/a.raw");
	assert_false(c.disks[0].read_only);
	assert_string_equal(c.disks[0].id, "");
	assert_string_equal(c.disks[1].path, "/img/b.raw");
	assert_true(c.disks[1].read_only);
	assert_string_equal(c.disks[1].id, "data-1");
	assert_true(c.disks[2].read_only);
	assert_string_equal(c.disks[2].id, "x");
	assert_int_equal(c.vconsole.mode, VCONSOLE_SOCKET);
	assert_string_equal(c.vconsole.path, "/run/k.sock");
	assert_true(c.rng);
	/* stdio for the virtio console once the serial port lets go of it */
	assert_int_equal(PARSE(&c, err, "--serial", "none", "--console-virtio", "stdio"), 0);
	assert_int_equal(c.vconsole.mode, VCONSOLE_STDIO);
}

static void test_too_many_disks(void **state)
{
	struct vm_config c;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&c, err, "--disk", "a", "--disk", "a", "--disk", "a", "--disk", "a",
			       "--disk", "a", "--disk", "a", "--disk", "a", "--disk", "a", "--disk",
			       "a", "--disk", "a", "--disk", "a", "--disk", "a", "--disk", "a",
			       "--disk", "a", "--disk", "a", "--disk", "a", "--disk", "a"),
			 -22);
	assert_non_null(strstr(err, "at most 16 disks"));
}

static void test_pins_and_root_disk(void **state)
{
	struct vm_config c;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&c, err, "--topology", "1:2:2", "--pin-vcpus", "3,2,1,0", "--disk",
			       "/a", "--disk", "/r,ro,root,id=r", "--cmdline", "quiet"),
			 0);
	assert_true(c.pin_vcpus);
	assert_int_equal(c.vcpu_pin[0], 3);
	assert_int_equal(c.vcpu_pin[3], 0);
	/* The root disk is attached first and named on the command line. */
	assert_string_equal(c.disks[0].path, "/r");
	assert_true(c.disks[0].is_root);
	assert_string_equal(c.disks[1].path, "/a");
	assert_int_equal(config_kernel_cmdline(&c, err, sizeof(err)), 0);
	assert_string_equal(err, "quiet root=/dev/vda ro");
	assert_int_equal(PARSE(&c, err, "--pin-vcpus", "1023"), 0);
	assert_int_equal(c.vcpu_pin[0], 1023);
}

static void test_raw_image(void **state)
{
	struct vm_config c;
	char err[256];

	(void)state;
	assert_int_equal(
	    PARSE(&c, err, "--kernel", "/k", "--load-addr", "0x200000", "--entry", "2097152"), 0);
	assert_int_equal(c.boot, BOOT_RAW);
	assert_int_equal(c.load_addr, 0x200000);
	assert_int_equal(c.entry, 0x200000);
}

static void expect_error(const char *flag, const char *msg_part, char **argv, int argc)
{
	struct vm_config c;
	char err[256] = "";

	config_defaults(&c);
	assert_int_equal(config_parse_run(&c, argc, argv, err, sizeof(err)), -22);
	if (!strstr(err, msg_part))
		fail_msg("%s: error '%s' does not mention '%s'", flag, err, msg_part);
	assert_null(strchr(err, '\n'));
}

#define EXPECT_ERROR(part, ...)                                                                    \
	do {                                                                                       \
		char *argv_[] = {"run", __VA_ARGS__, NULL};                                        \
		expect_error(argv_[1], part, argv_, (int)(sizeof(argv_) / sizeof(argv_[0])) - 1);  \
	} while (0)

static void test_balloon(void **state)
{
	struct vm_config c;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&c, err, "--balloon", "amount_mib=64"), 0);
	assert_true(c.balloon.enabled);
	assert_int_equal(c.balloon.amount_mib, 64);
	assert_false(c.balloon.deflate_on_oom || c.balloon.free_page_reporting);
	assert_int_equal(c.balloon.stats_interval_s, 0);
	assert_int_equal(PARSE(&c, err, "--memory", "1G", "--balloon",
			       "amount_mib=1024,deflate_on_oom=on,stats_interval=5,"
			       "free_page_reporting=true"),
			 0);
	assert_true(c.balloon.deflate_on_oom && c.balloon.free_page_reporting);
	assert_int_equal(c.balloon.stats_interval_s, 5);
	EXPECT_ERROR("names no amount_mib=N", "--balloon", "deflate_on_oom=on");
	EXPECT_ERROR("amount_mib 257 is more than --memory (256 MiB)", "--balloon",
		     "amount_mib=257");
	EXPECT_ERROR("amount_mib 'x' is not a number", "--balloon", "amount_mib=x");
	EXPECT_ERROR("amount_mib '4294967296' is not", "--balloon", "amount_mib=4294967296");
	EXPECT_ERROR("stats_interval '65536' is not 0 to 65535", "--balloon",
		     "amount_mib=1,stats_interval=65536");
	EXPECT_ERROR("deflate_on_oom 'yes' is not on or off", "--balloon",
		     "amount_mib=1,deflate_on_oom=yes");
	EXPECT_ERROR("the options are amount_mib=", "--balloon", "amount_mib=1,hinting=on");
	EXPECT_ERROR("is not KEY=VALUE", "--balloon", "amount_mib");
	EXPECT_ERROR("given twice", "--balloon", "amount_mib=1", "--balloon", "amount_mib=2");
}

static void test_net(void **state)
{
	struct vm_config c;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&c, err, "--net", "tap=tap0", "--net",
			       "tap=kt1,mac=06:00:AC:10:00:02,id=uplink,mtu=9000"),
			 0);
	assert_int_equal(c.nr_nets, 2);
	assert_string_equal(c.nets[0].id, "eth0");
	assert_string_equal(c.nets[0].tap, "tap0");
	assert_false(c.nets[0].mac_set);
	assert_int_equal(c.nets[0].mtu, 0);
	assert_string_equal(c.nets[1].id, "uplink");
	assert_true(c.nets[1].mac_set);
	assert_memory_equal(c.nets[1].mac, "\x06\x00\xac\x10\x00\x02", 6);
	assert_int_equal(c.nets[1].mtu, 9000);
	EXPECT_ERROR("names no tap=NAME", "--net", "mac=06:00:00:00:00:01");
	EXPECT_ERROR("is not KEY=VALUE", "--net", "tap");
	EXPECT_ERROR("the options are tap=, mac=, id= and mtu=", "--net", "tap=a,model=e1000");
	EXPECT_ERROR("tap name '0123456789abcdef'", "--net", "tap=0123456789abcdef");
	EXPECT_ERROR("is not six hex bytes", "--net", "tap=a,mac=06:00:00:00:00");
	EXPECT_ERROR("is not six hex bytes", "--net", "tap=a,mac=06:00:00:00:00:0g");
	EXPECT_ERROR("is not six hex bytes", "--net", "tap=a,mac=06:00:00:00:00:01:02");
	EXPECT_ERROR("mtu '67'", "--net", "tap=a,mtu=67");
	EXPECT_ERROR("id 'a-b'", "--net", "tap=a,id=a-b");
	EXPECT_ERROR("tap 'a' is also interface 'eth0''s", "--net", "tap=a", "--net", "tap=a");
	EXPECT_ERROR("mac 06:00:00:00:00:01 is also interface 'eth0''s", "--net",
		     "tap=a,mac=06:00:00:00:00:01", "--net", "tap=b,mac=06:00:00:00:00:01");
	EXPECT_ERROR("id 'x' is given twice", "--net", "tap=a,id=x", "--net", "tap=b,id=x");
	EXPECT_ERROR("at most 8 interfaces", "--net", "tap=a", "--net", "tap=b", "--net", "tap=c",
		     "--net", "tap=d", "--net", "tap=e", "--net", "tap=f", "--net", "tap=g",
		     "--net", "tap=h", "--net", "tap=i");
}

static void test_vsock(void **state)
{
	struct vm_config c;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&c, err, "--vsock", "cid=3,uds=/tmp/v.sock"), 0);
	assert_true(c.vsock.set);
	assert_int_equal(c.vsock.guest_cid, 3);
	assert_string_equal(c.vsock.uds_path, "/tmp/v.sock");
	assert_int_equal(PARSE(&c, err, "--vsock", "uds=/v,cid=4294967295"), 0);
	assert_int_equal(c.vsock.guest_cid, 4294967295u);
	EXPECT_ERROR("cid '2' is not a number from 3", "--vsock", "cid=2,uds=/v");
	EXPECT_ERROR("cid 'x' is not a number from 3", "--vsock", "cid=x,uds=/v");
	EXPECT_ERROR("cid '4294967296' is not a number", "--vsock", "cid=4294967296,uds=/v");
	EXPECT_ERROR("names no uds=PATH", "--vsock", "cid=3");
	EXPECT_ERROR("names no cid=N", "--vsock", "uds=/v");
	EXPECT_ERROR("is not KEY=VALUE", "--vsock", "cid");
	EXPECT_ERROR("is not KEY=VALUE", "--vsock", "cid=3,uds=");
	EXPECT_ERROR("the options are cid= and uds=", "--vsock", "cid=3,uds=/v,port=5");
	EXPECT_ERROR("longer than 107 bytes", "--vsock",
		     "cid=3,uds=/0123456789012345678901234567890123456789012345678901234567890123"
		     "4567890123456789012345678901234567890123456789");
	EXPECT_ERROR("given twice", "--vsock", "cid=3,uds=/a", "--vsock", "cid=4,uds=/b");
}

/* --vfio: repeatable, each an absolute path once; ids vfio0, vfio1, ...; not with a balloon. */
static void test_vfio(void **state)
{
	struct vm_config c;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&c, err, "--vfio", "/sys/bus/pci/devices/0000:00:03.0", "--vfio",
			       "/sys/bus/pci/devices/0000:00:04.0"),
			 0);
	assert_int_equal(c.nr_vfio, 2);
	assert_string_equal(c.vfio[0].id, "vfio0");
	assert_string_equal(c.vfio[1].id, "vfio1");
	assert_string_equal(c.vfio[1].path, "/sys/bus/pci/devices/0000:00:04.0");
	EXPECT_ERROR("is not an absolute path", "--vfio", "0000:00:03.0");
	EXPECT_ERROR("is not an absolute path", "--vfio", "");
	EXPECT_ERROR("given twice", "--vfio", "/a", "--vfio", "/a");
	EXPECT_ERROR("at most 8 devices", "--vfio", "/1", "--vfio", "/2", "--vfio", "/3", "--vfio",
		     "/4", "--vfio", "/5", "--vfio", "/6", "--vfio", "/7", "--vfio", "/8", "--vfio",
		     "/9");
	EXPECT_ERROR("balloon cannot go together", "--vfio", "/a", "--balloon", "amount_mib=0");
	/* the id is replaced in place, a path stays with one id */
	config_defaults(&c);
	assert_int_equal(config_vfio_put(&c, "edu", "/x"), 0);
	assert_int_equal(config_vfio_put(&c, "edu", "/y"), 0);
	assert_int_equal(c.nr_vfio, 1);
	assert_string_equal(c.vfio[0].path, "/y");
	assert_int_equal(config_vfio_put(&c, "other", "/y"), -EEXIST);
	assert_int_equal(config_vfio_put(&c, "bad id", "/z"), -EINVAL);
}

static void test_errors_name_the_flag(void **state)
{
	(void)state;
	EXPECT_ERROR("'disk0' names no virtio device", "--virtio-transport", "disk0=pci");
	EXPECT_ERROR("'isa' is not mmio or pci", "--virtio-transport", "block0=isa");
	EXPECT_ERROR("'=pci' is not", "--virtio-transport", "==pci");
	EXPECT_ERROR("--cpus", "--cpus", "0");
	EXPECT_ERROR("--cpus", "--cpus", "255");
	EXPECT_ERROR("--cpus", "--cpus", "two");
	EXPECT_ERROR("--cpus", "--cpus", "-1");
	EXPECT_ERROR("--topology", "--topology", "2:2");
	EXPECT_ERROR("--topology", "--topology", "2:0:1");
	EXPECT_ERROR("--topology", "--topology", "16:16:2");
	EXPECT_ERROR("--topology", "--topology", "1:1:1:1");
	EXPECT_ERROR("mutually exclusive", "--cpus", "2", "--topology", "1:2:1");
	EXPECT_ERROR("--memory", "--memory", "0");
	EXPECT_ERROR("--memory", "--memory", "1M");
	EXPECT_ERROR("--memory", "--memory", "12Q");
	EXPECT_ERROR("--memory", "--memory", "2049K");
	EXPECT_ERROR("--memory", "--memory", "99999999999999999999");
	EXPECT_ERROR("--memory", "--memory", "2T");
	EXPECT_ERROR("2M", "--memory", "3M", "--hugepages");
	EXPECT_ERROR("mutually exclusive", "--thp", "--hugepages");
	EXPECT_ERROR("--serial", "--serial", "tcp:1234");
	EXPECT_ERROR("--serial", "--serial", "file:");
	EXPECT_ERROR("only one of", "--serial2", "stdio");
	EXPECT_ERROR("only one of", "--console-virtio", "stdio");
	EXPECT_ERROR("--disk", "--disk", "");
	EXPECT_ERROR("--disk", "--disk", ",ro");
	EXPECT_ERROR("option 'rw'", "--disk", "/a,rw");
	EXPECT_ERROR("id=NAME", "--disk", "/a,id=123456789012345678901");
	EXPECT_ERROR("--console-virtio", "--console-virtio", "tcp:1");
	EXPECT_ERROR("--load-addr and --entry", "--kernel", "/k", "--load-addr", "0x1000");
	EXPECT_ERROR("--entry", "--kernel", "/k", "--load-addr", "1", "--entry", "zz");
	EXPECT_ERROR("needs --kernel", "--initrd", "/i");
	EXPECT_ERROR("needs --kernel", "--load-addr", "1", "--entry", "1");
	EXPECT_ERROR("--boot", "--boot", "efi");
	EXPECT_ERROR("--on-reset", "--on-reset", "explode");
	EXPECT_ERROR("--virtio-transport: 'isa' is not mmio or pci", "--virtio-transport", "isa");
	EXPECT_ERROR("--debug-exit-port", "--debug-exit-port", "0x10000");
	EXPECT_ERROR("--pin-vcpus: 1 CPUs given for 2 vCPUs", "--cpus", "2", "--pin-vcpus", "0");
	EXPECT_ERROR("--pin-vcpus: 2 CPUs given for 1 vCPUs", "--pin-vcpus", "0,1");
	EXPECT_ERROR("--pin-vcpus: '0,,1'", "--pin-vcpus", "0,,1");
	EXPECT_ERROR("--pin-vcpus: '1024'", "--pin-vcpus", "1024");
	EXPECT_ERROR("--pin-vcpus: 'x'", "--pin-vcpus", "x");
	EXPECT_ERROR("only one disk can be the root disk", "--disk", "/a,root", "--disk",
		     "/b,root");
	EXPECT_ERROR("id 'a' is given twice", "--disk", "/a,id=a", "--disk", "/b,id=a");
	EXPECT_ERROR("unknown option", "--frobnicate");
	EXPECT_ERROR("needs a value", "--kernel");
	EXPECT_ERROR("unexpected argument", "stray");
}

static void test_sizes(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(config_parse_size("512", &v), 0);
	assert_int_equal(v, 512ULL << 20);
	assert_int_equal(config_parse_size("4k", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(config_parse_size("1GiB", &v), 0);
	assert_int_equal(v, 1ULL << 30);
	assert_int_equal(config_parse_size("1GB", &v), 0);
	assert_int_equal(config_parse_size("", &v), -22);
	assert_int_equal(config_parse_size("G", &v), -22);
	assert_int_equal(config_parse_size("1GG", &v), -22);
	assert_int_equal(config_parse_size("16777216T", &v), -22); /* overflows 64 bits */
	assert_int_equal(config_parse_u64("0x10", &v), 0);
	assert_int_equal(v, 16);
	assert_int_equal(config_parse_u64("", &v), -22);
	assert_int_equal(config_parse_u64("-5", &v), -22);
	assert_int_equal(config_parse_u64("0x", &v), -22);
}

static void test_lifecycle_table(void **state)
{
	(void)state;
	assert_true(vm_transition_ok(VM_CREATED, VM_RUNNING));
	assert_true(vm_transition_ok(VM_RUNNING, VM_PAUSED));
	assert_true(vm_transition_ok(VM_PAUSED, VM_RUNNING));
	assert_true(vm_transition_ok(VM_PAUSED, VM_STOPPED));
	assert_true(vm_transition_ok(VM_RUNNING, VM_ERROR));
	assert_true(vm_transition_ok(VM_CREATED, VM_PAUSED)); /* a restored VM starts paused */
	assert_false(vm_transition_ok(VM_STOPPED, VM_RUNNING));
	assert_false(vm_transition_ok(VM_ERROR, VM_RUNNING));
	assert_false(vm_transition_ok(VM_RUNNING, VM_CREATED));
	assert_false(vm_transition_ok(VM_PAUSED, VM_PAUSED));
	assert_false(vm_transition_ok((enum vm_state)42, VM_RUNNING));
	assert_string_equal(vm_state_name(VM_PAUSED), "paused");
	assert_string_equal(vm_state_name((enum vm_state)42), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_full_command_line),
	    cmocka_unit_test(test_cmdline_has),
	    cmocka_unit_test(test_raw_image),
	    cmocka_unit_test(test_pins_and_root_disk),
	    cmocka_unit_test(test_virtio_flags),
	    cmocka_unit_test(test_too_many_disks),
	    cmocka_unit_test(test_net),
	    cmocka_unit_test(test_balloon),
	    cmocka_unit_test(test_errors_name_the_flag),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_vsock),
	    cmocka_unit_test(test_vfio),
	    cmocka_unit_test(test_lifecycle_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
