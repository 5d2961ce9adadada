/*
 * Small helpers more than one harness file needs, each with its one home
 * here so a fix lands once: creating a directory path. The step status setter
 * every step kind shares, step_fail(), lives in util.c too (declared with
 * the step contract in runctx.h), so a step file links without the others.
 */
#ifndef HARNESS_UTIL_H
#define HARNESS_UTIL_H

/** Creates path and its missing parents (mode 0755), like `mkdir -p`. 0 or -1 (errno). */
int harness_make_dirs(const char *path);

#endif
