/*
 * timmc_file.c - read-only file mappings and atomic (temp file + rename) writes.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* madvise */
#include "timmc_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Opens PATH for reading as a regular file whose size fits a size_t; *fd and
 * *size on success. */
static int open_regular(const char *path, int *fd, size_t *size) {
  *fd = open(path, O_RDONLY);
  if (*fd < 0) return timmc_fail(TIMMC_EINPUT, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  const char *why = NULL;
  if (fstat(*fd, &sb) != 0)
    why = strerror(errno);
  else if (!S_ISREG(sb.st_mode))
    why = "not a regular file";
  else if ((uintmax_t)sb.st_size > SIZE_MAX)
    why = "file too large";
  if (why != NULL) {
    close(*fd);
    return timmc_fail(TIMMC_EINPUT, "%s: %s", path, why);
  }
  *size = (size_t)sb.st_size;
  return TIMMC_OK;
}

int timmc_file_map(const char *path, const void **data, size_t *size) {
  static const unsigned char empty[1];
  int fd, status = open_regular(path, &fd, size);
  *data = empty;
  if (status != TIMMC_OK) {
    *size = 0;
    return status;
  }
  if (*size > 0) {
    void *p = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      status = timmc_fail(TIMMC_EINPUT, "%s: cannot map: %s", path, strerror(errno));
      *size = 0;
    } else {
      *data = p;
    }
  }
  close(fd);
  return status;
}

void timmc_file_unmap(const void *data, size_t size) {
  if (size > 0) munmap((void *)data, size);
}

void timmc_file_release(const void *data, size_t size) {
  const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  const uintptr_t begin = ((uintptr_t)data + page - 1) / page * page;
  const uintptr_t end = ((uintptr_t)data + size) / page * page;
  if (end > begin) madvise((void *)begin, end - begin, MADV_DONTNEED);
}

static void release(timmc_file_writer *w) {
  free(w->tmp_path);
  free(w->path);
  w->tmp_path = w->path = NULL;
  w->f = NULL;
}

void timmc_file_abort(timmc_file_writer *w) {
  if (w->f != NULL)
    fclose(w->f);
  if (w->tmp_path != NULL)
    unlink(w->tmp_path);
  release(w);
  if (w->failed == 0)
    w->failed = TIMMC_ERUNTIME;
}

/* Records a failure (message first, while the paths still exist), then
 * removes the temporary file. */
static int fail(timmc_file_writer *w, const char *what, int e) {
  int status = timmc_fail(TIMMC_ERUNTIME, "%s: %s %s: %s", w->path, what,
                          w->tmp_path, strerror(e));
  timmc_file_abort(w);
  w->failed = status;
  return status;
}

/* The temporary file is created 0600 by mkstemp; it is widened to 0644, the
 * mode an ordinary output file would get under the usual umask. */
int timmc_file_begin(timmc_file_writer *w, const char *path) {
  static const char suffix[] = ".tmp.XXXXXX";
  size_t n = strlen(path);
  w->f = NULL;
  w->failed = 0;
  w->path = malloc(n + 1);
  w->tmp_path = malloc(n + sizeof suffix);
  if (w->path == NULL || w->tmp_path == NULL) {
    release(w);
    return w->failed = timmc_fail(TIMMC_ERUNTIME, "%s: out of memory", path);
  }
  memcpy(w->path, path, n + 1);
  memcpy(w->tmp_path, path, n);
  memcpy(w->tmp_path + n, suffix, sizeof suffix);
  int fd = mkstemp(w->tmp_path);
  if (fd < 0) {
    int e = errno;
    release(w);
    return w->failed = timmc_fail(TIMMC_ERUNTIME, "%s: cannot create %s%s: %s", path,
                                  path, suffix, strerror(e));
  }
  if (fchmod(fd, 0644) != 0 || (w->f = fdopen(fd, "wb")) == NULL) {
    int e = errno;
    close(fd);
    return fail(w, "cannot open", e);
  }
  return TIMMC_OK;
}

int timmc_file_put(timmc_file_writer *w, const void *data, size_t n) {
  if (w->failed)
    return w->failed;
  if (n > 0 && fwrite(data, 1, n, w->f) != n)
    return fail(w, "cannot write", errno);
  return TIMMC_OK;
}

int timmc_file_commit(timmc_file_writer *w) {
  if (w->failed)
    return w->failed;
  if (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0)
    return fail(w, "cannot write", errno);
  int rc = fclose(w->f);
  w->f = NULL;
  if (rc != 0)
    return fail(w, "cannot close", errno);
  if (rename(w->tmp_path, w->path) != 0)
    return fail(w, "cannot rename", errno);
  release(w);
  return TIMMC_OK;
}

int timmc_file_write(const char *path, const void *data, size_t n) {
  timmc_file_writer w;
  int status = timmc_file_begin(&w, path);
  if (status == TIMMC_OK)
    status = timmc_file_put(&w, data, n);
  if (status == TIMMC_OK)
    return timmc_file_commit(&w);
  timmc_file_abort(&w);
  return status;
}
