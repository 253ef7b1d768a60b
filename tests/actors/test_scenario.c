/* Scenario parsing without running anything: defaults, host lists and ranges, overrides, relative paths, and
 * one clear error with file and line for each kind of mistake. */
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

#include "bg_scenario.h"

static char g_dir[64], g_path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/bg_scen_XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    snprintf(g_path, sizeof g_path, "%s/s.ini", g_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(g_path);
    rmdir(g_dir);
    return 0;
}

static int load(const char *text, const char *const *sets, size_t n_sets, bg_scenario_t *sc, bg_err_t *err)
{
    FILE *f = fopen(g_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    bg_err_clear(err);
    return bg_scenario_load(g_path, sets, n_sets, sc, err);
}

#define MIN "[data]\ntrain = tr.svm\ntest = te.svm\n[platform]\nfile = p.xml\n"

static void test_defaults_and_paths(void **state)
{
    (void)state;
    bg_scenario_t sc;
    bg_err_t err;
    assert_int_equal(load(MIN, NULL, 0, &sc, &err), 0);
    char expect[256];
    snprintf(expect, sizeof expect, "%s/tr.svm", g_dir);
    assert_string_equal(sc.learn.train_path, expect);
    snprintf(expect, sizeof expect, "%s/p.xml", g_dir);
    assert_string_equal(sc.platform, expect);
    assert_string_equal(sc.name, "s");
    assert_string_equal(sc.network_model, "LV08");
    assert_int_equal(sc.learn.n, 20);
    assert_int_equal(sc.n_hosts, 20);
    assert_string_equal(sc.hosts[0], "w0");
    assert_string_equal(sc.hosts[19], "w19");
    assert_true(isnan(sc.learn.attack.z));
    bg_scenario_destroy(&sc);
}

static void test_hosts_and_overrides(void **state)
{
    (void)state;
    bg_scenario_t sc;
    bg_err_t err;
    const char *sets[] = {"workers.n=5", "method.lr=0.25", "platform.network_model=cm02", "attack.z=1.5"};
    assert_int_equal(load(MIN "[workers]\nhosts = a3..a5, edge, b0..b0\n", sets, 4, &sc, &err), 0);
    assert_int_equal(sc.n_hosts, 5);
    assert_string_equal(sc.hosts[0], "a3");
    assert_string_equal(sc.hosts[2], "a5");
    assert_string_equal(sc.hosts[3], "edge");
    assert_string_equal(sc.hosts[4], "b0");
    assert_true(sc.learn.method.lr == 0.25);
    assert_string_equal(sc.network_model, "CM02");
    assert_true(sc.learn.attack.z == 1.5);
    bg_scenario_destroy(&sc);
}

static void expect_err(const char *text, const char *const *sets, size_t n_sets, long line, const char *frag)
{
    bg_scenario_t sc;
    bg_err_t err;
    int rc = load(text, sets, n_sets, &sc, &err);
    assert_true(rc < 0);
    char buf[2048];
    bg_err_format(&err, buf, sizeof buf);
    if (err.line != line || !strstr(buf, frag))
        fail_msg("expected line %ld and '%s', got: %s", line, frag, buf);
    assert_null(strchr(buf, '\n'));
    bg_scenario_destroy(&sc);
}

static void test_errors(void **state)
{
    (void)state;
    expect_err(MIN "[run]\nseed = -3\n", NULL, 0, 7, "run.seed = '-3'");
    expect_err(MIN "[run]\nrounds\n", NULL, 0, 7, "malformed line");
    expect_err(MIN "[nowhere]\nx = 1\n", NULL, 0, 7, "unknown section [nowhere]");
    expect_err(MIN "[model]\nlambda = 1e999\n", NULL, 0, 7, "expected a number");
    expect_err(MIN "[model]\nreg = l3\n", NULL, 0, 7, "l2 or nonconvex");
    expect_err(MIN "[aggregator]\npre = nmm\n", NULL, 0, 7, "unknown pre-aggregator 'nmm'");
    expect_err(MIN "[attack]\ntiming = soon\n", NULL, 0, 7, "eavesdrop or oracle");
    expect_err(MIN "[workers]\nhosts = w0..w3\n", NULL, 0, 7, "lists 4 hosts but workers.n = 20");
    expect_err(MIN "[workers]\nhosts = w5..w3\n", NULL, 0, 7, "bad range");
    expect_err("k = v\n", NULL, 0, 1, "outside any [section]");
    expect_err(MIN "[data]\ndataset = mnist9\n", NULL, 0, 7, "unknown dataset 'mnist9'");
    const char *bad[] = {"run.rounds=x"};
    expect_err(MIN, bad, 1, 0, "--set");
    expect_err("[run]\nseed = 1\n", NULL, 0, 0, "no data");
}

/* A key set in the file is located for errors found later (after data is loaded). */
static void test_locate(void **state)
{
    (void)state;
    bg_scenario_t sc;
    bg_err_t err;
    assert_int_equal(load(MIN "[compressor]\n\nk = 500\n", NULL, 0, &sc, &err), 0);
    bg_err_set(&err, BG_ERANGE, NULL, 0, "k too large");
    bg_err_key(&err, "compressor.k");
    bg_scenario_locate(&sc, &err);
    assert_int_equal(err.line, 8);
    assert_string_equal(err.file, g_path);
    bg_scenario_destroy(&sc);
}

static int source_of(const bg_scenario_t *sc, const char *section, const char *name)
{
    int learning;
    const bg_key_t *k;
    for (size_t i = 0; (k = bg_scenario_key(i, &learning)); i++)
        if (!strcmp(k->section, section) && !strcmp(k->name, name))
            return sc->src[i].from;
    fail_msg("no key %s.%s", section, name);
    return -1;
}

/* Every key is listed once, the simulator's defaults pass their own checks, and sources are told apart. */
static void test_keys_and_sources(void **state)
{
    (void)state;
    int learning;
    const bg_key_t *k;
    size_t n = 0, n_learn = 0;
    for (; (k = bg_scenario_key(n, &learning)); n++) {
        n_learn += (size_t)learning;
        for (size_t j = 0; j < n; j++) {
            int l2;
            const bg_key_t *o = bg_scenario_key(j, &l2);
            if (!strcmp(o->section, k->section) && !strcmp(o->name, k->name))
                fail_msg("%s.%s listed twice", k->section, k->name);
        }
    }
    assert_int_equal(n_learn, bg_config_n_keys);
    assert_true(n > n_learn && n <= BG_SCENARIO_MAX_KEYS);
    bg_scenario_t sc;
    bg_err_t err;
    const char *sets[] = {"method.lr=0.25", "platform.tcp_gamma=4e6"};
    assert_int_equal(load(MIN "[method]\nname = mom-sgd\neta = 0.2\n", sets, 2, &sc, &err), 0);
    assert_int_equal(source_of(&sc, "method", "lr"), BG_FROM_SET);
    assert_int_equal(source_of(&sc, "method", "eta"), BG_FROM_FILE);
    assert_int_equal(source_of(&sc, "method", "batch"), BG_FROM_DEFAULT);
    assert_int_equal(source_of(&sc, "compressor", "name"), BG_FROM_METHOD);
    assert_string_equal(sc.learn.comp.name, "identity");
    assert_int_equal(source_of(&sc, "platform", "tcp_gamma"), BG_FROM_SET);
    assert_true(sc.tcp_gamma == 4e6);
    assert_true(sc.crosstraffic == -1 && sc.progress == -1 && sc.attack_oracle == 0);
    /* an error about a --set key points at --set, not at the file */
    bg_err_set(&err, BG_ERANGE, NULL, 0, "lr too large");
    bg_err_key(&err, "method.lr");
    bg_scenario_locate(&sc, &err);
    assert_string_equal(err.file, "--set");
    bg_scenario_destroy(&sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_paths),
        cmocka_unit_test(test_hosts_and_overrides),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_locate),
        cmocka_unit_test(test_keys_and_sources),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
