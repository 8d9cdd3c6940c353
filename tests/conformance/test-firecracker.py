#!/usr/bin/env python3
"""test-firecracker.py — Firecracker conformance: Firecracker's own API expectations, and the
request sequences of two Firecracker clients, replayed against kiln.

usage: test-firecracker.py --kiln KILN --guest GUEST.elf [--list] [--only SCENARIO]

Each row of CASES is one expectation: a request (method, path, JSON body), the status
Firecracker answers, the substance of its fault_message (a case-insensitive regular
expression), the values or keys its answer carries, and headers where Firecracker's test checks
them. Every row cites where Firecracker (or the client) states it. Rows run in order within a
scenario; each scenario is a fresh `kiln --api-sock` (the snapshot scenario restarts it once).
Rows that are not expectations (`step`: set-up requests) must succeed and are not counted.

A row marked known="reason" is a known difference: it is expected to fail today and is listed
apart. The test fails if an unmarked row fails, or if a known row passes (remove the mark: the
difference is fixed). Last line: `conformance: N expectations, P pass, F fail` (known ones count
as fail there; see the `known:` line).

Sources (repository, path, commit read) are listed in tests/conformance/README.md.
Exit: 0 pass, 1 fail; no usable /dev/kvm: 77 skip, or 1 under CI=true (tests/lib/skiprule.py).
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kilntest  # noqa: E402  (tests/lib)
import skiprule  # noqa: E402

ANY = object()  # a key that must be present, whatever its value

# Firecracker's sources, short names used in the `src` of every row (README.md: commits).
FC_API = "firecracker tests/integration_tests/functional/test_api.py::"
FC_PAUSE = "firecracker tests/integration_tests/functional/test_pause_resume.py::"
FC_CMDLINE = "firecracker tests/integration_tests/functional/test_cmd_line_parameters.py::"
FC_SNAP = "firecracker tests/integration_tests/functional/test_snapshot_basic.py::"
FC_LOG = "firecracker tests/integration_tests/functional/test_logging.py::"
FC_MMDS = "firecracker tests/integration_tests/functional/test_mmds.py::"
FC_DOC = "firecracker docs/"
FC_SRC = "firecracker src/"
FC_VMCFG = "firecracker tests/framework/vm_config.json"
KATA = "kata-containers src/runtime/virtcontainers/fc.go::"
SDK = "firecracker-go-sdk handlers.go defaultFcInitHandlerList / machine.go::"
FCCTR = "firecracker-containerd runtime/service.go::"

NOT_BEFORE = r"not supported before starting the microVM"
NOT_AFTER = r"not supported after starting the microVM"
BAD_METHOD = r"Invalid request method"
RL_BOTH = {"bandwidth": {"size": 1000000, "refill_time": 100},
           "ops": {"size": 1, "refill_time": 100}}


class Row:
    def __init__(self, src, method, path, body=None, status=None, fault=None, want=None,
                 keys=None, header=None, known=None, step=False, save=None, same_as=None,
                 poll=0, what=None, equals=None):
        self.src, self.method, self.path, self.body = src, method, path, body
        self.equals = equals  # the whole answer must be this JSON value
        self.status, self.fault, self.want, self.keys = status, fault, want, keys
        self.header, self.known, self.step = header, known, step
        self.save, self.same_as, self.poll, self.what = save, same_as, poll, what


def C(src, method, path, body=None, status=204, **kw):
    """One expectation."""
    return Row(src, method, path, body, status, **kw)


def S(method, path, body=None, status=204):
    """A set-up step (not counted): must answer `status`."""
    return Row("set-up", method, path, body, status, step=True)


def basic_config(rootfs_ro=False, boot_args="console=ttyS0 reboot=k panic=1"):
    """Firecracker's basic_config(): 2 vCPUs, 256 MiB, a root drive (framework/microvm.py)."""
    return [S("PUT", "/boot-source", {"kernel_image_path": "{kernel}", "boot_args": boot_args}),
            S("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 256}),
            S("PUT", "/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "{rootfs}",
                                        "is_root_device": True, "is_read_only": rootfs_ro})]


class Raw(str):
    """A request body sent as these bytes, not as JSON."""


START = {"action_type": "InstanceStart"}
SCRATCH = {"drive_id": "scratch", "path_on_host": "{scratch}", "is_root_device": False,
           "is_read_only": False}

# ---- the table: scenario name -> rows (a fresh kiln per scenario) ----

SCENARIOS = {}

SCENARIOS["preboot-basics"] = [
    C("firecracker src/firecracker/swagger/firecracker.yaml InstanceInfo; "
      "tests/framework/microvm.py state", "GET", "/", status=200,
      want={"state": "Not started"}, keys=["id", "vmm_version", "app_name"]),
    C(FC_API + "test_api_version", "GET", "/version", status=200,
      want={"firecracker_version": re.compile(r"^\d+\.\d+\.\d+")}, save="version"),
    C(FC_API + "test_api_machine_config (default smt is false)", "GET", "/machine-config",
      status=200, want={"smt": False}, keys=["vcpu_count", "mem_size_mib"]),
    C(FC_VMCFG + " (machine-config keys)", "GET", "/machine-config", status=200,
      want={"track_dirty_pages": False, "huge_pages": "None"}),
    C(FC_PAUSE + "test_pause_resume_preboot", "PATCH", "/vm", {"state": "Paused"}, 400,
      fault=NOT_BEFORE),
    C(FC_PAUSE + "test_pause_resume_preboot", "PATCH", "/vm", {"state": "Resumed"}, 400,
      fault=NOT_BEFORE),
    C(FC_SRC + "vmm/src/rpc_interface.rs (SendCtrlAltDel => OperationNotSupportedPreBoot)",
      "PUT", "/actions", {"action_type": "SendCtrlAltDel"}, 400, fault=NOT_BEFORE),
    C(FC_LOG + "test_api_requests_logs (log to a file)", "PUT", "/logger",
      {"log_path": "{tmp}/fc.log", "level": "Info", "show_level": True,
       "show_log_origin": False}),
    C(FC_CMDLINE + "test_cli_metrics_if_resume_no_metrics (first PUT /metrics)", "PUT",
      "/metrics", {"metrics_path": "{tmp}/metrics.json"}),
    C(FC_CMDLINE + "test_cli_metrics_if_resume_no_metrics", "PUT", "/metrics",
      {"metrics_path": "{tmp}/metrics2.json"}, 400,
      fault=r"Reinitialization of metrics not allowed"),
    C(FC_DOC + "api_requests/actions.md FlushMetrics", "PUT", "/actions",
      {"action_type": "FlushMetrics"}),
    C(FC_SRC + "vmm/src/builder.rs StartMicrovmError::MissingKernelConfig "
      "(api_server/parsed_request.rs test)", "PUT", "/actions", START, 400,
      fault=r"without kernel configuration"),
]

