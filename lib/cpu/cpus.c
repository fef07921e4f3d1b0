/* cpus.c: how many CPUs this process may use (see cpu.h fn_cpu_count). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include "cpu.h"

/* the CPU quota of the cgroup v2 at dir ("QUOTA PERIOD" in cpu.max; "max" is none): quota / period,
 * or 0 when there is none */
static double v2_quota(const char *dir) {
    char p[4300], q[32];
    long period = 0;
    snprintf(p, sizeof p, "/sys/fs/cgroup%s/cpu.max", dir);
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    int n = fscanf(f, "%31s %ld", q, &period);
    fclose(f);
    if (n != 2 || !strcmp(q, "max") || period <= 0) return 0;
    double quota = strtod(q, NULL);
    return quota > 0 ? quota / (double)period : 0;
}

/* cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us (quota -1 is none) */
static double v1_quota(void) {
    long quota = -1, period = 0;
    FILE *f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "r"), *g = fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "r");
    if (f && fscanf(f, "%ld", &quota) != 1) quota = -1;
    if (g && fscanf(g, "%ld", &period) != 1) period = 0;
    if (f) fclose(f);
    if (g) fclose(g);
    return quota > 0 && period > 0 ? (double)quota / (double)period : 0;
}

/* the quota of this process's cgroup (v2: its own folder from /proc/self/cgroup, then the root as a
 * container sees it; else v1) */
static double cgroup_quota(void) {
    char line[4200], dir[4200] = "";
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (f) {
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "0::", 3)) {
                line[strcspn(line, "\n")] = 0;
                snprintf(dir, sizeof dir, "%s", strcmp(line + 3, "/") ? line + 3 : "");
            }
        fclose(f);
    }
    double q = dir[0] ? v2_quota(dir) : 0;
    if (q <= 0) q = v2_quota("");
    if (q <= 0) q = v1_quota();
    return q;
}

int fn_cpu_count(void) {
    int n = omp_get_max_threads(); /* OMP_NUM_THREADS, else the CPUs of the affinity mask */
    double q = cgroup_quota();
    if (q > 0 && ceil(q) < n) n = (int)ceil(q);
    return n < 1 ? 1 : n;
}
