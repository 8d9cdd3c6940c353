/* snapshot_merge.c — `kiln snapshot-merge`: Diff memory files applied onto a base
 * (state/snapshot.h does the merging). */
#include <stdio.h>

#include "cmd/cmd.h"
#include "core/vm.h"
#include "state/snapshot.h"

int cmd_snapshot_merge(int argc, char **argv)
{
	if (argc < 3) {
		fputs("usage: kiln snapshot-merge BASE_MEM DIFF_MEM...\n", stderr);
		return KILN_EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++)
		if (snapshot_merge(argv[1], argv[i]) < 0)
			return KILN_EXIT_USAGE;
	return KILN_EXIT_OK;
}
