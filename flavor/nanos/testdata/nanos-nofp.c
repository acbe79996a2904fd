// A C program built without frame pointers whose inner function faults on
// Nanos. On the host it does not fault: it prints the return addresses
// that a crash's stack would hold, for the test to write the transcript.
#include <stdio.h>
#include <stdlib.h>

struct node {
	struct node *next;
	int value;
};

__attribute__((noipa)) int inner(struct node *n)
{
	printf("inner returns to %p\n", __builtin_return_address(0));
	return n->next->value;
}

__attribute__((noipa)) int outer(struct node *n)
{
	printf("outer returns to %p\n", __builtin_return_address(0));
	int r = inner(n); /* call inner */
	return r + 1;
}

int main(int argc, char **argv)
{
	struct node last = {NULL, 7}, first = {&last, 1};
	int r = outer(argc > 5 ? NULL : &first); /* call outer */
	printf("%d\n", r);
	return 0;
}