SCENARIOS["preboot-update"] = basic_config() + [
    C(FC_API + "test_api_put_update_pre_boot", "PUT", "/drives/scratch", SCRATCH),
    C(FC_API + "test_api_put_update_pre_boot (kernel path that cannot be opened)",
      "PUT", "/boot-source", {"kernel_image_path": "foo.bar"}, 400,
      fault=r"kernel file cannot be opened: No such file or directory"),
    C(FC_API + "test_api_put_update_pre_boot", "PUT", "/boot-source",
      {"kernel_image_path": "{kernel}"}),
    C(FC_API + "test_api_put_update_pre_boot (drive path that cannot be opened)",
      "PUT", "/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "foo.bar",
                                "is_read_only": True, "is_root_device": True}, 400,
      fault=r"No such file or directory"),
    S("PUT", "/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "{rootfs}",
                                "is_read_only": False, "is_root_device": True}),
    C(FC_API + "test_api_put_update_pre_boot (two root devices)", "PUT", "/drives/scratch",
      {"drive_id": "scratch", "path_on_host": "{scratch}", "is_read_only": False,
       "is_root_device": True}, 400, fault=r"root block device already exists|already the root device"),
    C(FC_API + "test_api_put_update_pre_boot (replace a drive)", "PUT", "/drives/scratch",
      {"drive_id": "scratch", "path_on_host": "{scratch2}", "is_read_only": True,
       "is_root_device": False}),
    C(FC_API + "test_api_put_update_pre_boot (all machine-config fields)", "PUT",
      "/machine-config", {"vcpu_count": 4, "smt": True, "mem_size_mib": 256,
                          "track_dirty_pages": True}),
    C(FC_API + "test_api_put_update_pre_boot", "GET", "/machine-config", status=200,
      want={"vcpu_count": 4, "smt": True, "mem_size_mib": 256, "track_dirty_pages": True}),
    C(FC_API + "test_api_put_update_pre_boot (cpu_template C3 on x86_64)", "PUT",
      "/machine-config", {"vcpu_count": 4, "smt": True, "mem_size_mib": 256,
                          "track_dirty_pages": True, "cpu_template": "C3"},
      known="documented in docs/api.md: kiln has no static CPU templates (only 'None')"),
    C(FC_API + "test_api_put_update_pre_boot", "GET", "/machine-config", status=200,
      want={"cpu_template": "C3"}, known="documented in docs/api.md: kiln has no static CPU templates"),
]

SCENARIOS["machine-config"] = [
    C(FC_API + "test_api_machine_config (vcpu_count '-2')", "PUT", "/machine-config",
      {"vcpu_count": "-2"}, 400),
    C(FC_API + "test_api_machine_config (smt 'random_string')", "PUT", "/machine-config",
      {"smt": "random_string"}, 400),
    C(FC_API + "test_api_machine_config (cpu_template 'random_string')", "PUT",
      "/machine-config", {"cpu_template": "random_string"}, 400),
    C(FC_API + "test_api_machine_config", "PATCH", "/machine-config",
      {"track_dirty_pages": True}),
    C(FC_API + "test_api_machine_config (missing vcpu_count)", "PUT", "/machine-config",
      {"mem_size_mib": 128}, 400, fault=r"missing field.*vcpu_count|vcpu_count.*missing"),
    C(FC_API + "test_api_machine_config (missing mem_size_mib)", "PUT", "/machine-config",
      {"vcpu_count": 2}, 400, fault=r"missing field.*mem_size_mib|mem_size_mib.*missing"),
    C(FC_API + "test_api_machine_config (smt defaults to false)", "PUT", "/machine-config",
      {"mem_size_mib": 128, "vcpu_count": 1}),
    C(FC_API + "test_api_machine_config", "GET", "/machine-config", status=200,
      want={"smt": False}),
    C(FC_API + "test_api_machine_config (smt true on x86_64)", "PATCH", "/machine-config",
      {"smt": True}),
    C(FC_API + "test_api_machine_config (mem_size_mib '-2')", "PUT", "/machine-config",
      {"mem_size_mib": "-2"}, 400),
    C(FC_API + "test_api_machine_config (mem_size_mib 2^64)", "PUT", "/machine-config",
      {"mem_size_mib": 1 << 64}, 400, fault=r"invalid type|too big integer|mem_size_mib"),
] + basic_config() + [
    C(FC_API + "test_api_machine_config (mem_size_mib 0)", "PATCH", "/machine-config",
      {"mem_size_mib": 0}, 400, fault=r"memory size|mem_size_mib"),
    C(FC_API + "test_api_machine_config", "PATCH", "/machine-config", {"mem_size_mib": 256}),
    C(FC_API + "test_api_machine_config (cpu_template None when no template is supported)",
      "PATCH", "/machine-config", {"cpu_template": "None"}),
    C(FC_API + "test_api_machine_config", "PUT", "/actions", START),
    C(FC_API + "test_api_machine_config (full config after the patches)", "GET",
      "/vm/config", status=200,
      want={"machine-config.vcpu_count": 2, "machine-config.mem_size_mib": 256,
            "machine-config.smt": False}),
]

# The too-large memory of test_api_machine_config, apart: a start that should fail.
SCENARIOS["machine-config-huge"] = basic_config() + [
    C(FC_API + "test_api_machine_config (mem_size_mib 2^64-1 accepted by PATCH)", "PATCH",
      "/machine-config", {"mem_size_mib": (1 << 64) - 1},
      known="documented in docs/api.md: kiln's JSON reader refuses integers above "
            "2^63-1 ('too big integer')"),
    C(FC_API + "test_api_machine_config (the start fails for the memory)", "PUT",
      "/actions", START, 400, fault=r"memory",
      known="documented in docs/api.md: follows from the refused PATCH (256 MiB)"),
]

SCENARIOS["deprecation"] = [
    C(FC_API + "test_negative_machine_config_api (PUT with cpu_template)", "PUT",
      "/machine-config", {"vcpu_count": 2, "mem_size_mib": 256, "cpu_template": "None"},
      header={"Deprecation": ANY}),
    C(FC_API + "test_negative_machine_config_api (PATCH with cpu_template)", "PATCH",
      "/machine-config", {"cpu_template": "None"}),
]

SCENARIOS["patch-preboot"] = basic_config() + [
    S("PUT", "/drives/scratch", SCRATCH),
    C(FC_API + "test_api_patch_pre_boot", "PATCH", "/boot-source",
      {"kernel_image_path": "otherfile"}, 400, fault=BAD_METHOD),
    C(FC_API + "test_api_patch_pre_boot", "PATCH", "/machine-config", {"vcpu_count": 4}),
    C(FC_API + "test_api_patch_pre_boot", "GET", "/machine-config", status=200,
      want={"vcpu_count": 4}),
    C(FC_API + "test_api_patch_pre_boot", "PATCH", "/logger", {"level": "Error"}, 400,
      fault=BAD_METHOD),
    C(FC_API + "test_api_patch_pre_boot; test_drive_patch", "PATCH", "/drives/scratch",
      {"drive_id": "scratch", "path_on_host": "foo.bar"}, 400, fault=NOT_BEFORE),
]

