/* topology.c — the MPIDR_EL1 values of the arm64 vCPUs (pure: the unit tests run it on any
 * host). */
#include "arch/arm64/cpu.h"

#define MPIDR_RES1 (1ULL << 31)

uint64_t arm64_mpidr(unsigned index)
{
	return MPIDR_RES1 | (uint64_t)((index >> 12) & 0xff) << 16 |
	       (uint64_t)((index >> 4) & 0xff) << 8 | (index & 0xf);
}
