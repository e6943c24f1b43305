/* Restart policies (Docker's names and meaning) and the back-off between restarts.
 *
 *   no              never restart
 *   on-failure[:N]  restart after a non-zero exit (signals count: 128+N), at most N times
 *                   in the shim's life (no N: unlimited)
 *   always          restart after any exit
 *   unless-stopped  like always; differs only for the engine, which does not bring a
 *                   container back at boot once a user stopped it (status.json stoppedByUser)
 *
 * A stop request (SIGTERM/SIGINT to the shim) ends restarting under every policy. */
#include "shim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
shim_restart_parse (const char *text, struct shim_restart_policy *policy, libpaas_error_t *err)
{
  policy->max_retries = 0;
  if (strcmp (text, "no") == 0 || strcmp (text, "none") == 0 || *text == '\0')
    policy->kind = SHIM_RESTART_NO;
  else if (strcmp (text, "always") == 0)
    policy->kind = SHIM_RESTART_ALWAYS;
  else if (strcmp (text, "unless-stopped") == 0)
    policy->kind = SHIM_RESTART_UNLESS_STOPPED;
  else if (strncmp (text, "on-failure", 10) == 0 && (text[10] == '\0' || text[10] == ':'))
    {
      policy->kind = SHIM_RESTART_ON_FAILURE;
      if (text[10] == ':')
        {
          char *end;
          errno = 0;
          unsigned long n = strtoul (text + 11, &end, 10);
          if (text[11] == '\0' || *end != '\0' || errno != 0 || n > 1000000 || text[11] == '-')
            return libpaas_make_error (err, 0, "parse restart policy `%s`: bad retry count",
                                       text);
          policy->max_retries = (unsigned) n;
        }
    }
  else
    return libpaas_make_error (
        err, 0, "parse restart policy `%s`: expected no, on-failure[:N], always or unless-stopped",
        text);
  return 0;
}

const char *
shim_restart_format (const struct shim_restart_policy *policy, char *buf, size_t len)
{
  switch (policy->kind)
    {
    case SHIM_RESTART_ON_FAILURE:
      if (policy->max_retries)
        snprintf (buf, len, "on-failure:%u", policy->max_retries);
      else
        snprintf (buf, len, "on-failure");
      break;
    case SHIM_RESTART_ALWAYS:
      snprintf (buf, len, "always");
      break;
    case SHIM_RESTART_UNLESS_STOPPED:
      snprintf (buf, len, "unless-stopped");
      break;
    default:
      snprintf (buf, len, "no");
    }
  return buf;
}

bool
shim_restart_wanted (const struct shim_restart_policy *policy, int exit_code,
                     unsigned restarts_done, bool stop_requested)
{
  if (stop_requested)
    return false;
  switch (policy->kind)
    {
    case SHIM_RESTART_ALWAYS:
    case SHIM_RESTART_UNLESS_STOPPED:
      return true;
    case SHIM_RESTART_ON_FAILURE:
      if (exit_code == 0)
        return false;
      return policy->max_retries == 0 || restarts_done < policy->max_retries;
    default:
      return false;
    }
}

unsigned
shim_restart_backoff (unsigned previous_ms, int64_t ran_ms)
{
  if (previous_ms == 0 || ran_ms >= SHIM_HEALTHY_RUN_MS)
    return SHIM_BACKOFF_MIN_MS;
  if (previous_ms >= SHIM_BACKOFF_MAX_MS / 2)
    return SHIM_BACKOFF_MAX_MS;
  return previous_ms * 2;
}
