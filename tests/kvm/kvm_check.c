/* kvm_check.c — skip or fail, by CI: see kvm_check.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvm_check.h"

bool test_in_ci(void)
{
	const char *ci = getenv("CI");

	return ci && strcmp(ci, "true") == 0;
}

noreturn void test_cannot_run(const char *fmt, ...)
{
	bool ci = test_in_ci();
	va_list ap;

	printf("%s: ", ci ? "FAIL" : "SKIP");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("%s\n", ci ? " (CI=true: a test that cannot run fails)" : "");
	fflush(stdout);
	exit(ci ? 1 : TEST_EXIT_SKIP);
}

void kvm_check_open(struct kvm_sys *k)
{
	const char *dev = getenv("KILN_KVM_DEV") ? getenv("KILN_KVM_DEV") : "/dev/kvm";

	if (access(dev, R_OK | W_OK) != 0)
		test_cannot_run("%s is not usable (%s)", dev, strerror(errno));
	if (kvm_sys_open(k) < 0)
		test_cannot_run("%s could not be opened as a KVM device", dev);
}
