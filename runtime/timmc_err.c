/*
 * timmc_err.c - the thread-local message of the last runtime failure.
 */
#include "timmc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MESSAGE_BYTES 4096
#define KEEP 40 /* characters kept at each end of a word that is shortened */

static _Thread_local char message[MESSAGE_BYTES];

const char *timmc_error(void) { return message; }

/* The longest run of non-space characters in TEXT (LEN bytes) that is longer
 * than 2 * KEEP + 3; its start and length, or length 0. */
static size_t longest_word(const char *text, size_t len, size_t *start) {
  size_t best = 0;
  for (size_t i = 0; i < len;) {
    size_t j = i;
    while (j < len && text[j] != ' ')
      j++;
    if (j - i > best && j - i > 2 * KEEP + 3) {
      best = j - i;
      *start = i;
    }
    i = j + 1;
  }
  return best;
}

/* Shortens TEXT (LEN bytes, NUL-terminated, writable) in place to fewer than
 * MESSAGE_BYTES bytes; returns the new length. A message too long is one
 * with a long path in it (a file name is the only unbounded part), and its
 * end says what went wrong: so the longest words (the paths) lose their
 * middles to "..." first, and only if that is not enough does the middle of
 * the whole message go. */
static size_t shorten(char *text, size_t len) {
  size_t start = 0, word;
  while (len >= MESSAGE_BYTES && (word = longest_word(text, len, &start)) > 0) {
    size_t cut = len - (MESSAGE_BYTES - 1) + 3; /* bytes removed for the "..." */
    if (cut > word - 2 * KEEP)
      cut = word - 2 * KEEP;
    size_t at = start + (word - cut) / 2;
    memcpy(text + at, "...", 3);
    memmove(text + at + 3, text + at + cut, len - (at + cut) + 1);
    len -= cut - 3;
  }
  if (len >= MESSAGE_BYTES) {
    size_t head = MESSAGE_BYTES / 4, tail = MESSAGE_BYTES - 1 - head - 3;
    memcpy(text + head, "...", 3);
    memmove(text + head + 3, text + len - tail, tail + 1);
    len = MESSAGE_BYTES - 1;
  }
  return len;
}

/* Formats through a scratch buffer so that fmt's arguments may include
 * timmc_error() itself (to prefix context onto an earlier message); one that
 * does not fit the stack's goes to the heap, so that shorten sees the whole
 * message (if that allocation fails, the end of the message is lost).
 * Control characters (from tensor names or file contents) become '?', so
 * that the message is always one line. */
int timmc_fail(int status, const char *fmt, ...) {
  char stack[2 * MESSAGE_BYTES], *buf = stack, *heap = NULL;
  va_list ap, again;
  va_start(ap, fmt);
  va_copy(again, ap);
  int n = vsnprintf(stack, sizeof stack, fmt, ap);
  va_end(ap);
  if (n >= (int)sizeof stack && (heap = malloc((size_t)n + 1)) != NULL) {
    vsnprintf(heap, (size_t)n + 1, fmt, again);
    buf = heap;
  }
  va_end(again);
  if (n < 0)
    buf[0] = '\0';
  size_t len = strlen(buf);
  for (char *p = buf; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = '?';
  len = shorten(buf, len);
  memcpy(message, buf, len + 1);
  free(heap);
  return status;
}

void timmc_format_shape(char *buf, size_t cap, int ndim, const int64_t *shape) {
  size_t len = (size_t)snprintf(buf, cap, "[");
  for (int i = 0; i < ndim && len < cap; i++)
    len += (size_t)snprintf(buf + len, cap - len, "%s%" PRId64, i ? ", " : "", shape[i]);
  if (len < cap)
    snprintf(buf + len, cap - len, "]");
}
