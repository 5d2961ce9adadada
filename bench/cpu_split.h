/*
 * Where the CPU of a benchmark went: per thread of this process (by thread
 * name) and for the children of one process (the PostgreSQL backends of the
 * postmaster), read from /proc between two snapshots. Benchmarks print it so
 * a throughput figure comes with the reason it is not higher (which thread
 * is saturated, which waits).
 */
#ifndef DBEV_BENCH_CPU_SPLIT_H
#define DBEV_BENCH_CPU_SPLIT_H

#include <stdio.h>
#include <sys/types.h>

#define CPU_SPLIT_MAX 64

typedef struct cpu_split {
    int n;
    char name[CPU_SPLIT_MAX][20];
    double seconds[CPU_SPLIT_MAX]; /* user + system */
} cpu_split_t;

/* Takes a snapshot: this process's threads, summed by name, and the children
 * of parent (0: none) with the parent itself and the children it reaped, as
 * one entry named child_label. */
void cpu_split_take(cpu_split_t *snap, pid_t parent, const char *child_label);

/* Prints each entry's share of one core between before and after, over
 * wall_s seconds, busiest first, on one line after the prefix. */
void cpu_split_print(FILE *out, const char *prefix, const cpu_split_t *before,
                     const cpu_split_t *after, double wall_s);

/* Seconds of CPU (user + system) between before and after, over every entry
 * (this process's threads and the children): what the measured work cost. */
double cpu_split_total(const cpu_split_t *before, const cpu_split_t *after);

#endif
