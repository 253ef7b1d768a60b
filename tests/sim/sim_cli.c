/* End-to-end tests through the byzgrid binary: simulated learning columns equal the in-process driver's, the
 * same seed gives a byte-identical trace, the quick start reaches its accuracy, and bad input of every kind
 * gives exactly one line on stderr naming file and line, with exit status 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run the CLI with args, stdin from in_path (NULL: /dev/null), stdout to out_path (NULL: /dev/null), stderr
 * to err_path. Returns the exit status. */
static int run_cli_io(const char *in_path, const char *out_path, const char *err_path, const char *const *args)
{
    const char *argv[64];
    int k = 0;
    argv[k++] = BG_CLI;
    for (; *args && k < 62; args++)
        argv[k++] = *args;
    argv[k] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *e = freopen(err_path, "w", stderr);
        if (!e)
            _exit(127);
        if (!freopen(out_path ? out_path : "/dev/null", "w", stdout))
            _exit(127);
        if (!freopen(in_path ? in_path : "/dev/null", "r", stdin))
            _exit(127);
        execv(BG_CLI, (char *const *)argv);
        _exit(127);
    }
    int st;
    assert_true(waitpid(pid, &st, 0) == pid);
    if (!WIFEXITED(st))
        fail_msg("byzgrid died with signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
    return WEXITSTATUS(st);
}

static int run_cli(const char *err_path, const char *const *args)
{
    return run_cli_io(NULL, NULL, err_path, args);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = '\0';
    fclose(f);
    if (len)
        *len = got;
    return b;
}

static void must_run(const char *const *args)
{
    int rc = run_cli("stderr.txt", args);
    if (rc != 0) {
        char *e = slurp("stderr.txt", NULL);
        fail_msg("byzgrid exited %d: %s", rc, e ? e : "");
    }
}

