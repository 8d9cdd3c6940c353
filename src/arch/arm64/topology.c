/* topology.c — MPIDR affinity values for the arm64 vCPU topology (pure: the unit tests run it
 * on any host). */
#include "arch/arm64/cpu.h"

#define MPIDR_RES1 (1ULL << 31)
#define MPIDR_MT (1ULL << 24)

uint64_t arm64_mpidr(const struct arm64_topology *t, unsigned index)
{
	unsigned per_socket = t->cores * t->threads;
	unsigned socket = index / per_socket, n = index % per_socket;

	return MPIDR_RES1 | (t->threads > 1 ? MPIDR_MT : 0) | (uint64_t)(socket & 0xff) << 16 |
	       (uint64_t)((n / 16) & 0xff) << 8 | (n % 16);
}
