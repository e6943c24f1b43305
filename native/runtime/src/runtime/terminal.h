/* Terminals (OCI `process.terminal`), runc's --console-socket protocol: the container's
 * process gets a pty slave from the container's own devpts as its controlling terminal and
 * stdin/stdout/stderr; the master is sent over the caller's unix socket (SCM_RIGHTS, with a
 * name as the message) and closed here: the runtime never relays terminal I/O. */
#ifndef PAAS_TERMINAL_H
#define PAAS_TERMINAL_H

#include <stdbool.h>
#include "config.h"
#include "error.h"

/* Checks that `terminal` and --console-socket go together (runc's rule: a terminal needs a
 * socket to hand the master to, a socket without a terminal is a mistake) and connects to the
 * socket. *fd is the connected socket (close-on-exec), or -1 without a terminal. Run before
 * anything is created: an unreachable socket fails with nothing to undo. */
int paas_terminal_connect (const struct paas_process *p, const char *console_socket, int *fd,
                           libpaas_error_t *err);

/* In the container's process, inside its mount namespace (after pivot_root for init), while
 * still privileged: opens a pty pair from /dev/ptmx, applies process.consoleSize, gives the
 * slave to the process's user, binds it on /dev/console when mount_console (the container's
 * init, as runc does), sends the master over sock, then makes the slave the controlling
 * terminal of a new session and fds 0, 1, 2. The caller closes sock (close-on-exec). */
int paas_terminal_setup (int sock, const struct paas_process *p, bool mount_console,
                         libpaas_error_t *err);

#endif
