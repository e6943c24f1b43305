/* Small helpers of paas-shim: clocks, RFC 3339 times, JSON escaping, signal names, fds. */
#include "shim.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

int64_t
shim_now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
shim_wall_clock (struct timespec *ts)
{
  clock_gettime (CLOCK_REALTIME, ts);
}

/* Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm); avoids
 * gmtime_r and with it the time-zone machinery of libc. */
static void
civil_from_days (int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned) (z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t) yoe + era * 400 + (*m <= 2);
}

char *
shim_format_time (char *buf, size_t len, const struct timespec *ts)
{
  int64_t secs = ts->tv_sec;
  int64_t days = secs / 86400, rem = secs % 86400;
  if (rem < 0)
    {
      rem += 86400;
      days--;
    }
  int64_t y;
  unsigned m, d;
  civil_from_days (days, &y, &m, &d);
  snprintf (buf, len, "%04lld-%02u-%02uT%02u:%02u:%02u.%09ldZ", (long long) y, m, d,
            (unsigned) (rem / 3600), (unsigned) (rem % 3600 / 60), (unsigned) (rem % 60),
            (long) ts->tv_nsec);
  return buf;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, <= U+10FFFF),
 * or 0 when the bytes there are not one. */
static size_t
utf8_sequence (const unsigned char *s, size_t n)
{
  unsigned char c = s[0];
  unsigned char lo = 0x80, hi = 0xBF;
  size_t len;
  if (c >= 0xC2 && c <= 0xDF)
    len = 2;
  else if (c >= 0xE0 && c <= 0xEF)
    {
      len = 3;
      if (c == 0xE0)
        lo = 0xA0;
      else if (c == 0xED)
        hi = 0x9F;
    }
  else if (c >= 0xF0 && c <= 0xF4)
    {
      len = 4;
      if (c == 0xF0)
        lo = 0x90;
      else if (c == 0xF4)
        hi = 0x8F;
    }
  else
    return 0;
  if (n < len || s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < len; i++)
    if ((s[i] & 0xC0) != 0x80)
      return 0;
  return len;
}

size_t
shim_utf8_incomplete_tail (const char *buf, size_t len)
{
  const unsigned char *s = (const unsigned char *) buf;
  for (size_t k = 1; k <= 3 && k <= len; k++)
    {
      unsigned char c = s[len - k];
      if ((c & 0xC0) == 0x80)
        continue;
      size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      return need > k ? k : 0;
    }
  return 0;
}

size_t
shim_json_escape (char *out, const char *in, size_t len)
{
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *) in;
  size_t o = 0, i = 0;
  while (i < len)
    {
      unsigned char c = s[i];
      if (c >= 0x80)
        {
          size_t n = utf8_sequence (s + i, len - i);
          if (n == 0)
            {
              memcpy (out + o, "\\ufffd", 6);
              o += 6;
              i++;
            }
          else
            {
              memcpy (out + o, s + i, n);
              o += n;
              i += n;
            }
          continue;
        }
      i++;
      switch (c)
        {
        case '"':
        case '\\':
          out[o++] = '\\';
          out[o++] = (char) c;
          break;
        case '\n':
          out[o++] = '\\';
          out[o++] = 'n';
          break;
        case '\r':
          out[o++] = '\\';
          out[o++] = 'r';
          break;
        case '\t':
          out[o++] = '\\';
          out[o++] = 't';
          break;
        case '\b':
          out[o++] = '\\';
          out[o++] = 'b';
          break;
        case '\f':
          out[o++] = '\\';
          out[o++] = 'f';
          break;
        default:
          if (c < 0x20 || c == 0x7f)
            {
              memcpy (out + o, "\\u00", 4);
              out[o + 4] = hex[c >> 4];
              out[o + 5] = hex[c & 15];
              o += 6;
            }
          else
            out[o++] = (char) c;
        }
    }
  return o;
}

static const struct
{
  int sig;
  const char *name;
} signal_names[] = {
  { SIGHUP, "HUP" },     { SIGINT, "INT" },       { SIGQUIT, "QUIT" },   { SIGILL, "ILL" },
  { SIGTRAP, "TRAP" },   { SIGABRT, "ABRT" },     { SIGBUS, "BUS" },     { SIGFPE, "FPE" },
  { SIGKILL, "KILL" },   { SIGUSR1, "USR1" },     { SIGSEGV, "SEGV" },   { SIGUSR2, "USR2" },
  { SIGPIPE, "PIPE" },   { SIGALRM, "ALRM" },     { SIGTERM, "TERM" },   { SIGSTKFLT, "STKFLT" },
  { SIGCHLD, "CHLD" },   { SIGCONT, "CONT" },     { SIGSTOP, "STOP" },   { SIGTSTP, "TSTP" },
  { SIGTTIN, "TTIN" },   { SIGTTOU, "TTOU" },     { SIGURG, "URG" },     { SIGXCPU, "XCPU" },
  { SIGXFSZ, "XFSZ" },   { SIGVTALRM, "VTALRM" }, { SIGPROF, "PROF" },   { SIGWINCH, "WINCH" },
  { SIGIO, "IO" },       { SIGPWR, "PWR" },       { SIGSYS, "SYS" },
};

int
shim_signal_parse (const char *text)
{
  if (text == NULL || *text == '\0')
    return -1;
  if (isdigit ((unsigned char) *text))
    {
      char *end;
      long n = strtol (text, &end, 10);
      return (*end == '\0' && n > 0 && n < NSIG) ? (int) n : -1;
    }
  if (strncasecmp (text, "SIG", 3) == 0)
    text += 3;
  for (size_t i = 0; i < sizeof (signal_names) / sizeof (signal_names[0]); i++)
    if (strcasecmp (text, signal_names[i].name) == 0)
      return signal_names[i].sig;
  return -1;
}

const char *
shim_signal_name (int sig)
{
  for (size_t i = 0; i < sizeof (signal_names) / sizeof (signal_names[0]); i++)
    if (signal_names[i].sig == sig)
      return signal_names[i].name;
  return NULL;
}

int
shim_set_nonblock (int fd)
{
  int flags = fcntl (fd, F_GETFL);
  if (flags < 0)
    return -1;
  return fcntl (fd, F_SETFL, flags | O_NONBLOCK);
}

void
shim_close_from (int lowfd)
{
#ifdef SYS_close_range
  if (syscall (SYS_close_range, (unsigned) lowfd, ~0u, 0u) == 0)
    return;
#endif
  long max = sysconf (_SC_OPEN_MAX);
  if (max < 0 || max > 65536)
    max = 65536;
  for (int fd = lowfd; fd < max; fd++)
    close (fd);
}

void
shim_warn (const char *fmt, ...)
{
  char buf[1024];
  char ts[40];
  struct timespec now;
  va_list ap;
  int n;

  shim_wall_clock (&now);
  n = snprintf (buf, sizeof buf, "%s paas-shim[%d]: ", shim_format_time (ts, sizeof ts, &now),
                (int) getpid ());
  va_start (ap, fmt);
  n += vsnprintf (buf + n, sizeof buf - n - 1, fmt, ap);
  va_end (ap);
  if (n > (int) sizeof buf - 2)
    n = sizeof buf - 2;
  buf[n++] = '\n';
  libpaas_write_all (STDERR_FILENO, buf, n);
}