SCENARIOS["rate-limiters"] = basic_config() + [
    C(FC_API + "test_rate_limiters_api_config (drive bandwidth)", "PUT", "/drives/bw",
      {"drive_id": "bw", "path_on_host": "{scratch}", "is_read_only": False,
       "is_root_device": False, "rate_limiter": {"bandwidth": RL_BOTH["bandwidth"]}}),
    C(FC_API + "test_rate_limiters_api_config (drive ops)", "PUT", "/drives/ops",
      {"drive_id": "ops", "path_on_host": "{scratch}", "is_read_only": False,
       "is_root_device": False, "rate_limiter": {"ops": RL_BOTH["ops"]}}),
    C(FC_API + "test_rate_limiters_api_config (drive bandwidth and ops)", "PUT",
      "/drives/bwops", {"drive_id": "bwops", "path_on_host": "{scratch}",
                        "is_read_only": False, "is_root_device": False,
                        "rate_limiter": RL_BOTH}),
    C(FC_API + "test_rate_limiters_api_config (empty rate_limiter)", "PUT", "/drives/nada",
      {"drive_id": "nada", "path_on_host": "{scratch}", "is_read_only": False,
       "is_root_device": False, "rate_limiter": {}}),
    C(FC_API + "test_rate_limiters_api_config (entropy bandwidth and ops)", "PUT",
      "/entropy", {"rate_limiter": RL_BOTH}),
]

SCENARIOS["drive-options"] = basic_config(rootfs_ro=True) + [
    C(FC_API + "test_drive_io_engine (io_engine Sync)", "PUT", "/drives/rootfs",
      {"drive_id": "rootfs", "path_on_host": "{rootfs}", "is_root_device": True,
       "is_read_only": True, "io_engine": "Sync"}),
    C(FC_DOC + "api_requests/block-caching.md (cache_type Writeback)", "PUT",
      "/drives/scratch", dict(SCRATCH, cache_type="Writeback")),
    C(FC_API + "test_drive_io_engine", "PUT", "/actions", START),
    C(FC_API + "test_drive_io_engine (io_engine reported)", "GET", "/vm/config", status=200,
      want={"drives.0.io_engine": "Sync"}),
    C(FC_DOC + "api_requests/block-caching.md (cache_type reported)", "GET", "/vm/config",
      status=200, want={"drives.1.cache_type": "Writeback"}),
]

SCENARIOS["full-config"] = basic_config(rootfs_ro=True, boot_args="") + [
    C(FC_API + "test_get_full_config (resources not configured are null)", "GET",
      "/vm/config", status=200,
      want={"balloon": None, "cpu-config": None, "entropy": None, "vsock": None,
            "mmds-config": None, "memory-hotplug": None}, save="cfg"),
    C(FC_API + "test_get_full_config (logger and metrics null when unset)", "GET",
      "/vm/config", status=200, want={"logger": None, "metrics": None}),
    C(FC_VMCFG + " (device lists empty)", "GET", "/vm/config", status=200,
      want={"network-interfaces": [], "pmem": []}),
    C(FC_API + "test_get_full_config (boot-source)", "GET", "/vm/config", status=200,
      want={"boot-source": {"boot_args": "", "kernel_image_path": "{kernel}",
                            "initrd_path": None}}),
    C(FC_API + "test_get_full_config (machine-config)", "GET", "/vm/config", status=200,
      want={"machine-config": {"vcpu_count": 2, "mem_size_mib": 256, "smt": False,
                               "track_dirty_pages": False, "huge_pages": "None"}}),
    C(FC_API + "test_get_full_config (drives)", "GET", "/vm/config", status=200,
      want={"drives": [{"drive_id": "rootfs", "partuuid": None, "is_root_device": True,
                        "cache_type": "Unsafe", "is_read_only": True,
                        "path_on_host": "{rootfs}", "rate_limiter": None,
                        "io_engine": "Sync", "socket": None}]}),
    C(FC_API + "test_get_full_config", "PUT", "/actions", START),
    C(FC_API + "test_get_full_config (the same after boot)", "GET", "/vm/config", status=200,
      same_as="cfg"),
]

SCENARIOS["entropy"] = basic_config() + [
    C(FC_API + "test_api_entropy (create)", "PUT", "/entropy", {}),
    C(FC_API + "test_api_entropy (overwrite)", "PUT", "/entropy", {}),
    C(FC_API + "test_api_entropy", "PUT", "/actions", START),
    C(FC_API + "test_api_entropy (after boot)", "PUT", "/entropy", {}, 400),
]

# ---- MMDS: the data store API (the guest side needs a network interface: issue 12) ----

MMDS_DUMMY = {"latest": {"meta-data": {"ami-id": "dummy"}}}
MMDS_PATCHED = {"latest": {"meta-data": {"ami-id": "another_dummy",
                                         "secret_key": "eaasda48141411aeaeae"}}}
NOT_INIT = r"The MMDS data store is not initialized"
NO_IFACE = (r"The list of network interface IDs provided contains at least one ID that does "
            r"not correspond to any existing network interface")


def mmds_secret(value, key="secret_key"):
    return {"latest": {"meta-data": {"ami-id": "smth", key: value}}}


SCENARIOS["mmds"] = [
    C(FC_MMDS + "test_mmds_dummy (empty at first)", "GET", "/mmds", status=200, equals={}),
    C(FC_MMDS + "test_mmds_dummy (patch before put)", "PATCH", "/mmds", MMDS_DUMMY, 400,
      fault=NOT_INIT),
    C(FC_MMDS + "test_mmds_dummy (put creates)", "PUT", "/mmds", MMDS_DUMMY),
    C(FC_MMDS + "test_mmds_dummy", "GET", "/mmds", status=200, equals=MMDS_DUMMY),
    C(FC_MMDS + "test_mmds_dummy (patch)", "PATCH", "/mmds", MMDS_PATCHED),
    C(FC_MMDS + "test_mmds_dummy (after the patch)", "GET", "/mmds", status=200,
      equals=MMDS_PATCHED),
    C(FC_SRC + "vmm/src/mmds/mod.rs json_patch (null removes a key)", "PATCH", "/mmds",
      {"latest": {"meta-data": {"secret_key": None}}}),
    C(FC_SRC + "vmm/src/mmds/mod.rs json_patch", "GET", "/mmds", status=200,
      equals={"latest": {"meta-data": {"ami-id": "another_dummy"}}}),
    C(FC_SRC + "firecracker/src/api_server/request/mmds.rs (invalid_body)", "PUT", "/mmds",
      Raw("invalid_body"), 400),
    C(FC_SRC + "firecracker/src/api_server/request/mmds.rs (unrecognized path)", "PUT",
      "/mmds/foo", {"a": 1}, 400),
    C(FC_API + "test_api_mmds_config (empty list)", "PUT", "/mmds/config",
      {"network_interfaces": []}, 400,
      fault=r"list of network interface IDs that allow forwarding MMDS requests is empty"),
    C(FC_API + "test_api_mmds_config (no network device attached)", "PUT", "/mmds/config",
      {"network_interfaces": ["foo"]}, 400, fault=NO_IFACE),
    C(FC_API + "test_api_mmds_config (bad version)", "PUT", "/mmds/config",
      {"version": "foo", "network_interfaces": ["1"]}, 400, fault=r"foo.*V1.*V2"),
    C(FC_SRC + "vmm/src/resources.rs set_mmds_network_stack_config (not link-local)", "PUT",
      "/mmds/config", {"ipv4_address": "10.0.0.1", "network_interfaces": ["1"]}, 400,
      fault=r"The MMDS IPv4 address is not link local"),
]

