/* main.c: the application. Edit BANNER, save, and ukdev rebuilds the
 * unikernel and boots the new image. */
#include <stdio.h>

#define BANNER "hello from {{name}} on unikraft"

int main(int argc, char *argv[])
{
	printf("%s\n", BANNER);
	/* Arguments come from unikraft.app_args in ukdev.toml. */
	for (int i = 1; i < argc; i++)
		printf("arg %d: %s\n", i, argv[i]);
	return 0;
}