/* Column values of a CSV line, in place. */
static int split(char *line, char **cols, int max)
{
    int n = 0;
    for (char *p = line; n < max;) {
        cols[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static void compare_learning_columns(const char *sim_path, const char *drv_path)
{
    char *a = slurp(sim_path, NULL), *b = slurp(drv_path, NULL);
    assert_non_null(a);
    assert_non_null(b);
    char *sa = NULL, *sb = NULL;
    char *la = strtok_r(a, "\n", &sa), *lb = strtok_r(b, "\n", &sb);
    assert_string_equal(la, lb);   /* same header */
    int rows = 0;
    double last_time = -1.0;
    while (1) {
        la = strtok_r(NULL, "\n", &sa);
        lb = strtok_r(NULL, "\n", &sb);
        if (!la || !lb) {
            assert_true(!la && !lb);
            break;
        }
        char *ca[16] = {0}, *cb[16] = {0};
        int na = split(la, ca, 16), nb = split(lb, cb, 16);
        assert_int_equal(na, nb);
        assert_true(na >= 7);
        for (int c = 0; c < na; c++) {
            if (c == 1)
                continue;   /* sim_time_s: the simulator's, "nan" for the driver */
            if (strcmp(ca[c], cb[c]))
                fail_msg("row %d column %d: simulated %s, driver %s", rows + 1, c, ca[c], cb[c]);
        }
        assert_string_equal(cb[1], "nan");
        double t = atof(ca[1]);
        assert_true(t > last_time || (rows == 0 && t == 0.0));
        last_time = t;
        rows++;
    }
    assert_true(rows >= 3);
    free(a);
    free(b);
}

static void test_equivalence(void **state)
{
    (void)state;
    const char *sim[] = {"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=300", "--out", "eq_sim", "--quiet",
                         NULL};
    const char *drv[] = {"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=300", "--out", "eq_drv", "--driver",
                         "--quiet", NULL};
    must_run(sim);
    must_run(drv);
    compare_learning_columns("eq_sim/trace.csv", "eq_drv/trace.csv");
}

static void test_equivalence_oracle(void **state)
{
    (void)state;
    const char *sim[] = {"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=200", "--set", "attack.name=alie",
                         "--set", "attack.timing=oracle", "--out", "eqo_sim", "--quiet", NULL};
    const char *drv[] = {"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=200", "--set", "attack.name=alie",
                         "--out", "eqo_drv", "--driver", "--quiet", NULL};
    must_run(sim);
    must_run(drv);
    compare_learning_columns("eqo_sim/trace.csv", "eqo_drv/trace.csv");
}

/* The network layer changes time, not maths, for every kind of method and attack: shared coins (MARINA),
 * a compressed downlink (EF21-BC), shared masks with server momentum (RoSDHB), shifts (DIANA), and blind,
 * data and omniscient attacks. */
static void test_equivalence_methods(void **state)
{
    (void)state;
    const char *cases[][5] = {
        {"byz-vr-marina", "alie", "cm", "nnm", "randk"},     {"byz-ef21-bc", "ipm", "cwtm", "nnm", "topk"},
        {"rosdhb", "rop", "cwtm", "none", "randk"},          {"br-diana", "bf", "rfa", "nnm", "randk"},
        {"byz-dasha-page", "mimic", "krum", "none", "qsgd"}, {"byz-vr-dm21", "nan", "cm", "bucketing", "sign"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char m[64], a[64], g[64], p[64], k[64], out_s[64], out_d[64];
        snprintf(k, sizeof k, "compressor.name=%s", cases[c][4]);
        snprintf(m, sizeof m, "method.name=%s", cases[c][0]);
        snprintf(a, sizeof a, "attack.name=%s", cases[c][1]);
        snprintf(g, sizeof g, "aggregator.name=%s", cases[c][2]);
        snprintf(p, sizeof p, "aggregator.pre=%s", cases[c][3]);
        snprintf(out_s, sizeof out_s, "s_%zu", c);
        snprintf(out_d, sizeof out_d, "d_%zu", c);
        const char *f = !strcmp(cases[c][2], "krum") || !strcmp(cases[c][3], "bucketing") ? "attack.f=4" : "attack.f=9";
        const char *sim[] = {"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=40", "--set", "run.eval_every=10",
                             "--set", m, "--set", a, "--set", g, "--set", p, "--set", f, "--set", "downlink.name=topk",
                             "--set", "downlink.k=20", "--set", k, "--out", out_s, "--quiet", NULL};
        must_run(sim);
        const char *drv[] = {"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=40", "--set", "run.eval_every=10",
                             "--set", m, "--set", a, "--set", g, "--set", p, "--set", f, "--set", "downlink.name=topk",
                             "--set", "downlink.k=20", "--set", k, "--out", out_d, "--quiet", "--driver", NULL};
        must_run(drv);
        char ts[96], td[96];
        snprintf(ts, sizeof ts, "%s/trace.csv", out_s);
        snprintf(td, sizeof td, "%s/trace.csv", out_d);
        compare_learning_columns(ts, td);
    }
}

static void test_determinism(void **state)
{
    (void)state;
    const char *a[] = {"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=200", "--out", "det_a", "--quiet", NULL};
    const char *b[] = {"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=200", "--out", "det_b", "--quiet", NULL};
    const char *c[] = {"run",    BG_SCEN "/quickstart.ini", "--set", "run.rounds=200", "--set", "run.seed=2",
                       "--out",  "det_c",  "--quiet",       NULL};
    must_run(a);
    must_run(b);
    must_run(c);
    size_t la = 0, lb = 0, lc = 0;
    char *ta = slurp("det_a/trace.csv", &la), *tb = slurp("det_b/trace.csv", &lb), *tc = slurp("det_c/trace.csv", &lc);
    assert_non_null(ta);
    assert_non_null(tb);
    assert_true(la > 100);
    assert_int_equal(la, lb);
    assert_memory_equal(ta, tb, la);
    /* A different seed must change the numbers, or the test above proves nothing. */
    assert_true(la != lc || memcmp(ta, tc, la) != 0);
    free(ta);
    free(tb);
    free(tc);
}

static void test_quickstart(void **state)
{
    (void)state;
    const char *args[] = {"run", BG_SCEN "/quickstart.ini", "--out", "qs", "--quiet", NULL};
    must_run(args);
    char *t = slurp("qs/trace.csv", NULL);
    assert_non_null(t);
    char *last = NULL, *save = NULL;
    for (char *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        last = l;
    char *cols[16];
    int n = split(last, cols, 16);
    assert_true(n >= 7);
    double acc = atof(cols[6]);
    printf("quickstart final test accuracy %.4f at round %s, simulated %s s\n", acc, cols[0], cols[1]);
    assert_true(acc >= 0.840);
    char *s = slurp("qs/summary.json", NULL);
    assert_non_null(s);
    assert_non_null(strstr(s, "\"network_model\": \"LV08\""));
    free(s);
    free(t);
}

/* One bad input: exit 2, exactly one line on stderr, containing `expect`. */
static void expect_error(const char *scenario_text, const char *const *extra, const char *expect)
{
    const char *path = "bad.ini";
    if (scenario_text) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(scenario_text, f);
        fclose(f);
    }
    const char *args[32] = {"run", path};
    int k = 2;
    for (; extra && *extra; extra++)
        args[k++] = *extra;
    args[k++] = "--quiet";
    args[k] = NULL;
    int rc = run_cli("err.txt", args);
    char *e = slurp("err.txt", NULL);
    assert_non_null(e);
    int lines = 0;
    for (char *p = e; *p; p++)
        lines += *p == '\n';
    if (rc != 2 || lines != 1 || !strstr(e, expect))
        fail_msg("expected exit 2 and one line containing '%s'; got exit %d, %d lines: %s", expect, rc, lines, e);
    free(e);
}

#define BASE                                                                                                        \
    "[run]\nrounds = 5\n[data]\ndataset = a9a\n[method]\nname = byz-ef21-sgdm\n[compressor]\nname = topk\nk = 1\n"  \
    "[attack]\nname = ipm\nf = 9\n[workers]\nn = 20\n[platform]\nfile = " BG_SOURCE_DIR                              \
    "/platforms/star-hetero.xml\n"

static void test_errors(void **state)
{
    (void)state;
    /* sanity: the base scenario is valid, so each error below is caused by its own change */
    {
        FILE *f = fopen("good.ini", "w");
        fputs(BASE, f);
        fclose(f);
        const char *args[] = {"run", "good.ini", "--out", "good", "--quiet", NULL};
        must_run(args);
    }
    expect_error(BASE "this line is not ini\n", NULL, "bad.ini:17: malformed line");
    expect_error(BASE "[method]\nlrr = 0.1\n", NULL, "bad.ini:18: unknown key 'lrr' in [method]");
    expect_error(BASE "[aggregator]\nname = krumm\n", NULL, "bad.ini:18: unknown aggregator 'krumm'");
    expect_error(BASE "[attack]\nname = nope\n", NULL, "bad.ini:18: unknown attack 'nope'");
    expect_error(BASE "[method]\nname = sgdd\n", NULL, "bad.ini:18: unknown method 'sgdd'");
    expect_error(BASE "[compressor]\nname = topkk\n", NULL, "bad.ini:18: unknown compressor 'topkk'");
    expect_error(BASE "[attack]\nf = 10\n", NULL, "bad.ini:18:");                 /* f >= n/2 for NNM/CM */
    expect_error(BASE "[compressor]\nk = 124\n", NULL, "bad.ini:18:");            /* k > d = 123 */
    expect_error(BASE "[run]\nrounds = many\n", NULL, "bad.ini:18: run.rounds = 'many'");
    expect_error(BASE "[data]\ntrain = /nonexistent/a9a\n", NULL, "/nonexistent/a9a");
    expect_error(BASE "[workers]\nhosts = w0..w18, nowhere\n", NULL, "no host 'nowhere'");
    expect_error(BASE "[workers]\nn = 30\n", NULL, "no host 'w24'");
    expect_error(BASE "[platform]\nfile = /nonexistent.xml\n", NULL, "/nonexistent.xml");
    expect_error(BASE, (const char *const[]){"--set", "attack.f=12", NULL}, "--set");
    expect_error(BASE, (const char *const[]){"--set", "bogus", NULL}, "--set: 'bogus'");
    expect_error(BASE, (const char *const[]){"--frobnicate", NULL}, "unknown option");
    /* a corrupt data file: a truncated gzip */
    {
        size_t len = 0;
        char *gz = slurp(BG_SOURCE_DIR "/data/a9a.t.gz", &len);
        assert_non_null(gz);
        FILE *f = fopen("trunc.gz", "wb");
        fwrite(gz, 1, len / 2, f);
        fclose(f);
        free(gz);
        expect_error(BASE "[data]\ntest = trunc.gz\n", NULL, "trunc.gz");
    }
    unlink("bad.ini");
    expect_error(NULL, NULL, "bad.ini: cannot open the scenario");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Parse the first CSV row of a file into v (at most max values); returns the count. */
static size_t first_row(const char *path, double *v, size_t max)
{
    char *t = slurp(path, NULL);
    assert_non_null(t);
    size_t n = 0;
    char *p = t;
    while (n < max && *p && *p != '\n') {
        v[n++] = strtod(p, &p);
        if (*p == ',')
            p++;
    }
    free(t);
    return n;
}

static void test_components(void **state)
{
    (void)state;
    double v[16];
    /* coordinate-wise median of three rows */
    write_file("in.csv", "1,10,-3\n2,30,-1\n9,20,-2\n");
    const char *agg[] = {"aggregate", "--rule", "cm", "--f", "1", NULL};
    assert_int_equal(run_cli_io("in.csv", "out.csv", "err.txt", agg), 0);
    assert_int_equal(first_row("out.csv", v, 16), 3);
    assert_true(v[0] == 2 && v[1] == 20 && v[2] == -2);
    /* a NaN row is Byzantine by definition: dropped, f reduced, output finite */
    write_file("in.csv", "1,10,-3\n2,30,-1\nnan,20,inf\n9,20,-2\n4,0,0\n");
    const char *agg2[] = {"aggregate", "--rule", "mean", "--pre", "none", "--f", "1", NULL};
    assert_int_equal(run_cli_io("in.csv", "out.csv", "err.txt", agg2), 0);
    assert_int_equal(first_row("out.csv", v, 16), 3);
    assert_true(fabs(v[0] - 4.0) < 1e-6 && fabs(v[1] - 15.0) < 1e-6 && fabs(v[2] + 1.5) < 1e-6);
    /* Top-1 of d = 3: 16-byte header + 4-byte value + 1-byte index */
    write_file("in.csv", "0.5,-7,2\n");
    const char *comp[] = {"compress", "--name", "topk", "--k", "1", NULL};
    assert_int_equal(run_cli_io("in.csv", "out.csv", "err.txt", comp), 0);
    assert_int_equal(first_row("out.csv", v, 16), 4);
    assert_true(v[0] == 21 && v[1] == 0 && v[2] == -7 && v[3] == 0);
    /* IPM: every Byzantine vector is -eps * honest mean */
    write_file("in.csv", "1,2\n3,6\n");
    const char *atk[] = {"attack", "--name", "ipm", "--f", "2", "--eps", "0.5", NULL};
    assert_int_equal(run_cli_io("in.csv", "out.csv", "err.txt", atk), 0);
    char *o = slurp("out.csv", NULL);
    assert_string_equal(o, "-1,-2\n-1,-2\n");
    free(o);
    /* bad input: one line naming stdin and the line, exit 2 */
    write_file("in.csv", "1,2\n3,x\n");
    assert_int_equal(run_cli_io("in.csv", "out.csv", "err.txt", agg), 2);
    char *e = slurp("err.txt", NULL);
    assert_non_null(strstr(e, "stdin:2:"));
    free(e);
    write_file("in.csv", "1,2\n3\n");
    assert_int_equal(run_cli_io("in.csv", "out.csv", "err.txt", agg), 2);
    const char *unknown[] = {"aggregate", "--rule", "nope", "--f", "1", NULL};
    write_file("in.csv", "1,2\n3,4\n");
    assert_int_equal(run_cli_io("in.csv", "out.csv", "err.txt", unknown), 2);
    const char *data_attack[] = {"attack", "--name", "lf", "--f", "1", NULL};
    assert_int_equal(run_cli_io("in.csv", "out.csv", "err.txt", data_attack), 2);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sim_cli equivalence|equivalence_oracle|determinism|quickstart|errors\n");
        return 2;
    }
    const char *which = argv[1];
    /* Each test works in its own folder: ctest runs them in parallel and they write files with fixed names. */
    if (mkdir(which, 0777) != 0 && errno != EEXIST) {
        perror(which);
        return 2;
    }
    if (chdir(which) != 0) {
        perror(which);
        return 2;
    }
    struct CMUnitTest t[1];
    if (!strcmp(which, "equivalence"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_equivalence);
    else if (!strcmp(which, "equivalence_oracle"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_equivalence_oracle);
    else if (!strcmp(which, "equivalence_methods"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_equivalence_methods);
    else if (!strcmp(which, "determinism"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_determinism);
    else if (!strcmp(which, "quickstart"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_quickstart);
    else if (!strcmp(which, "errors"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_errors);
    else if (!strcmp(which, "components"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_components);
    else
        return 2;
    return _cmocka_run_group_tests(which, t, 1, NULL, NULL);
}
