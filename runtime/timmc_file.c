/*
 * timmc_file.c - read-only file mappings, guarded reads from them, atomic
 * (temp file + rename) writes, all-or-nothing sets of output files, and the
 * removal of temporary files when a signal ends the process.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* madvise, flock */
#include "timmc_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- reading ------------------------------------------------------------ */

static const char *file_kind(mode_t m) {
  return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device"
         : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "an unknown kind";
}

/* Opens PATH for reading as a regular file whose size fits a size_t; *fd and
 * *size on success. O_NONBLOCK keeps the open of a FIFO (which would wait for
 * a writer) from blocking; the fstat of the opened descriptor then refuses it
 * and anything else that is not a regular file, with no window between a
 * check and the open. */
static int open_regular(const char *path, int *fd, size_t *size) {
  *fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (*fd < 0) return timmc_fail(TIMMC_EINPUT, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  const char *why = NULL;
  int flags;
  if (fstat(*fd, &sb) != 0)
    why = strerror(errno);
  else if (!S_ISREG(sb.st_mode))
    why = file_kind(sb.st_mode);
  else if ((uintmax_t)sb.st_size > SIZE_MAX)
    why = "file too large";
  else if ((flags = fcntl(*fd, F_GETFL)) < 0 || fcntl(*fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
    why = strerror(errno);
  if (why != NULL) {
    close(*fd);
    if (!S_ISREG(sb.st_mode))
      return timmc_fail(TIMMC_EINPUT, "%s: not a regular file (%s), expected a regular file",
                        path, why);
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

/* ---- reads that survive the file being cut short -------------------------
 *
 * A checkpoint is mapped rather than read, so that init's peak memory is the
 * packed weights and not twice the weights; but a page of a mapping that lies
 * past the end of a file truncated after mmap raises SIGBUS when touched, and
 * no check of the size beforehand closes that window. Reading the file
 * instead would double init's memory. So every read of a mapping goes through
 * timmc_file_guard: a SIGBUS handler, in place only while some thread is
 * inside a guard, jumps back (siglongjmp) out of the read when the faulting
 * address lies in the range that thread is reading, and the read becomes an
 * error. The guarded code only copies and converts values, so abandoning it
 * halfway leaves nothing locked or allocated. A SIGBUS the guard does not
 * own goes to the handler that was there before (or kills as by default).
 */
typedef struct guard {
  sigjmp_buf env;
  const char *lo, *hi;
} guard;

static _Thread_local guard *volatile guarded;
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
static int guard_users;
static struct sigaction guard_before;

static void on_sigbus(int sig, siginfo_t *si, void *uc) {
  guard *g = guarded;
  const char *at = si->si_addr;
  if (g != NULL && si->si_code > 0 && at >= g->lo && at < g->hi)
    siglongjmp(g->env, 1);
  if ((guard_before.sa_flags & SA_SIGINFO) && guard_before.sa_sigaction != NULL) {
    guard_before.sa_sigaction(sig, si, uc);
  } else if (guard_before.sa_handler != SIG_DFL && guard_before.sa_handler != SIG_IGN) {
    guard_before.sa_handler(sig);
  } else { /* die of it, as without the guard */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGBUS, &dfl, NULL);
    raise(SIGBUS);
  }
}

/* The handler is installed by the first thread to enter a guard and the
 * previous action put back by the last to leave. */
static int guard_enter(void) {
  int ok = 1;
  pthread_mutex_lock(&guard_lock);
  if (guard_users == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ok = sigaction(SIGBUS, &sa, &guard_before) == 0;
  }
  guard_users += ok;
  pthread_mutex_unlock(&guard_lock);
  return ok;
}

static void guard_leave(void) {
  pthread_mutex_lock(&guard_lock);
  if (--guard_users == 0)
    sigaction(SIGBUS, &guard_before, NULL);
  pthread_mutex_unlock(&guard_lock);
}

int timmc_file_guard(const char *what, const void *src, size_t n, void (*fn)(void *ctx),
                     void *ctx) {
  if (n == 0) {
    fn(ctx);
    return TIMMC_OK;
  }
  if (!guard_enter())
    return timmc_fail(TIMMC_ERUNTIME, "%s: cannot install a SIGBUS handler: %s", what,
                      strerror(errno));
  guard g, *volatile outer = guarded;
  int cut = 0;
  g.lo = src;
  g.hi = (const char *)src + n;
  if (sigsetjmp(g.env, 1) == 0) {
    guarded = &g;
    fn(ctx);
  } else {
    cut = 1;
  }
  guarded = outer;
  guard_leave();
  if (cut)
    return timmc_fail(TIMMC_EINPUT, "%s: the file changed size while being read (it was cut "
                      "short after it was opened)", what);
  return TIMMC_OK;
}

typedef struct copy_args {
  void *dst;
  const void *src;
  size_t n;
} copy_args;

static void copy(void *ctx) {
  const copy_args *a = ctx;
  memcpy(a->dst, a->src, a->n);
}

int timmc_file_copy(const char *what, void *dst, const void *src, size_t n) {
  copy_args a = {dst, src, n};
  return timmc_file_guard(what, src, n, copy, &a);
}

/* ---- temporary files removed on SIGINT, SIGTERM and SIGHUP ---------------
 *
 * The paths of the temporary files and directories in existence are kept in
 * static slots, which a signal handler can read without allocating: a slot
 * is FREE, CLAIMED (being filled) or LIVE. Between creating a temporary file
 * and recording it, and between renaming it into place and forgetting it, the
 * code is "critical": a signal arriving then (on any thread) is only noted,
 * and raised again when the last critical section ends, so that the handler
 * never sees half of a step (and never removes half of a committed set).
 */
enum { FREE, CLAIMED, LIVE };
#define SLOTS 32

static struct slot {
  int state, dir;
  char path[PATH_MAX];
} slots[SLOTS];

static int critical, deferred;

static void enter_critical(void) { __atomic_add_fetch(&critical, 1, __ATOMIC_SEQ_CST); }

static void leave_critical(void) {
  if (__atomic_sub_fetch(&critical, 1, __ATOMIC_SEQ_CST) == 0) {
    int sig = __atomic_exchange_n(&deferred, 0, __ATOMIC_SEQ_CST);
    if (sig != 0)
      raise(sig);
  }
}

/* Records PATH for removal by a signal; the slot, or -1 when there is no
 * room (then the file is not removed by a signal, nothing worse). */
static int track(const char *path, int dir) {
  if (strlen(path) >= sizeof slots[0].path)
    return -1;
  for (int i = 0; i < SLOTS; i++) {
    int expected = FREE;
    if (__atomic_compare_exchange_n(&slots[i].state, &expected, CLAIMED, 0, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST)) {
      strcpy(slots[i].path, path);
      slots[i].dir = dir;
      __atomic_store_n(&slots[i].state, LIVE, __ATOMIC_SEQ_CST);
      return i;
    }
  }
  return -1;
}

static void untrack(int slot) {
  if (slot >= 0)
    __atomic_store_n(&slots[slot].state, FREE, __ATOMIC_SEQ_CST);
}

static void on_exit_signal(int sig) {
  int saved = errno;
  __atomic_store_n(&deferred, sig, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&critical, __ATOMIC_SEQ_CST) > 0) {
    errno = saved;
    return; /* raised again by leave_critical */
  }
  for (int pass = 0; pass < 2; pass++) /* files, then the directories they were in */
    for (int i = 0; i < SLOTS; i++)
      if (__atomic_load_n(&slots[i].state, __ATOMIC_SEQ_CST) == LIVE && slots[i].dir == pass)
        (void)(pass ? rmdir(slots[i].path) : unlink(slots[i].path));
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(sig, &dfl, NULL);
  raise(sig); /* pending until the handler returns, then ends the process */
  errno = saved;
}

int timmc_file_cleanup_on_signals(void) {
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_exit_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    sigaddset(&sa.sa_mask, sigs[i]);
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    if (sigaction(sigs[i], NULL, &old) != 0)
      return timmc_fail(TIMMC_ERUNTIME, "cannot read the action of signal %d: %s", sigs[i],
                        strerror(errno));
    if (old.sa_handler == SIG_IGN && !(old.sa_flags & SA_SIGINFO))
      continue; /* e.g. SIGINT of a background job, SIGHUP under nohup */
    if (sigaction(sigs[i], &sa, NULL) != 0)
      return timmc_fail(TIMMC_ERUNTIME, "cannot handle signal %d: %s", sigs[i],
                        strerror(errno));
  }
  return TIMMC_OK;
}

/* ---- the atomic writer -------------------------------------------------- */

/* A path that cannot be written is bad input; anything else (a full disk, an
 * I/O error) is a runtime failure. */
static int path_status(int e) {
  switch (e) {
  case EACCES: case EPERM: case EROFS: case ENOENT: case ENOTDIR: case EISDIR:
  case ENAMETOOLONG: case ELOOP: case EEXIST: case ENOTEMPTY: case EBUSY:
    return TIMMC_EINPUT;
  default:
    return TIMMC_ERUNTIME;
  }
}

/* mkstemp, but with mode 0666 so that the umask (and a default ACL) decides
 * the file's mode as for any file a program creates. TEMPLATE ends in
 * XXXXXX. */
static int create_temp(char *template) {
  static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static uint64_t counter;
  char *x = template + strlen(template) - 6;
  for (int attempt = 0; attempt < 1000; attempt++) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t v = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 32 ^ (uint64_t)getpid() << 12 ^
                 __atomic_add_fetch(&counter, 0x9E3779B97F4A7C15ull, __ATOMIC_RELAXED);
    v = (v ^ v >> 30) * 0xBF58476D1CE4E5B9ull; /* splitmix64's finaliser */
    v = (v ^ v >> 27) * 0x94D049BB133111EBull;
    v ^= v >> 31;
    for (int i = 0; i < 6; i++, v /= 62)
      x[i] = chars[v % 62];
    int fd = open(template, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST)
      return fd;
  }
  return -1;
}

static void release(timmc_file_writer *w) {
  free(w->tmp_path);
  free(w->path);
  w->tmp_path = w->path = NULL;
  w->f = NULL;
  w->slot = -1;
}

void timmc_file_abort(timmc_file_writer *w) {
  if (w->f != NULL)
    fclose(w->f);
  if (w->tmp_path != NULL) {
    unlink(w->tmp_path);
    untrack(w->slot);
  }
  release(w);
  if (w->failed == 0)
    w->failed = TIMMC_ERUNTIME;
}

/* Records a failure (message first, while the paths still exist), then
 * removes the temporary file. */
static int fail(timmc_file_writer *w, int status, const char *what, int e) {
  status = timmc_fail(status, "%s: %s %s: %s", w->path, what, w->tmp_path, strerror(e));
  timmc_file_abort(w);
  w->failed = status;
  return status;
}

int timmc_file_begin(timmc_file_writer *w, const char *path) {
  static const char suffix[] = ".tmp.XXXXXX";
  size_t n = strlen(path);
  w->f = NULL;
  w->failed = 0;
  w->slot = -1;
  if (n == 0)
    return w->failed = timmc_fail(TIMMC_EINPUT, "cannot write a file with an empty name");
  w->path = malloc(n + 1);
  w->tmp_path = malloc(n + sizeof suffix);
  if (w->path == NULL || w->tmp_path == NULL) {
    release(w);
    return w->failed = timmc_fail(TIMMC_ERUNTIME, "%s: out of memory", path);
  }
  memcpy(w->path, path, n + 1);
  memcpy(w->tmp_path, path, n);
  memcpy(w->tmp_path + n, suffix, sizeof suffix);
  enter_critical();
  int fd = create_temp(w->tmp_path), e = errno;
  if (fd >= 0)
    w->slot = track(w->tmp_path, 0);
  leave_critical();
  if (fd < 0) {
    release(w);
    return w->failed = timmc_fail(path_status(e), "%s: cannot create %s%s: %s", path, path,
                                  suffix, strerror(e));
  }
  if ((w->f = fdopen(fd, "wb")) == NULL) {
    e = errno;
    close(fd);
    return fail(w, TIMMC_ERUNTIME, "cannot open", e);
  }
  return TIMMC_OK;
}

int timmc_file_put(timmc_file_writer *w, const void *data, size_t n) {
  if (w->failed)
    return w->failed;
  if (n > 0 && fwrite(data, 1, n, w->f) != n)
    return fail(w, TIMMC_ERUNTIME, "cannot write", errno);
  return TIMMC_OK;
}

int timmc_file_commit(timmc_file_writer *w) {
  if (w->failed)
    return w->failed;
  if (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0)
    return fail(w, TIMMC_ERUNTIME, "cannot write", errno);
  int rc = fclose(w->f);
  w->f = NULL;
  if (rc != 0)
    return fail(w, TIMMC_ERUNTIME, "cannot close", errno);
  enter_critical();
  rc = rename(w->tmp_path, w->path);
  int e = errno;
  if (rc == 0)
    untrack(w->slot);
  leave_critical();
  if (rc != 0)
    return fail(w, path_status(e), "cannot rename", e);
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

/* ---- sets of output files ----------------------------------------------- */

/* mkdir -p DIR; *made is the length of DIR up to the first directory this
 * call created (0 if it created none), for removing them again. */
static int make_dirs(const char *dir, size_t *made) {
  char *path = strdup(dir);
  *made = 0;
  if (path == NULL)
    return timmc_fail(TIMMC_ERUNTIME, "%s: out of memory", dir);
  for (char *p = path + 1;; p++) {
    const char c = *p;
    if (c != '/' && c != '\0')
      continue;
    *p = '\0';
    if (mkdir(path, 0777) == 0) {
      if (*made == 0)
        *made = (size_t)(p - path);
    } else if (errno != EEXIST) {
      int e = errno, status = timmc_fail(path_status(e), "%s: cannot create the output "
                                         "directory: %s", path, strerror(e));
      free(path);
      return status;
    }
    *p = c;
    if (c == '\0')
      break;
  }
  free(path);
  return TIMMC_OK;
}

int timmc_file_mkdirs(const char *dir) {
  size_t made;
  return make_dirs(dir, &made);
}

/* Removes the directories make_dirs created for DIR (those still empty). */
static void remove_made(const char *dir, size_t made) {
  char *p = made > 0 ? strdup(dir) : NULL;
  if (p == NULL)
    return;
  size_t n = strlen(p);
  while (n >= made) {
    p[n] = '\0';
    rmdir(p);
    while (n > 0 && p[n - 1] != '/')
      n--;
    while (n > 0 && p[n - 1] == '/')
      n--;
  }
  free(p);
}

static void set_free(timmc_file_set *s) {
  free(s->dir);
  free(s->tmp);
  free(s->path);
  free(s->name);
  free(s->slots);
  s->dir = s->tmp = s->path = s->name = NULL;
  s->slots = NULL;
  s->count = 0;
  s->tmp_slot = -1;
}

static int set_fail(timmc_file_set *s, int status) {
  timmc_file_set_abort(s);
  return s->failed = status;
}

int timmc_file_set_begin(timmc_file_set *s, const char *dir, const char *prefix,
                         const char *suffix) {
  static const char tmp_name[] = "/.timmc.XXXXXX";
  memset(s, 0, sizeof *s);
  s->tmp_slot = -1;
  s->prefix = prefix;
  s->suffix = suffix;
  if (dir[0] == '\0')
    return s->failed = timmc_fail(TIMMC_EINPUT, "the output directory's name is empty");
  size_t n = strlen(dir);
  s->dir = strdup(dir);
  s->tmp = malloc(n + sizeof tmp_name);
  s->name = malloc(strlen(prefix) + 12 + strlen(suffix));
  s->path = malloc(n + sizeof tmp_name + 1 + strlen(prefix) + 12 + strlen(suffix));
  if (s->dir == NULL || s->tmp == NULL || s->name == NULL || s->path == NULL)
    return set_fail(s, timmc_fail(TIMMC_ERUNTIME, "%s: out of memory", dir));
  int status = make_dirs(dir, &s->created);
  if (status != TIMMC_OK)
    return set_fail(s, status);
  struct stat sb;
  if (stat(dir, &sb) != 0)
    return set_fail(s, timmc_fail(path_status(errno), "%s: cannot use the output directory: "
                                  "%s", dir, strerror(errno)));
  if (!S_ISDIR(sb.st_mode))
    return set_fail(s, timmc_fail(TIMMC_EINPUT, "%s: not a directory (%s), expected an output "
                                  "directory", dir, S_ISREG(sb.st_mode) ? "a file"
                                  : file_kind(sb.st_mode)));
  memcpy(s->tmp, dir, n);
  memcpy(s->tmp + n, tmp_name, sizeof tmp_name);
  enter_critical();
  int ok = mkdtemp(s->tmp) != NULL, e = errno;
  if (ok)
    s->tmp_slot = track(s->tmp, 1);
  leave_critical();
  if (!ok) {
    free(s->tmp);
    s->tmp = NULL;
    return set_fail(s, timmc_fail(path_status(e), "%s: cannot write in the output directory: "
                                  "%s", dir, strerror(e)));
  }
  return TIMMC_OK;
}

/* s->name = PREFIX I SUFFIX */
static void set_name(timmc_file_set *s, int i) {
  sprintf(s->name, "%s%d%s", s->prefix, i, s->suffix);
}

int timmc_file_set_path(timmc_file_set *s, int i, const char **path) {
  *path = NULL;
  if (s->failed)
    return s->failed;
  if (i < 0 || i > 100000)
    return set_fail(s, timmc_fail(TIMMC_ERUNTIME, "%s: file %d of a set", s->dir, i));
  if (i >= s->count) {
    int *more = realloc(s->slots, (size_t)(i + 1) * sizeof *more);
    if (more == NULL)
      return set_fail(s, timmc_fail(TIMMC_ERUNTIME, "%s: out of memory", s->dir));
    s->slots = more;
    for (; s->count <= i; s->count++)
      s->slots[s->count] = -1;
  }
  set_name(s, i);
  sprintf(s->path, "%s/%s", s->tmp, s->name);
  if (s->slots[i] < 0)
    s->slots[i] = track(s->path, 0);
  *path = s->path;
  return TIMMC_OK;
}

/* N if NAME is PREFIX N SUFFIX (N decimal, no leading zero, at most 9
 * digits), else -1. */
static long set_index(const timmc_file_set *s, const char *name) {
  size_t np = strlen(s->prefix), ns = strlen(s->suffix), n = strlen(name);
  if (n <= np + ns || strncmp(name, s->prefix, np) != 0 || strcmp(name + n - ns, s->suffix) != 0)
    return -1;
  size_t digits = n - np - ns;
  const char *d = name + np;
  if (digits > 9 || (digits > 1 && d[0] == '0'))
    return -1;
  long v = 0;
  for (size_t k = 0; k < digits; k++) {
    if (d[k] < '0' || d[k] > '9')
      return -1;
    v = v * 10 + (d[k] - '0');
  }
  return v;
}

/* Removes DIR's files of an earlier set numbered COUNT and up. */
static int remove_stale(timmc_file_set *s, int dfd, int count) {
  int fd = dup(dfd);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (d == NULL) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    return timmc_fail(TIMMC_ERUNTIME, "%s: cannot list the output directory: %s", s->dir,
                      strerror(e));
  }
  int status = TIMMC_OK;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (set_index(s, e->d_name) >= count && unlinkat(dfd, e->d_name, 0) != 0 &&
        errno != ENOENT && errno != EISDIR && status == TIMMC_OK)
      status = timmc_fail(path_status(errno), "%s/%s: cannot remove this file of an earlier "
                          "run: %s", s->dir, e->d_name, strerror(errno));
  }
  closedir(d);
  return status;
}

