// For element loops that must vectorize and give the same bits on every
// CPU (AdamW's update, the fused cross-entropy, dropout's draws). Such a
// loop lives in a file of its own that CMakeLists.txt compiles with
// -fno-math-errno (a square root that sets no errno vectorizes) and
// -ffp-contract=off (no FMA: a*b+c rounds twice everywhere).
// EMBER_VECTOR_CLONES on its entry points: with GCC on x86-64 Linux, AVX-512,
// AVX2
// and baseline (SSE2) copies, which the loader picks from for the CPU at
// start-up (target_clones). Each copy computes every element with the same
// IEEE operations in the same order, so a resumed run or a torchrun rank on
// another CPU computes the same bits.
// EMBER_INLINE on the helpers they call: inlined into each copy, so that
// they compile for its instructions too.
#pragma once

// Not under AddressSanitizer: the loader runs the clones' resolvers before
// ASan is set up (google/sanitizers#342).
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define EMBER_VECTOR_CLONES \
  __attribute__((target_clones("avx512f", "avx2", "default")))
#define EMBER_INLINE inline __attribute__((always_inline))
#else
#define EMBER_VECTOR_CLONES
#define EMBER_INLINE inline
#endif
