/* kvm_check.h — the one skip rule of the C host tests. A test that cannot run here (no usable
 * /dev/kvm, a missing input) is skipped (exit 77, which meson counts as SKIP), except under
 * CI=true, where it fails (exit 1): CI machines have everything, so a skip there hides a broken
 * machine. Either way one line says why. */
#ifndef KILN_TESTS_KVM_KVM_CHECK_H
#define KILN_TESTS_KVM_KVM_CHECK_H

#include <stdbool.h>
#include <stdnoreturn.h>

#include "hv/kvm.h"

#define TEST_EXIT_SKIP 77

/* Whether the environment variable CI is "true". */
bool test_in_ci(void);

/* Print "SKIP: <reason>" and exit 77, or under CI=true "FAIL: <reason> (CI=true: a test that
 * cannot run fails)" and exit 1. reason is a printf format. */
noreturn void test_cannot_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Open the KVM device ($KILN_KVM_DEV or /dev/kvm) into k with kvm_sys_open; if it is missing,
 * not read-write, or not a usable KVM, end the test through test_cannot_run. */
void kvm_check_open(struct kvm_sys *k);

#endif
