// libnuma (Debian: libnuma-dev) for NUMA topology and memory placement, plus the two glibc
// CPU-affinity calls that Swift's Glibc module does not import (they need _GNU_SOURCE, which
// must not be defined here: it would change glibc's struct definitions against SwiftGlibc's).
#ifndef GPT2_CNUMA_SHIM_H
#define GPT2_CNUMA_SHIM_H
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <stddef.h>

// glibc's own functions, declared under private names with a byte-mask argument.
int gpt2_sched_getaffinity_(int pid, size_t size, unsigned char *mask) __asm__("sched_getaffinity");
int gpt2_pthread_setaffinity_np_(pthread_t thread, size_t size, const unsigned char *mask) __asm__("pthread_setaffinity_np");

int gpt2_sched_getcpu(void) __asm__("sched_getcpu");  // the CPU the caller runs on, or -1

enum { GPT2_CPU_MASK_BYTES = 128 };  // 1024 CPUs, glibc's CPU_SETSIZE

/// Pins the calling thread to one CPU. Returns 0 or an errno value.
static inline int gpt2_pin_current_thread(int cpu) {
    unsigned char mask[GPT2_CPU_MASK_BYTES] = {0};
    if (cpu < 0 || cpu >= GPT2_CPU_MASK_BYTES * 8) return 22;  // EINVAL
    mask[cpu / 8] = (unsigned char)(1u << (cpu % 8));
    return gpt2_pthread_setaffinity_np_(pthread_self(), sizeof(mask), mask);
}

/// Writes the CPUs this process may run on into `cpus` (at most `capacity`); returns how many,
/// or -1 if the affinity mask cannot be read.
static inline int gpt2_allowed_cpus(int *cpus, int capacity) {
    unsigned char mask[GPT2_CPU_MASK_BYTES] = {0};
    if (gpt2_sched_getaffinity_(0, sizeof(mask), mask) != 0) return -1;
    int n = 0;
    for (int cpu = 0; cpu < GPT2_CPU_MASK_BYTES * 8 && n < capacity; cpu++)
        if (mask[cpu / 8] & (1u << (cpu % 8))) cpus[n++] = cpu;
    return n;
}
#endif
