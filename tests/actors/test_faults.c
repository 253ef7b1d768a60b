/* The [faults] lists and draws without running anything: NAME@T / NAME@T1..T2 items parsed, sorted and refused
 * with one message naming the key for each kind of mistake; seeded MTBF/MTTR intervals reproducible per (seed,
 * rank) with exponential means; a user's platform file told apart by its state_file attributes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faults.h"
#include "platform_load.h"

static void test_parse_good(void **state)
{
    (void)state;
    bg_faults_t f;
    bg_err_t err;
    bg_err_clear(&err);
    assert_int_equal(bg_faults_parse("", "faults.hosts", &f, &err), BG_OK);
    assert_int_equal(f.n, 0);
    bg_faults_free(&f);
    assert_int_equal(bg_faults_parse("  ", "faults.hosts", &f, &err), BG_OK);
    assert_int_equal(f.n, 0);
    bg_faults_free(&f);
    /* SimGrid's time units; sorted by (down, name); NAME@T never recovers; a name may repeat, intervals apart */
    assert_int_equal(bg_faults_parse(" w7@5m..10m, w3@120s,server@2h, w1@500ms..1.5s , w7@1s..2s, a.b-c@120s",
                                     "faults.hosts", &f, &err), BG_OK);
    assert_int_equal(f.n, 6);
    const struct { const char *name; double down, up; } want[] = {
        {"w1", 0.5, 1.5}, {"w7", 1, 2}, {"a.b-c", 120, INFINITY}, {"w3", 120, INFINITY}, {"w7", 300, 600},
        {"server", 7200, INFINITY}};
    for (size_t k = 0; k < 6; k++) {
        assert_string_equal(f.v[k].name, want[k].name);
        assert_true(f.v[k].down == want[k].down);
        assert_true(f.v[k].up == want[k].up);
    }
    bg_faults_free(&f);
    assert_null(f.v);
    assert_int_equal(f.n, 0);
}

/* spec must be refused with BG_EINVAL, err->key = key, and a message holding expect. */
static void refused(const char *spec, const char *key, const char *expect)
{
    bg_faults_t f = {(bg_fault_t *)1, 7};
    bg_err_t err;
    bg_err_clear(&err);
    int rc = bg_faults_parse(spec, key, &f, &err);
    if (rc != BG_EINVAL || strcmp(err.key, key) || !strstr(err.msg, expect) || strchr(err.msg, '\n'))
        fail_msg("'%s': rc %d key '%s' msg '%s' (expected '%s')", spec, rc, err.key, err.msg, expect);
    assert_null(f.v);
    assert_int_equal(f.n, 0);
    char prefix[200];
    snprintf(prefix, sizeof prefix, "%s = '%s': expected ", key, spec);
    assert_true(!strncmp(err.msg, prefix, strlen(prefix)));
    /* the key table's check gives the same reason */
    char why[600];
    assert_int_equal(bg_faults_check_spec(spec, why, sizeof why), -1);
    assert_string_equal(why, err.msg + strlen(prefix));
}

static void test_parse_errors(void **state)
{
    (void)state;
    refused("w3", "faults.hosts", "('w3' has no @)");
    refused("@5s", "faults.hosts", "no name before @");
    refused("w 3@5s", "faults.hosts", "no blank inside a name");
    refused("w3@", "faults.hosts", "lacks a time");
    refused("w3@1s..", "faults.links", "lacks a time");
    refused("w3@1s,,w4@2s", "faults.hosts", "an empty item");
    refused("w3@1s,", "faults.hosts", "an empty item");
    refused("w3@-5s", "faults.hosts", "times >= 0 ('w3@-5s')");
    refused("w3@1s..-5s", "faults.hosts", "times >= 0");
    refused("w3@5min", "faults.hosts", "a known unit: 'min'");
    refused("w3@10Mbps", "faults.hosts", "that is a bandwidth unit");
    refused("w3@100", "faults.hosts", "a unit after '100'");
    refused("w3@abc", "faults.hosts", "does not start with a number");
    refused("w3@200s..100s", "faults.hosts", "T1 < T2 in 'w3@200s..100s'");
    refused("w3@2s..2s", "faults.links", "T1 < T2");
    refused("w3@1s..5s, w4@1s, w3@4s..6s", "faults.hosts", "w3@1s..5s and w3@4s..6s");
    refused("w3@10s, w3@20s..30s", "faults.hosts", "w3@10s and w3@20s..30s");   /* never back: nothing after */
    refused("l_w3@1s..2s, l_w3@2s..3s", "faults.links", "neither overlap nor touch");
}

