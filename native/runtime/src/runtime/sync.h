/* The runtime's side channels and waits, shared by container.c and exec.c: the
 * runtime <-> container-process socketpair, waiting for a child while forwarding signals,
 * pid files, signalling every process of a cgroup. */
#ifndef PAAS_SYNC_H
#define PAAS_SYNC_H

#include <sys/types.h>
#include "error.h"

/* Messages on the runtime <-> container socketpair (SOCK_SEQPACKET keeps boundaries). */
enum paas_sync_msg
{
  MSG_GO = 'G',    /* runtime -> child: cgroup joined, id maps written */
  MSG_READY = 'R', /* child -> runtime: set up, waiting to be started */
  MSG_START = 'S', /* runtime -> child (run): state recorded, exec now */
  MSG_COMMIT = 'C', /* runtime -> child (create): state recorded, wait on exec.fifo */
  MSG_ERROR = 'E', /* child -> runtime: 'E' + one-line message */
  MSG_HOOKS = 'H',  /* child -> runtime: mounts done, run prestart/createRuntime hooks */
  MSG_RESUME = 'r', /* runtime -> child: they succeeded, go on */
};

/* Sends one message (tag + optional text); < 0 on failure. */
int paas_sync_send (int fd, char tag, const char *text);
/* Receives one message; returns its tag (0 on EOF) and copies the text into msg. */
int paas_sync_recv (int fd, char *msg, size_t len);

/* Exit status of a wait(2) status as a shell reports it: code, or 128+signal. */
int paas_exit_code (int status);
/* Waits for our child pid, forwarding TERM/INT/HUP/QUIT/USR1/USR2/WINCH to it. */
int paas_wait_forwarding (pid_t pid);
/* Writes pid to path atomically (path NULL: nothing). */
int paas_write_pid_file (const char *path, pid_t pid, libpaas_error_t *err);
/* Sends sig to every process listed in procs_path (cgroup.kill on v2 for SIGKILL). */
void paas_kill_cgroup (const char *procs_path, int sig);

#endif
