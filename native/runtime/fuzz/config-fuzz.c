/* libFuzzer target: config.json parsing and validation (paas_config_parse), the runtime's
 * only parser of untrusted input. Every input must either parse into a config that frees
 * cleanly or fail with one error message. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct paas_config *c = NULL;
  libpaas_error_t err = NULL;
  if (paas_config_parse ((const char *) data, size, "/bundle", "config.json", &c, &err) < 0)
    {
      if (err == NULL || err->msg == NULL || strchr (err->msg, '\n') != NULL)
        __builtin_trap (); /* failures always carry a one-line message */
      libpaas_error_release (&err);
      return 0;
    }
  if (c == NULL || c->process == NULL || c->process->args == NULL || c->root_path == NULL)
    __builtin_trap ();
  paas_config_free (c);
  return 0;
}
