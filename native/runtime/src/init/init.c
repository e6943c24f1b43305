/* paas-init — the init of `paas run --init`, in the role of tini or docker-init.
 *
 * As pid 1 of a container it starts the command as its child, forwards every catchable
 * signal to it, reaps every zombie that gets re-parented to it, and exits with the
 * child's status (128+N when a signal killed it). Without it, a shell or a program that
 * never calls wait() as pid 1 leaks zombies, and signals without a handler are ignored.
 *
 * Linked statically: it is bind-mounted into images that may have no libc at all. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int
usage (void)
{
  fputs ("usage: paas-init [--] COMMAND [ARG...]\n", stderr);
  return 2;
}

int
main (int argc, char **argv)
{
  int first = 1;
  if (first < argc && strcmp (argv[first], "--") == 0)
    first++;
  if (first >= argc)
    return usage ();

  /* Block everything; the child restores the mask before exec, we take signals with
   * sigwait so none is lost between forwarding and reaping. */
  sigset_t all, old;
  sigfillset (&all);
  sigprocmask (SIG_BLOCK, &all, &old);
  if (getpid () != 1)
    (void) prctl (PR_SET_CHILD_SUBREAPER, 1); /* for testing outside a pid namespace */

  pid_t child = fork ();
  if (child < 0)
    {
      fprintf (stderr, "paas-init: fork: %s\n", strerror (errno));
      return 125;
    }
  if (child == 0)
    {
      sigprocmask (SIG_SETMASK, &old, NULL);
      setpgid (0, 0);
      execvp (argv[first], argv + first);
      fprintf (stderr, "paas-init: exec `%s`: %s\n", argv[first], strerror (errno));
      _exit (errno == ENOENT ? 127 : 126);
    }

  /* No tick: every exit of a child or of an orphan re-parented to us sends SIGCHLD, which is
   * blocked, so it stays pending until sigwaitinfo takes it, and one SIGCHLD for several exits
   * is enough, since the loop below reaps them all. A one-second tick (as tini has) woke every
   * idle container's init each second: a thousand instances on a node spent 5-7% of its CPU
   * on nothing. */
  int status = 0;
  for (;;)
    {
      siginfo_t info;
      int sig = sigwaitinfo (&all, &info);
      if (sig > 0 && sig != SIGCHLD)
        kill (child, sig);

      pid_t pid;
      int st;
      while ((pid = waitpid (-1, &st, WNOHANG)) > 0)
        if (pid == child)
          {
            status = WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st);
            /* the command is gone: take down what it left in its group, then reap it */
            kill (-child, SIGKILL);
            while (waitpid (-1, NULL, 0) > 0)
              ;
            return status;
          }
      if (pid < 0 && errno == ECHILD)
        return status;
    }
}
