/* memhog.c — allocate and touch MIB mebibytes, then exit 0 (the balloon batch: fill guest memory
 * so the host has it resident, and ask for more than is left to see deflate-on-OOM).
 *
 *     memhog MIB
 *
 * Prints "KT hog touched N" every 32 MiB to /dev/console-bound stdout and "KT hog done MIB" at
 * the end; the OOM killer's SIGKILL ends it without that line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MIB (1024 * 1024)

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;

	if (argc != 2 || n <= 0) {
		fprintf(stderr, "usage: memhog MIB\n");
		return 2;
	}
	for (long i = 0; i < n; i++) {
		char *p =
		    mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			printf("KT hog mmap-failed %ld\n", i);
			return 1;
		}
		for (long off = 0; off < MIB; off += 4096)
			p[off] = (char)(i + off / 4096 + 1);
		if ((i + 1) % 32 == 0) {
			printf("KT hog touched %ld\n", i + 1);
			fflush(stdout);
		}
	}
	printf("KT hog done %ld\n", n);
	return 0;
}
