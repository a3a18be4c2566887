// Instruction hints for hot loops: the spin-wait pause and software prefetches.
//
// `static inline` C functions, because the other ways to reach these instructions from Swift each
// fail in one build mode: `_mm_pause` from `_Builtin_intrinsics.intel` is imported as a call to an
// external symbol that no library defines, `_mm_prefetch` is a macro Swift cannot import, and LLVM
// intrinsics bound with `@_silgen_name` abort swift-frontend under `-sanitize=thread` ("Cannot
// invoke an intrinsic"). In optimised builds clang's code for these inlines into the Swift caller.
#ifndef GPT2_CPU_HINTS_H
#define GPT2_CPU_HINTS_H

/// The spin-wait hint: `pause` on x86-64, `yield` on ARM64, nothing elsewhere.
static inline void gpt2_cpu_pause(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// Prefetches the cache line at `address` for reading into all cache levels (`prefetcht0`).
static inline void gpt2_prefetch_l1(const void *address) { __builtin_prefetch(address, 0, 3); }

/// Prefetches the cache line at `address` for reading into L2 and below (`prefetcht1`).
static inline void gpt2_prefetch_l2(const void *address) { __builtin_prefetch(address, 0, 2); }

#endif