static void test_mtbf_determinism(void **state)
{
    (void)state;
    gsl_rng *a = bg_faults_mtbf_rng(42, 3), *b = bg_faults_mtbf_rng(42, 3), *c = bg_faults_mtbf_rng(42, 4),
            *d = bg_faults_mtbf_rng(43, 3);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_non_null(d);
    double ta = 0, tb = 0, tc = 0, td = 0;
    int differ_rank = 0, differ_seed = 0;
    for (int k = 0; k < 100; k++) {
        double da, ua, db, ub, dc, uc, dd, ud;
        bg_faults_mtbf_next(a, 100.0, 10.0, ta, &da, &ua);
        bg_faults_mtbf_next(b, 100.0, 10.0, tb, &db, &ub);
        bg_faults_mtbf_next(c, 100.0, 10.0, tc, &dc, &uc);
        bg_faults_mtbf_next(d, 100.0, 10.0, td, &dd, &ud);
        assert_true(da == db && ua == ub);   /* same seed, same rank: the same schedule */
        assert_true(da > ta && ua > da);
        differ_rank |= dc != da;
        differ_seed |= dd != da;
        ta = ua, tb = ub, tc = uc, td = ud;
    }
    assert_true(differ_rank);
    assert_true(differ_seed);
    gsl_rng_free(a);
    gsl_rng_free(b);
    gsl_rng_free(c);
    gsl_rng_free(d);
}

/* Up-times and down-times are exponential with means mtbf and mttr: over N = 20000 intervals the sample means are
 * within 3 % (4.2 standard errors), the standard deviations equal the means within 5 %, and the share of up-times
 * longer than mtbf is e^-1 within 0.01 (3 standard errors). */
static void test_mtbf_statistics(void **state)
{
    (void)state;
    const double mtbf = 250.0, mttr = 12.5;
    const size_t N = 20000;
    gsl_rng *r = bg_faults_mtbf_rng(7, 11);
    assert_non_null(r);
    double t = 30.0, su = 0, su2 = 0, sd = 0, sd2 = 0;
    size_t longer = 0;
    for (size_t k = 0; k < N; k++) {
        double down, up;
        bg_faults_mtbf_next(r, mtbf, mttr, t, &down, &up);
        const double u = down - t, dn = up - down;
        assert_true(u > 0 && dn > 0);
        su += u, su2 += u * u, sd += dn, sd2 += dn * dn;
        longer += u > mtbf;
        t = up;
    }
    gsl_rng_free(r);
    const double mu = su / N, md = sd / N;
    const double sdu = sqrt(su2 / N - mu * mu), sdd = sqrt(sd2 / N - md * md);
    if (fabs(mu / mtbf - 1) > 0.03 || fabs(md / mttr - 1) > 0.03)
        fail_msg("means %g (want %g), %g (want %g)", mu, mtbf, md, mttr);
    if (fabs(sdu / mu - 1) > 0.05 || fabs(sdd / md - 1) > 0.05)
        fail_msg("standard deviations %g and %g against means %g and %g", sdu, sdd, mu, md);
    assert_true(fabs((double)longer / N - exp(-1.0)) < 0.01);
}

static char g_dir[64];

static const char *write_xml(const char *name, const char *text)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_has_state_file(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/bg_faults_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    bg_scenario_t sc;
    memset(&sc, 0, sizeof sc);
    sc.plat.topology = BG_TOPO_FILE;
#define HEAD "<?xml version='1.0'?>\n<platform version=\"4.1\">\n<zone id=\"z\" routing=\"Full\">\n"
    const struct { const char *name, *xml; int want; } cases[] = {
        {"plain.xml", HEAD "<host id=\"a\" speed=\"1Gf\"/>\n<link id=\"l\" bandwidth=\"1MBps\" latency=\"1ms\" "
                      "bandwidth_file=\"l.bw\"/>\n</zone></platform>\n", 0},
        {"comment.xml", HEAD "<!-- <host id=\"a\" speed=\"1Gf\" state_file=\"a.state\"/> -->\n"
                        "<host id=\"a\" speed=\"1Gf\"/>\n</zone></platform>\n", 0},
        {"host.xml", HEAD "<host id=\"a\" speed=\"1Gf\" state_file=\"a.state\"/>\n</zone></platform>\n", 1},
        {"link.xml", HEAD "<host id=\"a\" speed=\"1Gf\"/>\n<link id=\"l\" bandwidth=\"1MBps\"\n   latency=\"1ms\" "
                     "state_file = 'l.state'/>\n</zone></platform>\n", 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        snprintf(sc.platform, sizeof sc.platform, "%s", write_xml(cases[k].name, cases[k].xml));
        if (bg_platform_has_state_file(&sc) != cases[k].want)
            fail_msg("%s: expected %d", cases[k].name, cases[k].want);
        unlink(sc.platform);
    }
    /* generated platforms: state profiles exactly when faults.links lists links */
    sc.plat.topology = BG_TOPO_STAR;
    assert_int_equal(bg_platform_has_state_file(&sc), 0);
    snprintf(sc.plat.link_faults, sizeof sc.plat.link_faults, "l_w1@1s..2s");
    assert_int_equal(bg_platform_has_state_file(&sc), 1);
    rmdir(g_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_mtbf_determinism),
        cmocka_unit_test(test_mtbf_statistics),
        cmocka_unit_test(test_has_state_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
