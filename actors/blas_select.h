/* OpenBLAS's kernel set, chosen for the CPU at hand. Debian's OpenBLAS (DYNAMIC_ARCH) picks its kernels when it is
 * loaded, before main, and falls back to generic SSE3 kernels ("Prescott") on CPUs it does not know; only
 * OPENBLAS_CORETYPE, read at load time, overrides it. bg_blas_select, called first in main, compares that choice
 * with the CPU's features and, when the CPU can run a stronger set and the user has not set OPENBLAS_CORETYPE,
 * re-executes the program once with the better set. */
#ifndef BG_BLAS_SELECT_H
#define BG_BLAS_SELECT_H

#include <stddef.h>

/* CPU feature tiers, as OpenBLAS's x86-64 kernel sets need them (usable: the OS saves the registers too). */
enum {
    BG_CPU_AVX = 1u << 0,         /* Sandybridge kernels */
    BG_CPU_AVX2_FMA = 1u << 1,    /* AVX2 and FMA3: Haswell kernels */
    BG_CPU_AVX512 = 1u << 2,      /* AVX-512 F, CD, BW, DQ and VL: SkylakeX kernels */
    BG_CPU_AVX512_BF16 = 1u << 3, /* AVX-512 BF16 and VNNI as well: Cooperlake kernels */
};

/* This CPU's BG_CPU_* bits (0 off x86). */
unsigned bg_cpu_features(void);

/* The OpenBLAS kernel set to use instead of `current` (an openblas_get_corename() name) on a CPU with `features`,
 * or NULL when `current` is already of the CPU's best tier (or an unknown name, or NULL). Pure. */
const char *bg_blas_better_core(const char *current, unsigned features);

/* Call first in main, before anything is printed or read. May re-execute the program (once, argv unchanged);
 * returns otherwise. When the run still ends up on kernels weaker than the CPU allows and note is set, prints one
 * line on stderr saying so. */
void bg_blas_select(char **argv, int note);

/* "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY MAX_THREADS=64" (openblas_get_config() without the kernel name). */
const char *bg_blas_library(void);
/* The kernel set in use, e.g. "Cooperlake". */
const char *bg_blas_kernels(void);
/* Who chose it: "auto" (OpenBLAS), "user" (OPENBLAS_CORETYPE from the environment) or "byzgrid" (bg_blas_select). */
const char *bg_blas_coretype_from(void);
/* "OpenBLAS 0.3.21 ... MAX_THREADS=64, Cooperlake kernels (auto)" for the benchmarks' header lines. */
const char *bg_blas_describe(char *buf, size_t n);

#endif
