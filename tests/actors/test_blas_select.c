/* The OpenBLAS kernel choice: bg_blas_better_core's table (a weaker set than the CPU's tier gives that tier's set,
 * the same tier or an unknown name gives none), the CPU feature bits agree with the compiler's own cpuid view, and
 * the library / kernel names summary.json reports are filled in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "blas_select.h"

#define AVX BG_CPU_AVX
#define AVX2 (BG_CPU_AVX | BG_CPU_AVX2_FMA)
#define AVX512 (AVX2 | BG_CPU_AVX512)
#define BF16 (AVX512 | BG_CPU_AVX512_BF16)

static void expect(const char *current, unsigned features, const char *want)
{
    const char *got = bg_blas_better_core(current, features);
    if (!want && got)
        fail_msg("%s on features %#x: expected none, got %s", current ? current : "(null)", features, got);
    if (want && (!got || strcmp(got, want)))
        fail_msg("%s on features %#x: expected %s, got %s", current, features, want, got ? got : "none");
}

static void test_generic_upgraded(void **state)
{
    (void)state;
    expect("Prescott", BF16, "Cooperlake");
    expect("Prescott", AVX512, "SkylakeX");
    expect("Prescott", AVX2, "Haswell");
    expect("Prescott", AVX, "Sandybridge");
    expect("Prescott", 0, NULL);   /* SSE-only CPU: Prescott is its best */
    expect("Core2", AVX2, "Haswell");
    expect("Nehalem", AVX512, "SkylakeX");
    expect("Opteron_SSE3", AVX2, "Haswell");
    expect("Barcelona", BF16, "Cooperlake");
    expect("prescott", AVX2, "Haswell");   /* names compare case-insensitively, as OPENBLAS_CORETYPE does */
}

static void test_weaker_tiers_upgraded(void **state)
{
    (void)state;
    expect("Sandybridge", AVX2, "Haswell");
    expect("Bulldozer", AVX2, "Haswell");
    expect("Excavator", AVX512, "SkylakeX");
    expect("Haswell", AVX512, "SkylakeX");
    expect("Zen", BF16, "Cooperlake");   /* e.g. an AVX-512 AMD CPU an older OpenBLAS takes for Zen */
}

static void test_same_tier_kept(void **state)
{
    (void)state;
    expect("Haswell", AVX2, NULL);
    expect("Zen", AVX2, NULL);
    expect("Sandybridge", AVX, NULL);
    expect("SkylakeX", AVX512, NULL);
    expect("SkylakeX", BF16, NULL);   /* Cooperlake's sgemm is SkylakeX's: not worth a re-execution */
    expect("Cooperlake", BF16, NULL);
    expect("SapphireRapids", BF16, NULL);
    /* a stronger set than the features say (the user forced it): never "upgraded" downwards */
    expect("SkylakeX", AVX2, NULL);
    expect("Haswell", AVX, NULL);
}

static void test_unknown_kept(void **state)
{
    (void)state;
    expect(NULL, BF16, NULL);
    expect("", BF16, NULL);
    expect("Unknown", BF16, NULL);
    expect("neoversen1", BF16, NULL);
    expect("Prescott2", BF16, NULL);
    expect("Haswel", AVX512, NULL);
}

static void test_cpu_features(void **state)
{
    (void)state;
    unsigned f = bg_cpu_features();
#if defined(__x86_64__)
    assert_int_equal(!!(f & BG_CPU_AVX), !!__builtin_cpu_supports("avx"));
    assert_int_equal(!!(f & BG_CPU_AVX2_FMA), __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"));
    assert_int_equal(!!(f & BG_CPU_AVX512) && !__builtin_cpu_supports("avx512f"), 0);
#endif
    /* the tiers nest */
    if (f & BG_CPU_AVX512_BF16)
        assert_true(f & BG_CPU_AVX512);
    if (f & BG_CPU_AVX512)
        assert_true(f & BG_CPU_AVX2_FMA);
    if (f & BG_CPU_AVX2_FMA)
        assert_true(f & BG_CPU_AVX);
}

static void test_names(void **state)
{
    (void)state;
    const char *lib = bg_blas_library(), *k = bg_blas_kernels();
    assert_true(!strncmp(lib, "OpenBLAS", 8));
    assert_true(strlen(k) > 0);
    assert_null(strstr(lib, k));   /* the kernel name has its own field */
    assert_string_equal(bg_blas_coretype_from(), "auto");   /* bg_blas_select not called */
    char buf[512];
    assert_non_null(strstr(bg_blas_describe(buf, sizeof buf), k));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generic_upgraded), cmocka_unit_test(test_weaker_tiers_upgraded),
        cmocka_unit_test(test_same_tier_kept),   cmocka_unit_test(test_unknown_kept),
        cmocka_unit_test(test_cpu_features),     cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