SCENARIOS["mmds-limit"] = [
    C(FC_MMDS + "test_mmds_limit_scenario (populate)", "PUT", "/mmds", MMDS_DUMMY),
    C(FC_MMDS + "test_mmds_limit_scenario (a put over the limit)", "PUT", "/mmds",
      mmds_secret("a" * 51200), 413),
    C(FC_MMDS + "test_mmds_limit_scenario (unchanged)", "GET", "/mmds", status=200,
      equals=MMDS_DUMMY),
    C(FC_MMDS + "test_mmds_limit_scenario (a patch that fills the store)", "PATCH", "/mmds",
      mmds_secret("a" * 51137)),
    C(FC_MMDS + "test_mmds_limit_scenario (one more key: over)", "PATCH", "/mmds",
      mmds_secret("b" * 10, "secret_key2"), 413),
    C(FC_MMDS + "test_mmds_limit_scenario (the failed patch changed nothing)", "GET", "/mmds",
      status=200, equals=mmds_secret("a" * 51137)),
    C(FC_MMDS + "test_mmds_limit_scenario (shrink)", "PATCH", "/mmds", mmds_secret("a")),
    C(FC_MMDS + "test_mmds_limit_scenario (59 bytes)", "GET", "/mmds", status=200,
      equals=mmds_secret("a")),
    C(FC_MMDS + "test_mmds_limit_scenario (grow again)", "PATCH", "/mmds",
      mmds_secret("a" * 100)),
    C(FC_MMDS + "test_mmds_limit_scenario (158 bytes)", "GET", "/mmds", status=200,
      equals=mmds_secret("a" * 100)),
]

SCENARIOS["mmds-large-payload"] = [
    C(FC_API + "test_map_private_seccomp_regression (empty)", "GET", "/mmds", status=200,
      equals={}),
    C(FC_API + "test_map_private_seccomp_regression (1 MiB into MMDS)", "PUT", "/mmds",
      {"latest": {"meta-data": {"ami-id": "b" * (1024 * 1024)}}}),
]

# Firecracker's network tests with TAP devices kiln's process finds in its own network namespace
# (SCENARIO_TAPS: made by the harness; root and /dev/net/tun needed).
NET1 = {"iface_id": "1", "guest_mac": "06:00:00:00:00:01", "host_dev_name": "kctap1"}
SCENARIOS["network-interfaces"] = basic_config() + [
    C(FC_API + "test_net_api_put_update_pre_boot", "PUT", "/network-interfaces/1", NET1),
    C(FC_API + "test_net_api_put_update_pre_boot (another)", "PUT", "/network-interfaces/2",
      {"iface_id": "2", "guest_mac": "07:00:00:00:00:01", "host_dev_name": "kctap2"}),
    C(FC_API + "test_net_api_put_update_pre_boot (a MAC in use)", "PUT",
      "/network-interfaces/2",
      {"iface_id": "2", "host_dev_name": "kctap2", "guest_mac": "06:00:00:00:00:01"}, 400,
      fault=r"The MAC address is already in use: 06:00:00:00:00:01"),
    C(FC_API + "test_net_api_put_update_pre_boot (an available MAC)", "PUT",
      "/network-interfaces/2",
      {"iface_id": "2", "host_dev_name": "kctap2", "guest_mac": "08:00:00:00:00:01"}),
    C(FC_API + "test_net_api_put_update_pre_boot (a TAP in use)", "PUT",
      "/network-interfaces/1",
      {"iface_id": "1", "host_dev_name": "kctap2", "guest_mac": "06:00:00:00:00:01"}, 400,
      fault=r"Could not create the network device"),
    C(FC_API + "test_net_api_put_update_pre_boot (an available TAP)", "PUT",
      "/network-interfaces/3",
      {"iface_id": "3", "host_dev_name": "kctap3", "guest_mac": "06:00:00:00:00:01"},
      known="a refused PUT leaves the interface as it was in kiln; Firecracker has removed "
            "interface 1 by then, freeing its MAC (docs/api.md)"),
    C(FC_API + "test_api_mmds_config (an id of no interface)", "PUT", "/mmds/config",
      {"network_interfaces": ["1", "foo"]}, 400, fault=NO_IFACE),
    C(FC_API + "test_api_mmds_config (bad version)", "PUT", "/mmds/config",
      {"version": "foo", "network_interfaces": ["1"]}, 400, fault=r"foo.*V1.*V2"),
    C(FC_API + "test_api_mmds_config (no version, no address)", "PUT", "/mmds/config",
      {"network_interfaces": ["1"]}, header={"Deprecation": ANY}),
    C(FC_API + "test_api_mmds_config (V1 by default)", "GET", "/vm/config", status=200,
      want={"mmds-config.version": "V1", "mmds-config.ipv4_address": "169.254.169.254"}),
    C(FC_API + "test_api_mmds_config (an address)", "PUT", "/mmds/config",
      {"ipv4_address": "169.254.169.250", "network_interfaces": ["1"]}),
    C(FC_API + "test_api_mmds_config (the address)", "GET", "/vm/config", status=200,
      want={"mmds-config.ipv4_address": "169.254.169.250"}),
    C(FC_API + "test_api_mmds_config (V2, imds_compat)", "PUT", "/mmds/config",
      {"version": "V2", "ipv4_address": "169.254.169.250", "network_interfaces": ["1"],
       "imds_compat": True}),
    C(FC_API + "test_api_mmds_config (V2)", "GET", "/vm/config", status=200,
      want={"mmds-config": {"version": "V2", "ipv4_address": "169.254.169.250",
                            "network_interfaces": ["1"], "imds_compat": True}}),
    C(FC_API + "test_get_full_config (network-interfaces)", "GET", "/vm/config", status=200,
      want={"network-interfaces.0": {"iface_id": "1", "host_dev_name": "kctap1",
                                     "guest_mac": "06:00:00:00:00:01", "mtu": None,
                                     "rx_rate_limiter": None, "tx_rate_limiter": None}}),
    C(FC_API + "test_api_patch_pre_boot (network interface)", "PATCH",
      "/network-interfaces/1", {"iface_id": "1"}, 400, fault=NOT_BEFORE),
    C(FC_API + "test_api_happy_start", "PUT", "/actions", START),
    C(FC_API + "test_api_put_update_post_boot (network interface)", "PUT",
      "/network-interfaces/1", NET1, 400, fault=NOT_AFTER),
    C(FC_API + "test_rate_limiters_api_config (PATCH after boot)", "PATCH",
      "/network-interfaces/1", {"iface_id": "1", "tx_rate_limiter": RL_BOTH}),
    C(FC_API + "test_rate_limiters_api_config (the limiter)", "GET", "/vm/config", status=200,
      want={"network-interfaces.0.tx_rate_limiter.bandwidth.size": 1000000}),
]

