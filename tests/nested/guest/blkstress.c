/* blkstress.c — a guest-side disk checker for the full-Linux suite: writes stamped blocks to a
 * block device in passes and, after each pass, reads every block back with O_DIRECT (past the
 * guest's page cache, from the device kiln emulates) and checks that each holds exactly what was
 * last written there. It runs until killed, so a snapshot, restore or live migration can happen
 * at any moment in between; a later "ok" pass proves the disk and the program's memory stayed
 * consistent across it.
 *
 *     blkstress DEVICE BLOCKS SEED [PASSES]     (PASSES 0 or absent: forever)
 *
 * Pass p writes block i (4 KiB) when (i + p) % 3 != 0, so every pass leaves a third of the blocks
 * from earlier passes in place; the expected generation of each block is kept in memory. Reports
 * go to stdout, one line each: "KT blk pass P wrote W verified B ok" or "KT blk FAIL ...".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 4096

struct stamp {
	uint64_t magic, seed, block, pass;
};

#define MAGIC 0x6b696c6e626c6b31ULL /* "kilnblk1" */

/* The bytes block `i` holds after pass `p`: a header, then a pattern derived from all three. */
static void fill(uint8_t *buf, uint64_t seed, uint64_t i, uint64_t p)
{
	struct stamp s = {MAGIC, seed, i, p};
	uint64_t x = seed ^ (i * 0x9e3779b97f4a7c15ULL) ^ (p << 32);

	memcpy(buf, &s, sizeof(s));
	for (size_t off = sizeof(s); off < BLOCK; off += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + off, &x, 8);
	}
}

static int io_full(int fd, uint8_t *buf, uint64_t i, int write_it)
{
	ssize_t n = write_it ? pwrite(fd, buf, BLOCK, (off_t)(i * BLOCK))
			     : pread(fd, buf, BLOCK, (off_t)(i * BLOCK));

	return n == BLOCK ? 0 : -1;
}

static int verify(int fd, uint8_t *got, uint8_t *want, uint64_t seed, const uint64_t *gen,
		  uint64_t blocks)
{
	for (uint64_t i = 0; i < blocks; i++) {
		if (!gen[i])
			continue;
		if (io_full(fd, got, i, 0) < 0) {
			printf("KT blk FAIL read of block %" PRIu64 ": %s\n", i, strerror(errno));
			return -1;
		}
		fill(want, seed, i, gen[i]);
		if (memcmp(got, want, BLOCK) != 0) {
			struct stamp s;

			memcpy(&s, got, sizeof(s));
			printf("KT blk FAIL block %" PRIu64 ": want pass %" PRIu64
			       ", holds magic %#" PRIx64 " block %" PRIu64 " pass %" PRIu64 "\n",
			       i, gen[i], s.magic, s.block, s.pass);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t blocks, seed, passes = 0, *gen;
	uint8_t *a, *b;
	int fd;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: blkstress DEVICE BLOCKS SEED [PASSES]\n");
		return 2;
	}
	blocks = strtoull(argv[2], NULL, 0);
	seed = strtoull(argv[3], NULL, 0);
	if (argc == 5)
		passes = strtoull(argv[4], NULL, 0);
	fd = open(argv[1], O_RDWR | O_DIRECT | O_SYNC);
	gen = calloc(blocks, sizeof(*gen));
	if (fd < 0 || !gen || blocks == 0 || posix_memalign((void **)&a, BLOCK, BLOCK) ||
	    posix_memalign((void **)&b, BLOCK, BLOCK)) {
		printf("KT blk FAIL setup: %s\n", strerror(errno));
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (uint64_t p = 1; passes == 0 || p <= passes; p++) {
		uint64_t wrote = 0, checked = 0;

		for (uint64_t i = 0; i < blocks; i++) {
			if ((i + p) % 3 == 0 && gen[i])
				continue;
			fill(a, seed, i, p);
			if (io_full(fd, a, i, 1) < 0) {
				printf("KT blk FAIL write of block %" PRIu64 ": %s\n", i,
				       strerror(errno));
				return 1;
			}
			gen[i] = p;
			wrote++;
		}
		if (fdatasync(fd) < 0 || verify(fd, a, b, seed, gen, blocks) < 0)
			return 1;
		for (uint64_t i = 0; i < blocks; i++)
			checked += gen[i] != 0;
		printf("KT blk pass %" PRIu64 " wrote %" PRIu64 " verified %" PRIu64 " ok\n", p,
		       wrote, checked);
	}
	return 0;
}
