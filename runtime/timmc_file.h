/*
 * timmc_file.h - read-only file mappings, guarded reads from them, atomic
 * (temp file + rename) writes, all-or-nothing sets of output files, and the
 * removal of temporary files when a signal ends the process.
 */
#ifndef TIMMC_FILE_H
#define TIMMC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "timmc.h"

/* Maps PATH read-only (an empty file gives size 0); unmap with
 * timmc_file_unmap. Anything but a regular file (a FIFO, a device, a
 * directory) is refused without blocking. */
int timmc_file_map(const char *path, const void **data, size_t *size);
void timmc_file_unmap(const void *data, size_t size);
/* Gives back the whole pages of a mapped range that was read (it reads back
 * from the file if touched again), so a checkpoint's pages do not pile up
 * while init packs its weights. */
void timmc_file_release(const void *data, size_t size);

/*
 * Reads of a mapping that survive the file being cut short under it. A read
 * of a mapped page past the new end of a truncated file raises SIGBUS; inside
 * timmc_file_guard that signal, for an address in [SRC, SRC + N), makes
 * timmc_file_guard return TIMMC_EINPUT with the message "WHAT: the file
 * changed size while being read" instead of killing the process. FN(CTX) runs
 * under the guard and must only read memory and compute (no locks, no heap),
 * since it may be abandoned halfway. Any other SIGBUS goes where it went
 * before. Works on plain memory too (nothing can fault there).
 */
int timmc_file_guard(const char *what, const void *src, size_t n, void (*fn)(void *ctx),
                     void *ctx);
/* timmc_file_guard around memcpy(DST, SRC, N). */
int timmc_file_copy(const char *what, void *dst, const void *src, size_t n);

/*
 * An atomic writer: data goes to PATH.tmp.XXXXXX in the same directory and is
 * renamed onto PATH by timmc_file_commit. After any failure, or after
 * timmc_file_abort, neither PATH nor the temporary file has been touched or
 * left behind; later calls return the same status and change nothing. The
 * file gets mode 0666 less the umask, as a file made by open(2) would. A path
 * that cannot be written (missing or unwritable directory, a directory in the
 * way) is TIMMC_EINPUT; a failing write (disk full) is TIMMC_ERUNTIME.
 */
typedef struct timmc_file_writer {
  FILE *f;
  char *tmp_path;
  char *path;
  int failed; /* status of the first failure, 0 while all is well */
  int slot;   /* where the signal cleanup knows tmp_path, -1 if nowhere */
} timmc_file_writer;

int timmc_file_begin(timmc_file_writer *w, const char *path);
int timmc_file_put(timmc_file_writer *w, const void *data, size_t n);
int timmc_file_commit(timmc_file_writer *w);
/* Closes and removes the temporary file; safe to call in any state. */
void timmc_file_abort(timmc_file_writer *w);
/* The whole of DATA to PATH through the atomic writer. */
int timmc_file_write(const char *path, const void *data, size_t n);
/* mkdir -p DIR (a path that is in the way is an error naming it). */
int timmc_file_mkdirs(const char *dir);

/*
 * A set of files DIR/<prefix>0<suffix>, <prefix>1<suffix>, ... written as a
 * whole. timmc_file_set_begin makes DIR (mkdir -p) and a private temporary
 * directory DIR/.timmc.XXXXXX; each file is written there (at the path
 * timmc_file_set_path gives) and timmc_file_set_commit moves them all into
 * DIR and then removes DIR's <prefix>N<suffix> for every N >= count (an
 * earlier set with more files), so no file of an earlier set survives beside
 * the new one. Before commit nothing in DIR has changed, and
 * timmc_file_set_abort leaves DIR as it was (removing the directories begin
 * made). Writers of one DIR take turns: commit holds flock(DIR, LOCK_EX)
 * (or, where a directory cannot be locked, a lock on DIR/.timmc.lock) while it
 * replaces the set, and holds back SIGINT, SIGTERM and SIGHUP meanwhile, so
 * two processes, or a signal, never leave a mixed set. (A reader looking
 * while a commit runs may see some files new and some old; the set is whole
 * again when the commit returns.)
 */
typedef struct timmc_file_set {
  char *dir;                   /* DIR */
  char *tmp;                   /* DIR/.timmc.XXXXXX while the set is open, else NULL */
  char *path, *name;           /* scratch: a path in tmp, a file's name */
  const char *prefix, *suffix; /* the caller's strings, alive until commit or abort */
  size_t created;              /* DIR's length up to the first directory begin made, or 0 */
  int count;                   /* files named by timmc_file_set_path so far */
  int *slots, tmp_slot;        /* where the signal cleanup knows them, -1 if nowhere */
  int failed;
} timmc_file_set;

int timmc_file_set_begin(timmc_file_set *s, const char *dir, const char *prefix,
                         const char *suffix);
/* The path in the temporary directory at which to write file I of the set. */
int timmc_file_set_path(timmc_file_set *s, int i, const char **path);
/* Moves files 0 .. COUNT-1 (all written) into DIR as described above. */
int timmc_file_set_commit(timmc_file_set *s, int count);
/* Removes the temporary directory and what is in it; safe in any state. */
void timmc_file_set_abort(timmc_file_set *s);

/*
 * Makes SIGINT, SIGTERM and SIGHUP remove the temporary files and directories
 * of the writers and sets in progress before the process dies of the signal
 * as it would have (signals the process ignores stay ignored). For programs
 * (the runner); the library installs no handler by itself.
 */
int timmc_file_cleanup_on_signals(void);

#endif