SCENARIOS["postboot"] = basic_config() + [
    S("PUT", "/drives/scratch", SCRATCH),
    S("PUT", "/metrics", {"metrics_path": "{tmp}/metrics.json"}),
    C(FC_API + "test_api_version (pre-boot)", "GET", "/version", status=200,
      keys=["firecracker_version"], save="version"),
    C(FC_API + "test_api_happy_start", "PUT", "/actions", START),
    C(FC_API + "test_api_version (post-boot equals pre-boot)", "GET", "/version",
      status=200, same_as="version"),
    C(FC_API + "test_api_put_update_post_boot", "PUT", "/boot-source",
      {"kernel_image_path": "{kernel}"}, 400, fault=NOT_AFTER),
    C(FC_API + "test_api_put_update_post_boot", "PATCH", "/machine-config",
      {"vcpu_count": 4}, 400, fault=NOT_AFTER),
    C(FC_API + "test_api_put_update_post_boot", "PUT", "/machine-config",
      {"vcpu_count": 4, "mem_size_mib": 128}, 400, fault=NOT_AFTER),
    C(FC_API + "test_api_put_update_post_boot (MMDS config)", "PUT", "/mmds/config",
      {"version": "V2", "ipv4_address": "169.254.169.250", "network_interfaces": ["1"]}, 400,
      fault=NOT_AFTER),
    C(FC_SRC + "vmm/src/rpc_interface.rs (GetMMDS after boot, no store was built)", "GET",
      "/mmds", status=400, fault=NOT_INIT),
    C(FC_API + "test_negative_api_patch_post_boot", "PATCH", "/boot-source",
      {"kernel_image_path": "otherfile"}, 400, fault=BAD_METHOD),
    C(FC_API + "test_negative_api_patch_post_boot", "PATCH", "/logger", {"level": "Error"},
      400, fault=BAD_METHOD),
    C(FC_API + "test_drive_patch/_drive_patch (no field to change)", "PATCH",
      "/drives/scratch", {"drive_id": "scratch"}, 400,
      fault=r"Running method expected different backend"),
    C(FC_API + "test_drive_patch/_drive_patch (is_read_only)", "PATCH", "/drives/scratch",
      {"drive_id": "scratch", "path_on_host": "foo.bar", "is_read_only": True}, 400,
      fault=r"unknown field.*is_read_only"),
    C(FC_API + "test_drive_patch/_drive_patch (io_engine)", "PATCH", "/drives/scratch",
      {"drive_id": "scratch", "path_on_host": "foo.bar", "io_engine": "Sync"}, 400,
      fault=r"unknown field.*io_engine"),
    C(FC_API + "test_drive_patch/_drive_patch (is_root_device)", "PATCH", "/drives/scratch",
      {"drive_id": "scratch", "path_on_host": "foo.bar", "is_root_device": False}, 400,
      fault=r"unknown field.*is_root_device"),
    C(FC_API + "test_drive_patch/_drive_patch (path that cannot be opened)", "PATCH",
      "/drives/scratch", {"drive_id": "scratch", "path_on_host": "foo.bar"}, 400,
      fault=r"No such file or directory"),
    C(FC_API + "test_drive_patch/_drive_patch (new backing file)", "PATCH",
      "/drives/scratch", {"drive_id": "scratch", "path_on_host": "{scratch2}"}),
    C(FC_API + "test_drive_patch/_drive_patch (path and rate_limiter)", "PATCH",
      "/drives/scratch", {"drive_id": "scratch", "path_on_host": "{scratch2}",
                          "rate_limiter": RL_BOTH}),
    C(FC_API + "test_drive_patch/_drive_patch (rate_limiter only)", "PATCH",
      "/drives/scratch", {"drive_id": "scratch", "rate_limiter": {
          "bandwidth": {"size": 5000, "refill_time": 100},
          "ops": {"size": 500, "refill_time": 100}}}),
    C(FC_API + "test_drive_patch/_drive_patch (rate_limiter and a bad path)", "PATCH",
      "/drives/scratch", {"drive_id": "scratch", "path_on_host": "foo.bar",
                          "rate_limiter": RL_BOTH}, 400, fault=r"No such file or directory"),
    C(FC_API + "test_drive_patch/_drive_patch (vm/config after the patches)", "GET",
      "/vm/config", status=200,
      want={"drives": [
          {"drive_id": "rootfs", "partuuid": None, "is_root_device": True,
           "cache_type": "Unsafe", "is_read_only": False, "path_on_host": "{rootfs}",
           "rate_limiter": None, "io_engine": "Sync", "socket": None},
          {"drive_id": "scratch", "partuuid": None, "is_root_device": False,
           "cache_type": "Unsafe", "is_read_only": False, "path_on_host": "{scratch2}",
           "rate_limiter": {
               "bandwidth": {"size": 5000, "one_time_burst": None, "refill_time": 100},
               "ops": {"size": 500, "one_time_burst": None, "refill_time": 100}},
           "io_engine": "Sync", "socket": None}]}),
    C(FC_DOC + "api_requests/actions.md FlushMetrics", "PUT", "/actions",
      {"action_type": "FlushMetrics"}),
    C(FC_PAUSE + "test_pause_resume", "PATCH", "/vm", {"state": "Paused"}),
    C(FC_PAUSE + "test_pause_resume", "GET", "/", status=200, want={"state": "Paused"}),
    C(FC_PAUSE + "test_pause_resume", "PATCH", "/vm", {"state": "Resumed"}),
    C(FC_PAUSE + "test_pause_resume", "GET", "/", status=200, want={"state": "Running"}),
    C(FC_API + "test_send_ctrl_alt_del", "PUT", "/actions",
      {"action_type": "SendCtrlAltDel"}),
]

