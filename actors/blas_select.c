/* OpenBLAS's kernel set chosen from the CPU's features: see blas_select.h. */
#include "blas_select.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

char *openblas_get_corename(void);
char *openblas_get_config(void);

/* Set in the environment of the re-executed program (value: the kernel set byzgrid asked for), so that it never
 * re-executes again; removed there, with OPENBLAS_CORETYPE, so programs it starts see the user's environment. */
#define BG_BLAS_MARK "BYZGRID_BLAS_REEXEC"
/* Tests only: decide as if OpenBLAS had chosen this kernel set (exercises the re-execution on any CPU). */
#define BG_BLAS_ASSUME "BYZGRID_BLAS_ASSUME_CORE"

unsigned bg_cpu_features(void)
{
    unsigned f = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx"))
        f |= BG_CPU_AVX;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        f |= BG_CPU_AVX2_FMA;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        f |= BG_CPU_AVX512;
    if ((f & BG_CPU_AVX512) && __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vnni"))
        f |= BG_CPU_AVX512_BF16;
#endif
    return f;
}

/* OpenBLAS's x86 kernel sets (names as openblas_get_corename() gives them) by the instructions they use:
 * 0 SSE2/SSE3, 1 AVX, 2 AVX2 + FMA, 3 AVX-512. */
static const struct {
    const char *name;
    int tier;
} cores[] = {
    {"Katmai", 0},     {"Coppermine", 0}, {"Northwood", 0},   {"Prescott", 0},    {"Banias", 0},
    {"Atom", 0},       {"Core2", 0},      {"Penryn", 0},      {"Dunnington", 0},  {"Nehalem", 0},
    {"Athlon", 0},     {"Opteron", 0},    {"Opteron_SSE3", 0}, {"Barcelona", 0},  {"Bobcat", 0},
    {"Nano", 0},       {"Sandybridge", 1}, {"Bulldozer", 1},  {"Piledriver", 1},  {"Steamroller", 1},
    {"Excavator", 1},  {"Haswell", 2},    {"Zen", 2},         {"SkylakeX", 3},    {"Cooperlake", 3},
    {"SapphireRapids", 3},
};

static int core_tier(const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < sizeof cores / sizeof cores[0]; i++)
        if (!strcasecmp(name, cores[i].name))
            return cores[i].tier;
    return -1;
}

static int cpu_tier(unsigned features)
{
    return features & (BG_CPU_AVX512 | BG_CPU_AVX512_BF16) ? 3
           : features & BG_CPU_AVX2_FMA                    ? 2
           : features & BG_CPU_AVX                         ? 1
                                                           : 0;
}

static const char *const tier_name[] = {"SSE", "AVX", "AVX2", "AVX-512"};

/* Per tier, the set measured fastest on an AMD EPYC with AVX-512 (README): Haswell's kernels beat Zen's there, and
 * Cooperlake's equal SkylakeX's for sgemm (they add bf16 routines), so Cooperlake only where the CPU has bf16. */
const char *bg_blas_better_core(const char *current, unsigned features)
{
    int have = core_tier(current), can = cpu_tier(features);
    if (have < 0 || can <= have)
        return NULL;
    switch (can) {
    case 3:
        return features & BG_CPU_AVX512_BF16 ? "Cooperlake" : "SkylakeX";
    case 2:
        return "Haswell";
    default:
        return "Sandybridge";
    }
}

static const char *coretype_from = "auto";

const char *bg_blas_coretype_from(void)
{
    return coretype_from;
}

const char *bg_blas_kernels(void)
{
    const char *c = openblas_get_corename();
    return c ? c : "unknown";
}

const char *bg_blas_library(void)
{
    static char lib[256];
    const char *cfg = openblas_get_config(), *core = bg_blas_kernels();
    snprintf(lib, sizeof lib, "%s", cfg ? cfg : "OpenBLAS");
    /* DYNAMIC_ARCH builds append the kernel name; it has its own field */
    size_t l = strlen(core);
    for (char *p = strchr(lib, ' '); p && l; p = strchr(p + 1, ' '))
        if (!strncmp(p + 1, core, l) && (p[1 + l] == ' ' || p[1 + l] == '\0')) {
            memmove(p, p + 1 + l, strlen(p + 1 + l) + 1);
            break;
        }
    return lib;
}

const char *bg_blas_describe(char *buf, size_t n)
{
    snprintf(buf, n, "%s, %s kernels (%s)", bg_blas_library(), bg_blas_kernels(), coretype_from);
    return buf;
}

void bg_blas_select(char **argv, int note)
{
    const char *user = getenv("OPENBLAS_CORETYPE"), *mark = getenv(BG_BLAS_MARK);
    const char *core = bg_blas_kernels();
    unsigned features = bg_cpu_features();
    const char *cfg = openblas_get_config();
    int dynamic = cfg && strstr(cfg, "DYNAMIC_ARCH");
    if (mark) {
        /* the re-executed program: byzgrid's choice if OPENBLAS_CORETYPE is still the one it set */
        coretype_from = user && !strcmp(user, mark) ? "byzgrid" : user && *user ? "user" : "auto";
        if (!strcmp(coretype_from, "byzgrid"))
            unsetenv("OPENBLAS_CORETYPE");
        unsetenv(BG_BLAS_MARK);
    } else if (user && *user) {
        coretype_from = "user";   /* the user's choice always wins */
    } else if (dynamic) {
        const char *assume = getenv(BG_BLAS_ASSUME);
        const char *better = bg_blas_better_core(assume && *assume ? assume : core, features);
        if (better && argv && argv[0]) {
            setenv("OPENBLAS_CORETYPE", better, 1);
            setenv(BG_BLAS_MARK, better, 1);
            fflush(NULL);
            execv("/proc/self/exe", argv);
            int e = errno;
            unsetenv("OPENBLAS_CORETYPE");
            unsetenv(BG_BLAS_MARK);
            if (note)
                fprintf(stderr, "byzgrid: note: could not re-execute with OPENBLAS_CORETYPE=%s (%s); OpenBLAS uses its "
                                "%s kernels on a CPU with %s\n", better, strerror(e), core,
                        tier_name[cpu_tier(features)]);
            return;
        }
    }
    const char *better = bg_blas_better_core(core, features);
    if (note && better && dynamic)
        fprintf(stderr, "byzgrid: note: OpenBLAS uses its %s%s kernels on a CPU with %s; %s %s for faster ones\n",
                core_tier(core) == 0 ? "generic " : "", core, tier_name[cpu_tier(features)],
                !strcmp(coretype_from, "user") ? "unset OPENBLAS_CORETYPE, or set it to" : "set OPENBLAS_CORETYPE to",
                better);
}
