#ifndef PAAS_CAPS_H
#define PAAS_CAPS_H

#include <stdint.h>
#include "config.h"
#include "error.h"

/* Drops every capability outside the bounding set (call while still root). */
int paas_caps_drop_bounding (uint64_t bounding, libpaas_error_t *err);
/* Sets effective/permitted/inheritable and raises ambient (call after the uid switch,
 * which must have been done with PR_SET_KEEPCAPS). */
int paas_caps_apply (const uint64_t caps[PAAS_CAP_SETS], libpaas_error_t *err);

#endif
