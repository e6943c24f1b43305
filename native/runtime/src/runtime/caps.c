#include "caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int
paas_caps_drop_bounding (uint64_t bounding, libpaas_error_t *err)
{
  /* Walk up to the kernel's last capability: PR_CAPBSET_DROP fails with EINVAL past it. */
  for (int cap = 0; cap < 64; cap++)
    {
      if (bounding & (1ULL << cap))
        continue;
      if (prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
        {
          if (errno == EINVAL)
            break;
          return libpaas_make_error (err, errno, "drop capability `%d` from the bounding set", cap);
        }
    }
  return 0;
}

int
paas_caps_apply (const uint64_t caps[PAAS_CAP_SETS], libpaas_error_t *err)
{
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[2];
  for (int i = 0; i < 2; i++)
    {
      data[i].effective = (uint32_t) (caps[PAAS_CAP_EFFECTIVE] >> (32 * i));
      data[i].permitted = (uint32_t) (caps[PAAS_CAP_PERMITTED] >> (32 * i));
      data[i].inheritable = (uint32_t) (caps[PAAS_CAP_INHERITABLE] >> (32 * i));
    }
  if (syscall (SYS_capset, &hdr, data) < 0)
    return libpaas_make_error (err, errno, "set capabilities");
  if (caps[PAAS_CAP_AMBIENT] == 0)
    return 0;
  /* An ambient capability must also be permitted and inheritable; runc and crun ignore the
   * ones the kernel refuses rather than failing, so do we. */
  for (int cap = 0; cap < 64; cap++)
    if (caps[PAAS_CAP_AMBIENT] & (1ULL << cap))
      (void) prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
  return 0;
}
