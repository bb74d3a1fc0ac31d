/* Prints a greeting, and its arguments if there are any. Built with
 * -static so the final image needs nothing but this one file. */
#include <stdio.h>

int main(int argc, char **argv)
{
    printf("Hello from a static C program in a FROM scratch image built by rbuild.\n");
    for (int i = 1; i < argc; i++)
        printf("argument %d: %s\n", i, argv[i]);
    return 0;
}
