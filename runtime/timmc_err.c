/*
 * timmc_err.c - the thread-local message of the last runtime failure.
 */
#include "timmc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char message[1024];

const char *timmc_error(void) { return message; }

/* Formats through a scratch buffer so that fmt's arguments may include
 * timmc_error() itself (to prefix context onto an earlier message). Control
 * characters (from tensor names or file contents) become '?', so that the
 * message is always one line. */
int timmc_fail(int status, const char *fmt, ...) {
  char buf[sizeof message];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  for (char *p = buf; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = '?';
  memcpy(message, buf, sizeof message);
  return status;
}

void timmc_format_shape(char *buf, size_t cap, int ndim, const int64_t *shape) {
  size_t len = (size_t)snprintf(buf, cap, "[");
  for (int i = 0; i < ndim && len < cap; i++)
    len += (size_t)snprintf(buf + len, cap - len, "%s%" PRId64, i ? ", " : "", shape[i]);
  if (len < cap)
    snprintf(buf + len, cap - len, "]");
}