SCENARIOS["snapshot-load-errors"] = [
    C(FC_API + "test_negative_snapshot_load_api (mem_backend and mem_file_path)", "PUT",
      "/snapshot/load", {"snapshot_path": "foo", "mem_file_path": "bar",
                         "mem_backend": {"backend_type": "File", "backend_path": "bar"}},
      400, fault=r"too many fields|exactly one|exclusively"),
    C(FC_API + "test_negative_snapshot_load_api (no backend_type)", "PUT", "/snapshot/load",
      {"snapshot_path": "foo", "mem_backend": {"backend_path": "bar"}}, 400,
      fault=r"backend_type"),
    C(FC_API + "test_negative_snapshot_load_api (no backend_path)", "PUT", "/snapshot/load",
      {"snapshot_path": "foo", "mem_backend": {"backend_type": "File"}}, 400,
      fault=r"backend_path"),
    C(FC_API + "test_negative_snapshot_load_api (backend_type foo)", "PUT", "/snapshot/load",
      {"snapshot_path": "foo", "mem_backend": {"backend_type": "foo", "backend_path": "bar"}},
      400, fault=r"foo"),
    C(FC_API + "test_negative_snapshot_load_api (no snapshot_path)", "PUT", "/snapshot/load",
      {"mem_backend": {"backend_type": "File", "backend_path": "bar"}}, 400,
      fault=r"snapshot_path"),
    C(FC_API + "test_negative_snapshot_load_api (neither mem_backend nor mem_file_path)",
      "PUT", "/snapshot/load", {"snapshot_path": "foo"}, 400,
      fault=r"mem_backend.*mem_file_path|mem_file_path.*mem_backend"),
    C(FC_API + "test_negative_snapshot_load_api (deprecated mem_file_path)", "PUT",
      "/snapshot/load", {"snapshot_path": "foo", "mem_file_path": "bar"}, 400,
      header={"Deprecation": ANY}),
]

SCENARIOS["snapshot"] = basic_config() + [
    S("PUT", "/actions", START),
    C(FC_SNAP + "test_5_full_snapshots (pause before the snapshot)", "PATCH", "/vm",
      {"state": "Paused"}),
    C(FC_SNAP + "test_5_full_snapshots (create)", "PUT", "/snapshot/create",
      {"snapshot_type": "Full", "snapshot_path": "{tmp}/vmstate", "mem_file_path": "{tmp}/mem"}),
    C(FC_API + "test_get_full_config_after_restoring_snapshot (config before)", "GET",
      "/vm/config", status=200, keys=["boot-source", "machine-config", "drives"],
      save="before"),
    Row("restart", "RESTART", None, step=True),
    C(FC_SNAP + "test_5_full_snapshots (load)", "PUT", "/snapshot/load",
      {"snapshot_path": "{tmp}/vmstate",
       "mem_backend": {"backend_type": "File", "backend_path": "{tmp}/mem"}}),
    C(FC_SNAP + "test_5_full_snapshots (loaded VM is paused)", "GET", "/", status=200,
      want={"state": "Paused"}),
    C(FC_SNAP + "test_negative_postload_api", "PUT", "/actions", START, 400,
      fault=NOT_AFTER),
    C(FC_SNAP + "test_negative_postload_api (basic_config after a load)", "PUT",
      "/boot-source", {"kernel_image_path": "{kernel}"}, 400, fault=NOT_AFTER),
    C(FC_API + "test_get_full_config_after_restoring_snapshot", "GET", "/vm/config",
      status=200, same_as="before"),
    C(FC_SNAP + "test_5_full_snapshots (resume)", "PATCH", "/vm", {"state": "Resumed"}),
    C(FC_SNAP + "test_5_full_snapshots", "GET", "/", status=200, want={"state": "Running"}),
]

# ---- replays of client request sequences ----

# firecracker-go-sdk: handlers.go defaultFcInitHandlerList = SetupNetwork, SetupKernelArgs,
# StartVMM (waitForSocket: GET /machine-config), CreateLogFiles, BootstrapLogging
# (setupLogging: PUT /logger with show_level true, show_log_origin false; setupMetrics:
# PUT /metrics), CreateMachine (PUT /machine-config, then refreshMachineConfiguration:
# GET /machine-config), CreateBootSource (PUT /boot-source), AttachDrives (PUT /drives/ID in
# order), CreateNetworkInterfaces (skipped: kiln has no network), AddVsocks (skipped: no vsock),
# ConfigMmds (skipped: no MMDS); then Machine.Start: startInstance (PUT /actions InstanceStart);
# Machine.Shutdown on x86: sendCtrlAltDel, then StopVMM (SIGTERM). Bodies as firecracker-
# containerd builds them (runtime/service.go createVM, helpers.go machineConfigurationFromProto:
# 1 vCPU, 128 MiB, smt from the config; config/config.go defaultKernelArgs; the SDK's
# WithRootDrive: drive_id "root_drive", read-only; drive_handler.go: writable stub drives with
# base32 ids). go-swagger omits empty optional fields (omitempty), as below.
SCENARIOS["replay-firecracker-containerd"] = [
    C(SDK + "waitForSocket", "GET", "/machine-config", status=200, poll=10),
    C(SDK + "setupLogging", "PUT", "/logger",
      {"level": "Debug", "log_path": "{fifo_log}", "show_level": True,
       "show_log_origin": False}),
    C(SDK + "setupMetrics", "PUT", "/metrics", {"metrics_path": "{fifo_metrics}"}),
    C(SDK + "createMachine (" + FCCTR + "createVM, no cpu_template where unsupported)",
      "PUT", "/machine-config", {"mem_size_mib": 128, "smt": False, "vcpu_count": 1}),
    C(SDK + "createMachine refreshMachineConfiguration", "GET", "/machine-config",
      status=200, want={"mem_size_mib": 128, "vcpu_count": 1, "smt": False}),
    C(SDK + "createBootSource", "PUT", "/boot-source",
      {"boot_args": "console=ttyS0 noapic reboot=k panic=1 pci=off nomodules rw",
       "kernel_image_path": "{kernel}"}),
    C(SDK + "attachDrive (root_drive)", "PUT", "/drives/root_drive",
      {"drive_id": "root_drive", "is_read_only": True, "is_root_device": True,
       "path_on_host": "{rootfs}"}),
    C(SDK + "attachDrive (firecracker-containerd stub drive ctrstub0)", "PUT",
      "/drives/MN2HE43UOVRDA", {"drive_id": "MN2HE43UOVRDA", "is_read_only": False,
                                "is_root_device": False, "path_on_host": "{scratch}"}),
    C(SDK + "startInstance", "PUT", "/actions", {"action_type": "InstanceStart"}),
    C(SDK + "(DescribeInstance)", "GET", "/", status=200, want={"state": "Running"}),
    C(SDK + "Shutdown sendCtrlAltDel", "PUT", "/actions", {"action_type": "SendCtrlAltDel"}),
    C(SDK + "StopVMM (SIGTERM)", "SIGTERM", None, status=0),
]

SCENARIOS["replay-firecracker-containerd-cpu-template"] = [
    C(FCCTR + "createVM (config/config.go defaultCPUTemplate T2 where supported)", "PUT",
      "/machine-config", {"cpu_template": "T2", "mem_size_mib": 128, "smt": False,
                          "vcpu_count": 1},
      known="documented in docs/api.md: kiln has no static CPU templates (only 'None')"),
]

