/* sandbox.h — `kiln sandbox`: boot a kernel, run one command inside, return its output and
 * status (README: "kiln sandbox"). */
#ifndef KILN_SANDBOX_SANDBOX_H
#define KILN_SANDBOX_SANDBOX_H

/* Run `kiln sandbox` (argv[0] is "sandbox"); returns the process exit status (status.h). */
int sandbox_main(int argc, char **argv);

#endif
