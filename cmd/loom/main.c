/* loom: the Link Loom command line.  Placeholder until the CLI lands. */
#include <stdio.h>

int
main(void)
{
	printf("loom %s\n", LOOM_VERSION);
	return 0;
}