# Kata Containers (fc.go): fcInitConfiguration builds one document (types/fcConfig.go FcConfig:
# boot-source, machine-config, vsock, logger, metrics, drives, network-interfaces), StartVM
# writes it and fcInit runs `firecracker --api-sock SOCK --config-file FILE` (after checking
# `firecracker --version` >= 0.21.1), then waitVMMRunning polls GET / until "Running". Block
# hotplug is PATCH /drives/drive_N with a new path_on_host (fcUpdateBlockDrive); StopVM is
# SIGTERM and a wait of up to 15 s (fcEnd). Logger and metrics go to FIFOs Kata reads. vsock
# and network-interfaces are left out here (kiln has neither).
KATA_CONFIG = {
    "boot-source": {"kernel_image_path": "{kernel}",
                    "boot_args": "root=/dev/vda1 rootflags=data=ordered,errors=remount-ro ro "
                                 "rootfstype=ext4 pci=off reboot=k panic=1 iommu=off "
                                 "net.ifnames=0 random.trust_cpu=on 8250.nr_uarts=0 "
                                 "agent.log_vport=1025"},
    "machine-config": {"mem_size_mib": 256, "smt": False, "vcpu_count": 1},
    "logger": {"level": "Error", "log_path": "{fifo_log}"},
    "metrics": {"metrics_path": "{fifo_metrics}"},
    "drives": [{"drive_id": "rootfs", "is_read_only": True, "is_root_device": False,
                "path_on_host": "{rootfs}"}] +
              [{"drive_id": f"drive_{i}", "is_read_only": False, "is_root_device": False,
                "path_on_host": "{tmp}/" + f"drive_{i}"} for i in range(8)],
}

SCENARIOS["replay-kata"] = [
    C(KATA + "getVersionNumber/checkVersion (`--version`: 2nd field >= 0.21.1)", "VERSION",
      None, status=0),
    C(KATA + "fcInit/waitVMMRunning (kiln --api-sock --config-file, GET / until Running)",
      "GET", "/", status=200, want={"state": "Running"}, poll=10),
    C(KATA + "hotplugBlockDevice/fcUpdateBlockDrive (add)", "PATCH", "/drives/drive_0",
      {"drive_id": "drive_0", "path_on_host": "{scratch}"}),
    C(KATA + "hotplugBlockDevice/fcUpdateBlockDrive (remove: back to the placeholder)",
      "PATCH", "/drives/drive_0", {"drive_id": "drive_0", "path_on_host": "{tmp}/drive_0"}),
    C(KATA + "fcEnd (SIGTERM, exit within 15 s)", "SIGTERM", None, status=0),
]

SCENARIO_TAPS = {"network-interfaces": ("kctap1", "kctap2", "kctap3")}
SCENARIO_ARGS = {"replay-kata": ["--config-file", "{tmp}/fcConfig.json"],
                 # test_mmds_limit_scenario's and test_map_private_seccomp_regression's flags
                 "mmds-limit": ["--http-api-max-payload-size", "512000",
                                "--mmds-size-limit", "51200"],
                 "mmds-large-payload": ["--http-api-max-payload-size", str(2 * 1024 * 1024)]}


# ---- running ----