/* Fails, before anything moves, if a file of the set could not replace what
 * DIR holds under its name (a directory there). */
static int check_targets(timmc_file_set *s, int dfd, int count) {
  struct stat sb;
  for (int i = 0; i < count; i++) {
    set_name(s, i);
    if (fstatat(dfd, s->name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode))
      return timmc_fail(TIMMC_EINPUT, "%s/%s: is a directory, expected an output file or "
                        "nothing", s->dir, s->name);
  }
  return TIMMC_OK;
}

static int flock_wait(int fd) {
  int rc;
  while ((rc = flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
  }
  return rc;
}

/* Locks the directory DFD for the commit of a set: flock on the directory
 * itself, which leaves nothing behind in it; where a file system cannot lock
 * a directory opened read-only (NFS emulates flock with write locks), on the
 * file .timmc.lock in it instead, which then stays. The descriptor holding
 * the lock (DFD or another), or -1. */
static int lock_dir(int dfd) {
  if (flock_wait(dfd) == 0)
    return dfd;
  if (errno != EBADF && errno != ENOLCK && errno != EINVAL && errno != EOPNOTSUPP)
    return -1;
  int fd = openat(dfd, ".timmc.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
  if (fd >= 0 && flock_wait(fd) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    fd = -1;
  }
  return fd;
}

int timmc_file_set_commit(timmc_file_set *s, int count) {
  if (s->failed)
    return s->failed;
  if (count < 0 || count > s->count)
    return set_fail(s, timmc_fail(TIMMC_ERUNTIME, "%s: %d files named but %d committed",
                                  s->dir, s->count, count));
  int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return set_fail(s, timmc_fail(path_status(errno), "%s: cannot open the output directory: "
                                  "%s", s->dir, strerror(errno)));
  int lfd = lock_dir(dfd);
  if (lfd < 0) {
    int e = errno;
    close(dfd);
    return set_fail(s, timmc_fail(TIMMC_ERUNTIME, "%s: cannot lock the output directory: %s",
                                  s->dir, strerror(e)));
  }
  int status = check_targets(s, dfd, count);
  enter_critical();
  for (int i = 0; i < count && status == TIMMC_OK; i++) {
    set_name(s, i);
    sprintf(s->path, "%s/%s", s->tmp, s->name);
    if (renameat(AT_FDCWD, s->path, dfd, s->name) != 0) {
      status = timmc_fail(path_status(errno), "%s/%s: cannot move the output into place: %s",
                          s->dir, s->name, strerror(errno));
    } else {
      untrack(s->slots[i]);
      s->slots[i] = -1;
    }
  }
  if (status == TIMMC_OK)
    status = remove_stale(s, dfd, count);
  leave_critical();
  if (lfd != dfd)
    close(lfd);
  close(dfd); /* and with it the lock */
  if (status != TIMMC_OK)
    return set_fail(s, status);
  s->created = 0; /* the directories made now hold the set */
  timmc_file_set_abort(s);
  s->failed = 0;
  return TIMMC_OK;
}

/* Removes the files of the set still in the temporary directory (by name:
 * a file that could not be tracked for signals is removed all the same),
 * then the directory. */
void timmc_file_set_abort(timmc_file_set *s) {
  for (int i = 0; s->tmp != NULL && i < s->count; i++) {
    set_name(s, i);
    sprintf(s->path, "%s/%s", s->tmp, s->name);
    unlink(s->path);
    untrack(s->slots[i]);
  }
  if (s->tmp != NULL) {
    rmdir(s->tmp);
    untrack(s->tmp_slot);
  }
  if (s->dir != NULL)
    remove_made(s->dir, s->created);
  s->created = 0;
  set_free(s);
  if (s->failed == 0)
    s->failed = TIMMC_ERUNTIME;
}
