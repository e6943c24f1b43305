/* Prints the effective uid it runs with: made setuid-root in an image layer, it says
 * whether a host process of a container's range could become root through that layer. */
#include <stdio.h>
#include <unistd.h>

int
main (void)
{
  printf ("%u\n", (unsigned) geteuid ());
  return 0;
}
