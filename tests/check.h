/*
 * check.h - the C unit tests' CHECK: counts passed and failed checks, and
 * prints each failure with its line. A test's main prints "N passed, M
 * failed" and exits 1 if any failed.
 */
#ifndef TIMMC_TEST_CHECK_H
#define TIMMC_TEST_CHECK_H

#include <stdio.h>

static int passed, failed;

static void check(int ok, const char *what, int line) {
  if (ok) {
    passed++;
  } else {
    failed++;
    printf("FAIL line %d: %s\n", line, what);
  }
}
#define CHECK(cond) check((cond) != 0, #cond, __LINE__)

#endif