class Ctx:
    def __init__(self, kiln, guest, tmp):
        self.kiln, self.tmp = kiln, tmp
        # Kata runs the binary it is configured with as `firecracker`: kiln installed in its
        # place is a symlink of that name (kiln then speaks Firecracker's command line).
        self.firecracker = os.path.join(tmp, "firecracker")
        os.symlink(os.path.abspath(kiln), self.firecracker)
        self.vars = {"kernel": guest, "tmp": tmp}
        for name, mib in (("rootfs", 4), ("scratch", 1), ("scratch2", 1)):
            self.vars[name] = os.path.join(tmp, name + ".ext4")
            with open(self.vars[name], "wb") as f:
                f.truncate(mib << 20)
        for i in range(8):  # Kata's disk pool placeholders (createDiskPool: empty files)
            open(os.path.join(tmp, f"drive_{i}"), "w").close()
        self.fifo_readers = []
        for name in ("fifo_log", "fifo_metrics"):
            path = os.path.join(tmp, name)
            os.mkfifo(path, 0o600)
            self.vars[name] = path
            self.fifo_readers.append(FifoReader(path))
        with open(os.path.join(tmp, "fcConfig.json"), "w") as f:
            json.dump(self.subst(KATA_CONFIG), f, indent="\t")  # Kata: MarshalIndent, tabs

    def subst(self, v):
        if isinstance(v, Raw):
            return v
        if isinstance(v, str):
            for k, val in self.vars.items():
                v = v.replace("{" + k + "}", val)
            return v
        if isinstance(v, dict):
            return {k: self.subst(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.subst(x) for x in v]
        return v


class FifoReader:
    """Drains a FIFO as Kata and the SDK do (opened O_RDONLY|O_NONBLOCK before the VMM)."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        threading.Thread(target=self.drain, daemon=True).start()

    def drain(self):
        while True:
            try:
                if not os.read(self.fd, 65536):
                    time.sleep(0.05)
            except BlockingIOError:
                time.sleep(0.05)
            except OSError:
                return


def in_netns(taps, argv):
    """argv run in a new network namespace holding the TAP devices `taps` (needs root)."""
    make = " && ".join(f"ip tuntap add dev {t} mode tap" for t in taps)
    return ["unshare", "--net", "--", "sh", "-c", f'{make} && exec "$0" "$@"', *argv]


class Kiln:
    def __init__(self, ctx, extra, binary=None, taps=()):
        self.sock = os.path.join(ctx.tmp, "api.sock")
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.errpath = os.path.join(ctx.tmp, "kiln.stderr")
        argv = [binary or ctx.kiln, "--api-sock", self.sock, *[ctx.subst(a) for a in extra]]
        with open(self.errpath, "wb") as err:
            self.proc = kilntest.reap_at_exit(subprocess.Popen(
                in_netns(taps, argv) if taps else argv,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err))
        end = time.time() + 10
        while time.time() < end and self.proc.poll() is None and not os.path.exists(self.sock):
            time.sleep(0.02)

    def gone(self):
        """Why kiln cannot answer: '' while it runs, else its exit and last stderr line."""
        if self.proc.poll() is None:
            return ""
        with open(self.errpath, errors="replace") as f:
            lines = f.read().strip().splitlines()
        return f"kiln exited {self.proc.returncode}: {lines[-1] if lines else ''}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def request(sock, method, path, body):
    """One request on its own connection: (status, parsed body or raw text, headers)."""
    c = kilntest.UnixHTTP(sock, 10)
    data = body if isinstance(body, Raw) else json.dumps(body) if body is not None else None
    c.request(method, path, body=data,
              headers={"Content-Type": "application/json"} if data is not None else {})
    r = c.getresponse()
    raw = r.read()
    headers = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return r.status, parsed, headers


def lookup(body, dotted):
    cur = body
    for part in dotted.split("."):
        if isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        elif isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return False, None
    return True, cur


def matches(want, got):
    if want is ANY:
        return True
    if isinstance(want, re.Pattern):
        return isinstance(got, str) and bool(want.search(got))
    if isinstance(want, bool) or want is None:
        return got is want
    return want == got


def judge(row, ctx, saved, status, body, headers):
    """None if the answer meets the row, else a one-line reason."""
    if status != row.status:
        return f"status {status}, want {row.status}"
    if row.fault is not None:
        msg = body.get("fault_message", "") if isinstance(body, dict) else ""
        if not re.search(row.fault, msg, re.I):
            return f"fault_message {msg!r} lacks /{row.fault}/"
    bad = []
    for k in row.keys or []:
        if not lookup(body, k)[0]:
            bad.append(f"no key '{k}'")
    for k, v in ctx.subst(row.want or {}).items():
        found, got = lookup(body, k)
        if not found:
            bad.append(f"no key '{k}'")
        elif not matches(v, got):
            bad.append(f"'{k}' is {json.dumps(got)}, want {json.dumps(v, default=str)}")
    for h, v in (row.header or {}).items():
        if h.lower() not in headers:
            bad.append(f"no '{h}' header")
        elif v is not ANY and headers[h.lower()] != v:
            bad.append(f"header '{h}: {headers[h.lower()]}', want '{v}'")
    if row.equals is not None and body != ctx.subst(row.equals):
        bad.append(f"answer {json.dumps(body)[:120]}, want {json.dumps(row.equals)[:120]}")
    if row.same_as is not None:
        if row.same_as not in saved:
            bad.append(f"nothing saved as '{row.same_as}'")
        elif saved[row.same_as] != body:
            bad.append(f"differs from '{row.same_as}': {json.dumps(body)[:200]}")
    return "; ".join(bad) or None


def special(row, ctx, k):
    """VERSION and SIGTERM rows: (status, body) of the action."""
    if row.method == "VERSION":
        r = subprocess.run([ctx.firecracker, "--version"], capture_output=True, text=True,
                           timeout=10)
        fields = r.stdout.split("\n")[0].split(" ")
        ver = fields[1].lstrip("v") if len(fields) > 1 else ""
        m = re.match(r"^(\d+)\.(\d+)\.(\d+)", ver)
        ok = r.returncode == 0 and m and tuple(map(int, m.groups())) >= (0, 21, 1)
        return (0 if ok else 1), f"`--version` printed {r.stdout.strip()!r}"
    if k.gone():
        return -1, f"already gone ({k.gone()})"
    os.kill(k.proc.pid, signal.SIGTERM)
    try:
        rc = k.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        return -1, "still running 15 s after SIGTERM"
    return rc, f"exit status {rc}"


def run_scenario(name, rows, ctx, results):
    binary = ctx.firecracker if name.startswith("replay-kata") else None
    k = Kiln(ctx, SCENARIO_ARGS.get(name, []), binary, SCENARIO_TAPS.get(name, ()))
    saved, broken = {}, None
    try:
        for row in rows:
            if row.method == "RESTART":
                k.stop()
                k = Kiln(ctx, SCENARIO_ARGS.get(name, []), binary)
                continue
            if broken:
                if not row.step:
                    results.append((name, row, f"not run: {broken}"))
                continue
            end = time.time() + row.poll
            while True:
                try:
                    if row.method in ("VERSION", "SIGTERM"):
                        status, body = special(row, ctx, k)
                        headers = {}
                        why, body = (None if status == row.status else body), None
                    else:
                        status, body, headers = request(k.sock, row.method,
                                                        ctx.subst(row.path),
                                                        ctx.subst(row.body))
                        why = judge(row, ctx, saved, status, body, headers)
                except (OSError, ValueError) as e:
                    status, body, why = None, None, f"no answer: {e} {k.gone()}".strip()
                if why is None or time.time() >= end:
                    break
                time.sleep(0.05)
            if row.save and status == row.status:
                saved[row.save] = body
            if row.step:
                if why is not None:
                    broken = f"set-up {row.method} {row.path} failed: {why} ({body})"
                continue
            if why is not None and isinstance(body, str):
                why += f" ({body[:120]})"
            elif why is not None and isinstance(body, dict) and "fault_message" in body \
                    and "fault_message" not in why:
                why += f" (fault_message {body['fault_message'][:160]!r})"
            results.append((name, row, why))
    finally:
        k.stop()


def describe(name, row):
    body = json.dumps(row.body) if row.body is not None else ""
    return f"[{name}] {row.method} {row.path or ''} {body[:90]} ({row.src})"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kiln", required=True)
    p.add_argument("--guest", required=True)
    p.add_argument("--only", help="run one scenario")
    p.add_argument("--list", action="store_true", help="print the table and exit")
    a = p.parse_args()
    scenarios = {n: r for n, r in SCENARIOS.items() if not a.only or n == a.only}
    if a.list:
        for n, rows in scenarios.items():
            for row in rows:
                if not row.step:
                    print(("KNOWN " if row.known else "      ") + describe(n, row))
        return 0
    if (status := skiprule.require_kvm()) is not None:
        return status
    if (os.geteuid() != 0 or not os.path.exists("/dev/net/tun")) and os.environ.get("CI") != "true":
        # TAP devices need root; under CI=true the scenario runs (and fails) anyway
        for n in SCENARIO_TAPS:
            if scenarios.pop(n, None):
                print(f"note: scenario {n} not run: it needs root and /dev/net/tun", flush=True)
    tmp = tempfile.mkdtemp(prefix="kiln-conf-")
    results = []
    try:
        ctx = Ctx(a.kiln, a.guest, tmp)
        for n, rows in scenarios.items():
            run_scenario(n, rows, ctx, results)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    fails, known_fail, known_pass = [], [], []
    for n, row, why in results:
        if why is None and row.known:
            known_pass.append((n, row))
        elif why is not None and row.known:
            known_fail.append((n, row, why))
        elif why is not None:
            fails.append((n, row, why))
    npass = sum(1 for _, _, why in results if why is None)
    if known_fail:
        print(f"known differences ({len(known_fail)}, marked known= in the table):")
        for n, row, why in known_fail:
            print(f"  KNOWN {describe(n, row)}: {row.known}: kiln: {why}")
    for n, row, why in fails:
        print(f"FAIL {describe(n, row)}: {why}")
    for n, row in known_pass:
        print(f"FAIL {describe(n, row)}: passes now: remove known={row.known!r}")
    print(f"conformance: {len(results)} expectations, {npass} pass, {len(results) - npass} fail"
          f" (known: {len(known_fail)}; unexpected: {len(fails)} failing, "
          f"{len(known_pass)} known now passing)")
    return 1 if fails or known_pass else 0


if __name__ == "__main__":
    sys.exit(main())
