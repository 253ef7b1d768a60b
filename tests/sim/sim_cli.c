/* End-to-end tests through the byzgrid binary: simulated learning columns equal the in-process driver's, the
 * same seed gives a byte-identical trace, the quick start reaches its accuracy, bad input of every kind gives
 * exactly one line on stderr naming file and line, with exit status 2, and a run that fails midway ends cleanly
 * with one line and exit status 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Run the CLI with args, stdin from in_path (NULL: /dev/null), stdout to out_path (NULL: /dev/null), stderr
 * to err_path. Returns the exit status. */
/* > 0: the child's largest file (RLIMIT_FSIZE, with SIGXFSZ ignored so a write past it fails with EFBIG). */
static long child_fsize;

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
        if (child_fsize > 0) {
            signal(SIGXFSZ, SIG_IGN);
            struct rlimit rl = {(rlim_t)child_fsize, (rlim_t)child_fsize};
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
                _exit(127);
        }
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
            if (c == 1 || c == 11)
                continue;   /* sim_time_s and energy_j: the simulator's, "nan" for the driver */
            if (strcmp(ca[c], cb[c]))
                fail_msg("row %d column %d: simulated %s, driver %s", rows + 1, c, ca[c], cb[c]);
        }
        assert_string_equal(cb[1], "nan");
        assert_string_equal(cb[11], "nan");
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


/* A component command on the text in `in` must exit `want` with exactly one stderr line starting "byzgrid: "
 * that contains `expect` (want 0: no stderr at all). */
static void expect_component(const char *const *args, const char *in, size_t in_len, int want, const char *expect)
{
    FILE *f = fopen("in.csv", "wb");
    assert_non_null(f);
    fwrite(in, 1, in_len, f);
    fclose(f);
    int rc = run_cli_io("in.csv", "out.csv", "err.txt", args);
    char *e = slurp("err.txt", NULL);
    assert_non_null(e);
    if (rc != want || (want == 0 && e[0]) ||
        (want != 0 && (strncmp(e, "byzgrid: ", 9) || strchr(e, '\n') != e + strlen(e) - 1 ||
                       !strstr(e, expect))))
        fail_msg("byzgrid %s %s: exit %d (want %d), stderr '%s' (want one line with '%s')", args[0], args[1], rc,
                 want, e, expect);
    free(e);
}

#define TEXT(s) s, sizeof s - 1

/* Issue 12: every flag range-checked (overflow, non-finite, negative, iteration caps, attack's --f), stdin read
 * with line:column errors, no limit on line length, no crash on empty or binary input, underflow a number, and
 * compressors finite on finite extreme rows. */
static void test_components_hostile(void **state)
{
    (void)state;
    const char *rows = "1,2\n3,4\n5,6\n";
    const char *atk_huge[] = {"attack", "--name", "gaussian", "--f", "1e12", NULL};
    expect_component(atk_huge, rows, strlen(rows), 2, "--f: attack.f = '1e12'");
    const char *atk_big[] = {"attack", "--name", "gaussian", "--f", "1000000000000", NULL};
    expect_component(atk_big, rows, strlen(rows), 2, "--f 1000000000000 is too large");
    const char *atk_max[] = {"attack", "--name", "gaussian", "--f", "4611686018427387903", NULL};
    expect_component(atk_max, rows, strlen(rows), 2, "too large");
    const char *atk_ok[] = {"attack", "--name", "gaussian", "--f", "1000", NULL};
    expect_component(atk_ok, rows, strlen(rows), 0, "");
    const char *agg_f30[] = {"aggregate", "--rule", "mean", "--f", "1e30", NULL};
    expect_component(agg_f30, rows, strlen(rows), 2, "--f: attack.f = '1e30'");
    const char *agg_finf[] = {"aggregate", "--rule", "mean", "--f", "inf", NULL};
    expect_component(agg_finf, rows, strlen(rows), 2, "--f: attack.f = 'inf'");
    const char *agg_fover[] = {"aggregate", "--rule", "mean", "--f", "99999999999999999999999", NULL};
    expect_component(agg_fover, rows, strlen(rows), 2, "--f: attack.f");
    const char *krum[] = {"aggregate", "--rule", "multikrum", "--f", "1", "--krum-m", "-1", NULL};
    expect_component(krum, rows, strlen(rows), 2, "--krum-m: aggregator.krum_m = '-1'");
    const char *rfa[] = {"aggregate", "--rule", "rfa", "--f", "1", "--rfa-iters", "-3", NULL};
    expect_component(rfa, rows, strlen(rows), 2, "--rfa-iters: aggregator.rfa_iters = '-3'");
    const char *topk[] = {"compress", "--name", "topk", "--k", "-1", NULL};
    expect_component(topk, rows, strlen(rows), 2, "--k: compressor.k = '-1'");
    const char *cc[] = {"aggregate", "--rule", "cc", "--f", "1", "--cc-iters", "10000000000000", NULL};
    expect_component(cc, rows, strlen(rows), 2, "--cc-iters: aggregator.cc_iters = '10000000000000': expected an "
                                               "integer in [1, 10000]");
    const char *cc_e[] = {"aggregate", "--rule", "cc", "--f", "1", "--cc-iters", "1e13", NULL};
    expect_component(cc_e, rows, strlen(rows), 2, "--cc-iters");
    const char *cc_ok[] = {"aggregate", "--rule", "cc", "--f", "1", "--cc-iters", "10000", NULL};
    expect_component(cc_ok, rows, strlen(rows), 0, "");
    const char *tau[] = {"aggregate", "--rule", "cc", "--f", "1", "--cc-tau", "nan", NULL};
    expect_component(tau, rows, strlen(rows), 2, "--cc-tau");

    /* stdin: underflow is a number (the nearest subnormal or zero), overflow is not */
    const char *mean[] = {"aggregate", "--rule", "mean", "--f", "0", NULL};
    expect_component(mean, TEXT("1e-50,1\n1e-50,3\n"), 0, "");
    char *o = slurp("out.csv", NULL);
    assert_string_equal(o, "0,2\n");
    free(o);
    expect_component(mean, TEXT("1e-40,1\n"), 0, "");
    o = slurp("out.csv", NULL);
    assert_string_equal(o, "9.9999461e-41,1\n");   /* the nearest subnormal */
    free(o);
    expect_component(mean, TEXT("1,2\n3,1e39\n"), 2, "stdin:2:3: value 2 '1e39' is outside the fp32 range");
    /* line:column, and line numbers right after a line far longer than any read buffer */
    char *big = malloc(400000);
    size_t bl = (size_t)snprintf(big, 400000, "1,2\n#");
    memset(big + bl, 'c', 300000);
    bl += 300000;
    bl += (size_t)snprintf(big + bl, 400000 - bl, "\n3,4\n\n5, x\n");
    expect_component(mean, big, bl, 2, "stdin:5:4: value 2 'x' is not a number");
    /* one row of 60 000 values (a line of 240 000 characters) is fine */
    bl = 0;
    for (int i = 0; i < 60000; i++)
        bl += (size_t)snprintf(big + bl, 400000 - bl, i ? ",1.5" : "1.5");
    big[bl++] = '\n';
    expect_component(mean, big, bl, 0, "");
    free(big);
    expect_component(mean, TEXT("1,2,\n"), 2, "stdin:1:5: value 3 is missing");
    expect_component(mean, TEXT("1,2\n3 4\n"), 2, "stdin:2:3: unexpected '4' after value 1");
    expect_component(mean, TEXT(""), 2, "stdin: no rows");
    expect_component(mean, TEXT("# only a comment\n\n   \n"), 2, "stdin: no rows");
    expect_component(mean, "\0\0\0\0\xff\xfe", 6, 2, "stdin:1:1: unexpected byte 0x00");
    expect_component(mean, TEXT("1,2\n\xc3\xa9,1\n"), 2, "stdin:2:1: unexpected byte 0xc3");
    expect_component(mean, TEXT("1,2\r\n3,4\r\n"), 0, "");
    char tok[400];
    memset(tok, '1', 300);
    tok[300] = '\n';
    expect_component(mean, tok, 301, 2, "stdin:1:1: value 1 is longer than 256 characters");

    /* compressors: finite extreme rows give finite output */
    static const char *names[] = {"identity", "topk", "randk", "sign", "qsgd", "fp16"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *comp[] = {"compress", "--name", names[i], "--k", "1", NULL};
        expect_component(comp, TEXT("3.4e38,-3.4e38,3.4e38\n3.4e38,1e-45,-1e-40\n"), 0, "");
        o = slurp("out.csv", NULL);
        for (char *p = o; *p; p++)
            if (*p == 'n' || *p == 'i')
                fail_msg("compress --name %s: non-finite output '%s'", names[i], o);
        free(o);
    }
}

/* The value after "key": in a JSON text (the first occurrence after from), as a number. */
static double json_num_after(const char *text, const char *from, const char *key)
{
    const char *p = from ? strstr(text, from) : text;
    if (!p)
        return NAN;
    char pat[96];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *q = strstr(p, pat);
    return q ? atof(q + strlen(pat)) : NAN;
}

/* Last row of a trace, columns split in place (the buffer is returned for freeing). */
static char *last_row(const char *path, char **cols, int max, int *n)
{
    char *t = slurp(path, NULL);
    assert_non_null(t);
    char *last = NULL, *save = NULL;
    for (char *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        last = l;
    assert_non_null(last);
    *n = split(last, cols, max);
    return t;
}

/* Writes <name>.ini and runs it with the in-process driver, quietly, into <name>/. */
static void run_driver_ini(const char *name, const char *ini)
{
    char path[64];
    snprintf(path, sizeof path, "%s.ini", name);
    write_file(path, ini);
    must_run((const char *const[]){"run", path, "--out", name, "--driver", "--quiet", NULL});
}

#define TAIL_STAR "[workers]\nn = 20\n[platform]\nfile = " BG_SOURCE_DIR "/platforms/star-hetero.xml\n"

/* Every built-in dataset runs end to end (in-process driver, short), each with its partition summary. */
static void test_datasets(void **state)
{
    (void)state;
    char *cols[16];
    int n;
    /* w8a: bundled, no test file, so 20 % is held out (seeded): 49749 -> 39799 / 9950 */
    run_driver_ini("w8a", "[run]\nrounds = 60\neval_every = 30\n[data]\ndataset = w8a\n[model]\nname = logreg\n"
                          "[method]\nlr = 4\nbatch = 64\n[compressor]\nk = 30\n[attack]\nname = alie\nf = 4\n" TAIL_STAR);
    char *s = slurp("w8a/summary.json", NULL);
    assert_non_null(s);
    assert_true(json_num_after(s, "\"resolved\"", "train_samples") == 39799);
    assert_true(json_num_after(s, "\"resolved\"", "test_samples") == 9950);
    free(s);
    char *t = last_row("w8a/trace.csv", cols, 16, &n);
    assert_int_equal(n, 12);
    printf("w8a: test acc %s after 60 rounds, grad_norm_sq %s\n", cols[6], cols[9]);
    assert_true(atof(cols[6]) > 0.96);          /* 97 % of w8a is one class: the model must at least find it */
    assert_true(atof(cols[9]) > 0 && isfinite(atof(cols[9])));
    free(t);

    /* MNIST (bundled test split, held out 8k/2k) with softmax and a Dirichlet(0.5) partition */
    run_driver_ini("mnist", "[run]\nrounds = 100\neval_every = 50\n[data]\ndataset = mnist\n[partition]\n"
                            "name = dirichlet\nalpha = 0.5\n[model]\nname = softmax\nlambda = 0\n[method]\nlr = 0.5\n"
                            "batch = 32\n[compressor]\nratio = 0.1\nscope = layer\n[attack]\nname = ipm\nf = 4\n" TAIL_STAR);
    s = slurp("mnist/summary.json", NULL);
    assert_non_null(s);
    assert_true(json_num_after(s, "\"resolved\"", "train_samples") == 8000);
    assert_true(json_num_after(s, "\"resolved\"", "test_samples") == 2000);
    /* the partition block: 16 honest workers, 10 classes, samples adding up to 8000, label-skewed */
    const char *pb = strstr(s, "\"partition\": {\n");
    assert_non_null(pb);
    pb = strstr(pb + 1, "\"partition\": {");   /* the second one is the resolved partition (the first: config) */
    assert_non_null(pb);
    assert_non_null(strstr(pb, "\"name\": \"dirichlet\""));
    double total = 0;
    int workers = 0;
    for (const char *q = strstr(pb, "\"samples\": "); q; q = strstr(q + 1, "\"samples\": ")) {
        total += atof(q + 11);
        workers++;
    }
    assert_int_equal(workers, 16);
    assert_true(total == 8000);
    free(s);
    t = last_row("mnist/trace.csv", cols, 16, &n);
    printf("mnist softmax dirichlet(0.5): test acc %s after 100 rounds\n", cols[6]);
    assert_true(atof(cols[6]) > 0.75);
    free(t);

    /* data on all 20 workers (label flippers hold their own shards), the reference code's CIFAR split */
    run_driver_ini("all", "[run]\nrounds = 20\neval_every = 20\n[data]\ndataset = mnist\nholders = all\n[partition]\n"
                          "name = cifar-ref\n[model]\nname = softmax\nlambda = 0\n[method]\nlr = 0.5\nbatch = 16\n"
                          "[attack]\nname = lf\nf = 4\n" TAIL_STAR);
    s = slurp("all/summary.json", NULL);
    assert_non_null(s);
    pb = strstr(s, "\"holders\": \"all\"");
    assert_non_null(pb);
    workers = 0;
    for (const char *q = strstr(s, "\"samples\": "); q; q = strstr(q + 1, "\"samples\": ")) {
        assert_int_equal((int)atof(q + 11), 400);      /* 8000 / 20: half a sorted block, half IID */
        workers++;
    }
    assert_int_equal(workers, 20);
    free(s);

    /* synthetic: the distance to the known optimum shrinks */
    run_driver_ini("syn", "[run]\nrounds = 300\neval_every = 150\n[data]\ndataset = synthetic\nsynth_zeta = 1\n"
                          "[model]\nname = logreg\nlambda = 0.01\n[method]\nlr = 0.5\nbatch = 32\n[compressor]\nk = 4\n"
                          "[attack]\nname = ipm\nf = 4\n" TAIL_STAR);
    char *all = slurp("syn/trace.csv", NULL);
    assert_non_null(all);
    char *save = NULL, *rows[8];
    int nr = 0;
    for (char *l = strtok_r(all, "\n", &save); l && nr < 8; l = strtok_r(NULL, "\n", &save))
        rows[nr++] = l;
    assert_int_equal(nr, 4);     /* header, rounds 0, 150, 300 */
    split(rows[1], cols, 16);
    double d0 = atof(cols[10]);
    split(rows[3], cols, 16);
    double d1 = atof(cols[10]);
    printf("synthetic: dist_to_opt %.4g -> %.4g, grad_norm_sq %s\n", d0, d1, cols[9]);
    assert_true(d0 > 0 && d1 < 0.5 * d0);
    free(all);
}

/* Bad data gives one line naming the file and the position, exit 2. */
static void test_data_errors(void **state)
{
    (void)state;
    unsigned char hdr_img[16] = {0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 4, 0, 0, 0, 4};
    unsigned char hdr_lab[8] = {0, 0, 8, 1, 0, 0, 0, 10};
    unsigned char pix[10 * 16], lab[10];
    for (size_t i = 0; i < sizeof pix; i++)
        pix[i] = (unsigned char)(i * 37);
    for (int i = 0; i < 10; i++)
        lab[i] = (unsigned char)(i % 3);
    FILE *f = fopen("img.idx", "wb");
    fwrite(hdr_img, 1, 16, f);
    fwrite(pix, 1, sizeof pix, f);
    fclose(f);
    f = fopen("trunc.idx", "wb");          /* header promises 10 images, 6.5 follow */
    fwrite(hdr_img, 1, 16, f);
    fwrite(pix, 1, 6 * 16 + 8, f);
    fclose(f);
    f = fopen("lab.idx", "wb");
    fwrite(hdr_lab, 1, 8, f);
    fwrite(lab, 1, 10, f);
    fclose(f);
    lab[7] = 12;                            /* item 7 at byte offset 15 */
    f = fopen("badlab.idx", "wb");
    fwrite(hdr_lab, 1, 8, f);
    fwrite(lab, 1, 10, f);
    fclose(f);
    write_file("few.svm", "1 1:1 2:1\n-1 2:1 3:1\n1 1:1\n-1 3:1\n");
    write_file("wide.svm", "1 1:1 2:1\n-1 2:1 7:1\n1 1:1\n");
    write_file("three.svm", "1 1:1 2:1\n-1 2:1 3:1\n2 1:1\n");
#define TAIL_SMALL "[model]\nname = softmax\n[method]\nbatch = 4\n[compressor]\nname = identity\n[aggregator]\npre = none\nname = mean\n" \
                   "[workers]\nn = 2\n[platform]\nfile = " BG_SOURCE_DIR "/platforms/star-hetero.xml\n"
    /* sanity: the good IDX pair runs, so each error below is caused by its own change */
    write_file("good.ini", "[run]\nrounds = 2\n[data]\ntrain = img.idx\ntrain_labels = lab.idx\n" TAIL_SMALL);
    must_run((const char *const[]){"run", "good.ini", "--out", "good", "--quiet", NULL});
    expect_error("[run]\nrounds = 2\n[data]\ntrain = trunc.idx\ntrain_labels = lab.idx\n" TAIL_SMALL, NULL,
                 "trunc.idx");
    expect_error("[run]\nrounds = 2\n[data]\ntrain = img.idx\ntrain_labels = badlab.idx\nclasses = 10\n" TAIL_SMALL,
                 NULL, "badlab.idx");
    expect_error("[run]\nrounds = 2\n[data]\ntrain = img.idx\ntrain_labels = badlab.idx\nclasses = 10\n" TAIL_SMALL,
                 NULL, "12");
    expect_error("[run]\nrounds = 2\n[data]\ntrain = wide.svm\ntest = few.svm\nfeatures = 5\n" TAIL_SMALL, NULL,
                 "wide.svm:2");
    expect_error("[run]\nrounds = 2\n[data]\ntrain = three.svm\ntest = few.svm\n" TAIL_SMALL, NULL, "three.svm:3");
    /* more data-holding workers than samples: an empty shard */
    expect_error("[run]\nrounds = 2\n[data]\ntrain = few.svm\ntest = few.svm\n[model]\nname = logreg\n"
                 "[workers]\nn = 6\n[platform]\nfile = " BG_SOURCE_DIR "/platforms/star-hetero.xml\n",
                 NULL, "bad.ini:");
    expect_error("[run]\nrounds = 2\n[data]\ndataset = mnist\n[partition]\nname = shards\nk = 11\n"
                 "[model]\nname = softmax\n" TAIL_STAR, NULL, "bad.ini:");
    expect_error("[run]\nrounds = 2\n[data]\ndataset = mnist\n[partition]\nname = dirichlet\nalpha = 0\n"
                 "[model]\nname = softmax\n" TAIL_STAR, NULL, "bad.ini:");
    expect_error("[data]\ndataset = cifar\n" TAIL_STAR, NULL, "bad.ini:2: unknown dataset 'cifar'");
    expect_error("[data]\ndataset = mnist\n[model]\nname = mlp\n" TAIL_STAR, NULL, "model.hidden");
}

/* Issue 12, numbers and input files: each bad value or file gives exit 2 and one line naming the key or file:line
 * (no hang, no overflow), and names with any bytes still give a summary.json that parses. */
static void test_numbers(void **state)
{
    (void)state;
    /* host ranges: a signed overflow and a hang before; now capped at the most workers a run may have */
    expect_error(BASE, (const char *const[]){"--set", "workers.hosts=w0..w9223372036854775807", NULL},
                 "--set: workers.hosts: 'w0..w9223372036854775807' makes more than 1000000 hosts");
    expect_error(BASE "[workers]\nhosts = w0..w99999999999999999999999\n", NULL, "bad.ini:18: workers.hosts: bad range");
    expect_error(BASE "[workers]\nn = 1000001\n", NULL, "bad.ini:18: workers.n = '1000001'");
    expect_error(BASE "[run]\nrounds = 99999999999999999999\n", NULL, "bad.ini:18: run.rounds = '99999999999999999999'");
    expect_error(BASE, (const char *const[]){"--set", "method.lr=1e400", NULL}, "--set: method.lr = '1e400'");
    expect_error(BASE, (const char *const[]){"--set", "method.eta=nan", NULL}, "--set: method.eta = 'nan'");
    expect_error(BASE, (const char *const[]){"--set", "round.participation=1e300", NULL},
                 "--set: round.participation = '1e300'");
    expect_error(BASE, (const char *const[]){"--set", "run.relays=-inf", NULL}, "--set: run.relays = '-inf'");
    expect_error(BASE, (const char *const[]){"--set", "platform.server_speed=1e300Gf", NULL},
                 "--set: platform.server_speed = '1e300Gf': expected a finite number");
    expect_error(BASE "[compressor]\nname = randk\nk = 0\nratio = 0\n", NULL, "bad.ini:20: compressor.ratio = '0'");
    /* a minibatch larger than a worker's shard (a9a: 32561 samples over 11 honest workers) */
    expect_error(BASE "[method]\nbatch = 5000\n", NULL, "bad.ini:18: method.batch = 5000 is larger than worker");
    /* line numbers after a line longer than inih's buffer: the error on line 7 is reported at 7 */
    {
        char text[1200];
        char comment[301];
        memset(comment, 'x', 300);
        comment[300] = '\0';
        snprintf(text, sizeof text, "[run]\n;%s\nrounds = 5\n[data]\ndataset = a9a\n[method]\nlrr = 1\n", comment);
        expect_error(text, NULL, "bad.ini:7: unknown key 'lrr'");
    }
    /* a line too long, and a NUL byte: refused at their line */
    {
        char *text = malloc(20000);
        assert_non_null(text);
        strcpy(text, "[run]\n;");
        memset(text + 7, 'y', 16400);
        strcpy(text + 7 + 16400, "\nrounds = 5\n");
        expect_error(text, NULL, "bad.ini:2: line longer than 16384 characters");
        free(text);
        FILE *f = fopen("bad.ini", "wb");
        fwrite("[run]\nrounds = 5\n[da\0ta]\n", 1, 24, f);
        fclose(f);
        expect_error(NULL, NULL, "bad.ini:3: a NUL byte in the line");
    }
    /* scenario files that are not regular files: refused at once (/dev/zero used to hang) */
    {
        int rc = run_cli("err.txt", (const char *const[]){"run", "/dev/zero", "--quiet", NULL});
        char *e = slurp("err.txt", NULL);
        assert_int_equal(rc, 2);
        assert_string_equal(e, "byzgrid: /dev/zero: the scenario is not a regular file (a FIFO or a device would block "
                               "or never end)\n");
        free(e);
        unlink("fifo");
        assert_int_equal(mkfifo("fifo", 0600), 0);
        rc = run_cli("err.txt", (const char *const[]){"run", "fifo", "--quiet", NULL});
        e = slurp("err.txt", NULL);
        assert_int_equal(rc, 2);
        assert_string_equal(e, "byzgrid: fifo: the scenario is not a regular file (a FIFO or a device would block "
                               "or never end)\n");
        free(e);
        /* a FIFO as data.train and as an IDX label file: one line, no wait for a writer */
        expect_error("[run]\nrounds = 2\n[data]\ntrain = fifo\n" TAIL_STAR, NULL,
                     "fifo: the LIBSVM file is not a regular file");
        expect_error("[run]\nrounds = 2\n[data]\ntrain = " BG_SOURCE_DIR "/data/a9a.gz\ntrain_labels = fifo\n"
                     TAIL_STAR, NULL, "fifo: the IDX labels file is not a regular file");
        unlink("fifo");
    }
    /* IDX labels 0, 1 and a stray 200: refused (it made a 201-class model) unless data.classes declares them */
    {
        unsigned char hl[8] = {0, 0, 8, 1, 0, 0, 0, 12}, hi[16] = {0, 0, 8, 3, 0, 0, 0, 12, 0, 0, 0, 2, 0, 0, 0, 2};
        unsigned char y[12] = {0, 1, 0, 1, 0, 1, 200, 1, 0, 1, 0, 1}, px[48];
        for (int i = 0; i < 48; i++)
            px[i] = (unsigned char)(i * 41);
        FILE *f = fopen("lab200.idx", "wb");
        fwrite(hl, 1, 8, f);
        fwrite(y, 1, 12, f);
        fclose(f);
        f = fopen("img12.idx", "wb");
        fwrite(hi, 1, 16, f);
        fwrite(px, 1, 48, f);
        fclose(f);
        const char *tail = "[model]\nname = softmax\n[method]\nbatch = 2\n[compressor]\nname = identity\n"
                           "[aggregator]\npre = none\nname = mean\n[workers]\nn = 2\n[platform]\nfile = " BG_SOURCE_DIR
                           "/platforms/star-hetero.xml\n";
        char text[1024];
        snprintf(text, sizeof text, "[run]\nrounds = 2\n[data]\ntrain = img12.idx\ntrain_labels = lab200.idx\n%s", tail);
        expect_error(text, NULL, "lab200.idx");   /* the labels' file is the IDX dataset's source */
        expect_error(text, NULL, "labels 0 .. 200 make 201 classes, but 198 of them (the first: 2) have no training");
        snprintf(text, sizeof text, "[run]\nrounds = 2\n[data]\ntrain = img12.idx\ntrain_labels = lab200.idx\n"
                 "classes = 201\n%s", tail);
        write_file("c201.ini", text);
        must_run((const char *const[]){"run", "c201.ini", "--out", "c201", "--quiet", NULL});
    }
    /* bytes that are not UTF-8 in run.name and workers.server: summary.json is still valid JSON */
    write_file("good.ini", BASE "[run]\nrounds = 1\nname = caf\xe9\xff\n");
    must_run((const char *const[]){"run", "good.ini", "--out", "latin", "--quiet", NULL});
    assert_int_equal(system("python3 -c \"import json; d = json.load(open('latin/summary.json', encoding='utf-8')); "
                            "assert d['config']['run']['name'] == 'caf\\ufffd\\ufffd', d['config']['run']['name']\""),
                     0);
}

/* 100 workers with an MLP of >= 100k parameters: the summary reports peak RSS, within 1.5x of the per-worker
 * state vectors the engine holds for the method. */
static void test_memory(void **state)
{
    (void)state;
    write_file("mem.ini", "[run]\nrounds = 3\neval_every = 3\neval_train = false\n[data]\ndataset = mnist\n"
                          "[model]\nname = mlp\nhidden = 128\nlambda = 0\n[method]\nname = byz-ef21-sgdm\nlr = 0.1\n"
                          "batch = 16\n[compressor]\nratio = 0.1\n[attack]\nname = ipm\nf = 20\n[workers]\nn = 100\n"
                          "hosts = w0..w99\n[platform]\nfile = " BG_SOURCE_DIR "/platforms/star-128.xml\n");
    must_run((const char *const[]){"run", "mem.ini", "--out", "mem", "--quiet", NULL});
    char *s = slurp("mem/summary.json", NULL);
    assert_non_null(s);
    double dim = json_num_after(s, "\"resolved\"", "dim");
    double rss = json_num_after(s, "\"memory\"", "peak_rss_bytes");
    double st = json_num_after(s, "\"memory\"", "state_bytes");
    double ds = json_num_after(s, "\"memory\"", "dataset_bytes");
    printf("memory: d = %.0f, peak RSS %.1f MB, per-worker state %.1f MB (%.1f floats per worker per parameter), "
           "dataset %.1f MB, ratio %.3f\n", dim, rss / 1e6, st / 1e6, st / (100.0 * dim * 4.0), ds / 1e6, rss / st);
    assert_true(dim >= 100000);
    if (strstr(s, "\"state_bytes\": null")) {   /* a sanitizer build: malloc is not glibc's, nothing to compare */
        printf("memory: no heap accounting in this build (AddressSanitizer); ratio not checked\n");
        free(s);
        return;
    }
    /* at least the method's own vectors: worker momentum + EF21 estimate, server estimate, aggregation input */
    assert_true(st >= 4.0 * 100.0 * dim * 4.0);
    assert_true(rss > st * 0.5);
    assert_true(rss <= 1.5 * st);
    free(s);
}

/* Fashion-MNIST with the reference CNN, simulated, short: it learns (the full run is scenarios/fmnist-cnn.ini). */
static void test_fmnist(void **state)
{
    (void)state;
    must_run((const char *const[]){"run", BG_SCEN "/fmnist-cnn.ini", "--out", "fm", "--quiet", "--set",
                                   "run.rounds=300", "--set", "run.eval_every=150", NULL});
    char *cols[16];
    int n;
    char *t = last_row("fm/trace.csv", cols, 16, &n);
    printf("fmnist-cnn, 300 rounds under IPM: test acc %s, simulated %s s\n", cols[6], cols[1]);
    assert_true(atof(cols[6]) > 0.62);
    assert_true(atof(cols[1]) > 0);
    free(t);
}

/* Builds with AddressSanitizer print one known warning block in every simulated run, because SimGrid switches
 * actor stacks without telling the sanitizer (three lines, the first naming __asan_handle_no_return). It is no
 * error report, so it is cut out of a captured stderr before lines are counted; anything else stays. */
static void drop_sanitizer_stack_warning(char *e)
{
    char *w = strstr(e, "WARNING: ASan is ignoring requested __asan_handle_no_return");
    if (!w)
        return;
    while (w > e && w[-1] != '\n')
        w--;
    char *end = w;
    for (int k = 0; k < 3 && *end; k++) {
        char *nl = strchr(end, '\n');
        end = nl ? nl + 1 : end + strlen(end);
    }
    memmove(w, end, strlen(end) + 1);
}

/* Lines of a stderr file, without the sanitizer build's stack warning (3 lines that are not byzgrid's). */
static int err_lines(const char *path)
{
    char *t = slurp(path, NULL);
    if (!t)
        return -1;
    drop_sanitizer_stack_warning(t);
    int n = 0;
    for (char *p = t; *p; p++)
        n += *p == '\n';
    free(t);
    return n;
}

/* A run that fails in the middle: exit 1, exactly one line on stderr (the CLI's), no SimGrid deadlock report
 * (every actor ends on the server's finalize message), and the trace keeps its header and the round-0 row.
 * The failures reachable from the command line are the server's (aggregation, trace write); a worker's or an
 * attacker's own step fails only on a programmer error, so no scenario here makes one fail. */
static void expect_run_failure(const char *const *args, const char *expect, const char *trace, int min_rows)
{
    int rc = run_cli("err.txt", args);
    char *e = slurp("err.txt", NULL);
    assert_non_null(e);
    drop_sanitizer_stack_warning(e);
    int lines = 0;
    for (char *p = e; *p; p++)
        lines += *p == '\n';
    if (rc != 1 || lines != 1 || strncmp(e, "byzgrid: ", 9) || !strstr(e, expect) || strstr(e, "Deadlock"))
        fail_msg("expected exit 1 and one line containing '%s'; got exit %d, %d lines: %s", expect, rc, lines, e);
    free(e);
    if (!trace)
        return;
    char *t = slurp(trace, NULL);
    assert_non_null(t);
    char *save = NULL, *l = strtok_r(t, "\n", &save);
    assert_non_null(l);
    assert_true(!strncmp(l, "round,sim_time_s,", 17));
    int rows = 0;
    for (l = strtok_r(NULL, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        assert_int_equal(atoi(l), rows);   /* rows 0, 1, ... in order (eval_every = 1) or just 0 */
        rows++;
    }
    if (rows < min_rows)
        fail_msg("%s: %d rows, expected at least %d", trace, rows, min_rows);
    free(t);
}

static void test_run_failure(void **state)
{
    (void)state;
    /* Huge steps make the honest vectors non-finite too: the server's aggregation fails in round 2. */
    expect_run_failure((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "method.lr=1e38", "--set",
                                             "attack.name=nan", "--out", "nan", "--quiet", NULL},
                       "round 2: 20 of 20 aggregation inputs are NaN or Inf but only f = 9 may be dropped; 11 of "
                       "them from honest workers",
                       "nan/trace.csv", 1);
    /* The same with a row per round: the rows of rounds 0..2 (evaluated before the failing round) are kept. */
    expect_run_failure((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "method.lr=1e38", "--set",
                                             "attack.name=nan", "--set", "run.eval_every=1", "--out", "nan1",
                                             "--quiet", NULL},
                       "round 2: 20 of 20 aggregation inputs", "nan1/trace.csv", 3);
    /* The in-process driver reports the same cause. */
    expect_run_failure((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "method.lr=1e38", "--set",
                                             "attack.name=nan", "--out", "nand", "--quiet", "--driver", NULL},
                       "round 2: 20 of 20 aggregation inputs", "nand/trace.csv", 1);
    /* Omniscient attackers (ALIE) in the instant-oracle mode: the server runs their steps before aggregating. */
    expect_run_failure((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "method.lr=1e38", "--set",
                                             "attack.name=alie", "--set", "attack.timing=oracle", "--out", "alieo",
                                             "--quiet", NULL},
                       "so the model diverged", "alieo/trace.csv", 1);
    /* Omniscient attackers (IPM) that wait for the honest messages of each round. */
    expect_run_failure((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "method.lr=1e38", "--out",
                                             "ipm", "--quiet", NULL},
                       "so the model diverged", "ipm/trace.csv", 1);
    /* The trace write fails (the file size limit, as on a full disk) at the round-0 evaluation: the 119-byte
     * header fits in 150 bytes, row 0 does not. */
    child_fsize = 150;
    expect_run_failure((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--out", "full", "--quiet", "--driver",
                                             NULL},
                       "cannot write the trace", NULL, 0);
    child_fsize = 0;
}

static int count_of(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

/* Round events are SimGrid log messages of the byzgrid categories: shown with --log=byzgrid.thres:debug, silent
 * at the default threshold. */
static void test_log_rounds(void **state)
{
    (void)state;
    must_run((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=2", "--out", "log",
                                   "--log=byzgrid.thres:debug", NULL});
    char *e = slurp("stderr.txt", NULL);
    assert_non_null(e);
    /* 20 workers, 2 rounds: every worker receives 2 broadcasts and sends 2 messages, then receives finalize */
    if (count_of(e, "[byzgrid_server/") < 7 || count_of(e, "broadcast sent (") != 2 ||
        count_of(e, "aggregation done (") != 2 || count_of(e, "evaluation at round 0 written") != 1 ||
        count_of(e, "evaluation at round 2 written") != 1 || count_of(e, "finalize sent to 20 workers") != 1 ||
        count_of(e, "[byzgrid_worker/") < 100 || count_of(e, "broadcast received (508 bytes)") != 40 ||
        count_of(e, "message sent (") != 40 || count_of(e, "finalize received") != 20)
        fail_msg("round events missing from the log:\n%s", e);
    free(e);
    /* default threshold: only the CLI's own closing line */
    must_run((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=2", "--out", "nolog", NULL});
    e = slurp("stderr.txt", NULL);
    assert_non_null(e);
    drop_sanitizer_stack_warning(e);
    if (count_of(e, "\n") != 1 || strncmp(e, "byzgrid: quickstart: 2 rounds,", 30))
        fail_msg("expected only the closing line at the default threshold, got:\n%s", e);
    free(e);
}

/* A generated star with star-hetero.xml's classes runs the quick start exactly as the file does; a generated platform
 * with drawn values is byte-identical for one seed (and changes with it); the run folder holds platform.xml, and
 * summary.json the hosts and links SimGrid loaded; `byzgrid platform` prints the same XML. */
static void test_platform_gen(void **state)
{
    (void)state;
#define HETERO "--set", "platform.topology=star", "--set", "platform.worker_speed=1Gf, 2Gf, 4Gf, 8Gf, 16Gf",        \
               "--set", "platform.worker_bw=1Mbps,5Mbps,10Mbps,25Mbps,50Mbps,100Mbps",                             \
               "--set", "platform.worker_lat=20ms,10ms,5ms,2ms,1ms,500us"
    must_run((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=300", "--out", "pf_file",
                                   "--quiet", NULL});
    must_run((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=300", HETERO, "--out",
                                   "pf_gen", "--quiet", NULL});
    size_t la = 0, lb = 0;
    char *ta = slurp("pf_file/trace.csv", &la), *tb = slurp("pf_gen/trace.csv", &lb);
    assert_non_null(ta);
    assert_non_null(tb);
    assert_true(la > 100);
    assert_int_equal(la, lb);
    assert_memory_equal(ta, tb, la);
    free(ta);
    free(tb);
    /* the file run keeps a copy of the user's file; the generated one its XML; both list what SimGrid loaded */
    char *copy = slurp("pf_file/platform.xml", NULL), *orig = slurp(BG_SOURCE_DIR "/platforms/star-hetero.xml", NULL);
    assert_non_null(copy);
    assert_non_null(orig);
    assert_string_equal(copy, orig);
    free(copy);
    free(orig);
    char *sum = slurp("pf_gen/summary.json", NULL);
    assert_non_null(sum);
    assert_non_null(strstr(sum, "\"topology\": \"star\""));
    assert_non_null(strstr(sum, "\"name\": \"w4\",\n        \"speed_flops\": 1.6e+10\n"));
    assert_non_null(strstr(sum, "\"name\": \"l_w0_DOWN\",\n        \"bandwidth_Bps\": 125000,\n        \"latency_s\": 0.02\n"));
    free(sum);
    /* drawn values: same seed, same bytes; another seed, other bytes; `byzgrid platform` prints that file */
    const char *const drawn[] = {"--set", "platform.topology=star", "--set", "platform.worker_bw=loguniform(1Mbps, 100Mbps)", "--set",
                                 "platform.worker_speed=lognormal(2Gf, 0.5)", "--set", "platform.worker_lat=uniform(1ms, 5ms)",
                                 "--set", "platform.variability=random", "--set", "platform.variability_on=both",
                                 "--set", "run.rounds=3", "--quiet", NULL};
    const char *args[40] = {"run", BG_SCEN "/quickstart.ini"};
    for (int seed = 0; seed < 3; seed++) {
        int k = 2;
        for (const char *const *d = drawn; *d; d++)
            args[k++] = *d;
        char out[16];
        snprintf(out, sizeof out, "pf_draw%d", seed);
        args[k++] = "--out", args[k++] = out;
        args[k++] = "--set", args[k++] = seed == 2 ? "run.seed=7" : "run.seed=1";
        args[k] = NULL;
        must_run(args);
    }
    size_t l0 = 0, l1 = 0, l2 = 0, lw = 0;
    char *x0 = slurp("pf_draw0/platform.xml", &l0), *x1 = slurp("pf_draw1/platform.xml", &l1),
         *x2 = slurp("pf_draw2/platform.xml", &l2), *w0 = slurp("pf_draw0/l_w0.bw", &lw), *w1 = slurp("pf_draw1/l_w0.bw", NULL);
    assert_non_null(x0);
    assert_non_null(w0);
    assert_non_null(w1);
    assert_int_equal(l0, l1);
    assert_memory_equal(x0, x1, l0);
    assert_string_equal(w0, w1);
    assert_true(l0 != l2 || memcmp(x0, x2, l0) != 0);
    assert_non_null(strstr(x0, "speed_file=\"w0.speed\""));
    int k = 0;
    const char *pargs[40] = {"platform", BG_SCEN "/quickstart.ini"};
    k = 2;
    for (const char *const *d = drawn; *d && strcmp(*d, "--quiet"); d++)
        pargs[k++] = *d;
    pargs[k++] = "--set", pargs[k++] = "run.seed=1", pargs[k] = NULL;
    assert_int_equal(run_cli_io(NULL, "printed.xml", "err.txt", pargs), 0);
    size_t lp;
    char *printed = slurp("printed.xml", &lp);
    assert_int_equal(lp, l0);
    assert_memory_equal(printed, x0, l0);
    free(printed);
    free(x0);
    free(x1);
    free(x2);
    free(w0);
    free(w1);
}

/* Unit mistakes and bad topology values: one line naming the key, exit 2, for a file and for --set. */
static void test_platform_errors(void **state)
{
    (void)state;
#define GEN "[run]\nrounds = 2\n[data]\ndataset = a9a\n[attack]\nname = none\nf = 0\n[workers]\nn = 4\n[platform]\n"
    write_file("good.ini", GEN "topology = racks\nrack_size = 2\n");
    must_run((const char *const[]){"run", "good.ini", "--out", "good", "--quiet", NULL});
    expect_error(GEN "worker_bw = 1mbps\n", NULL, "bad.ini:11: platform.worker_bw = '1mbps': expected a known unit");
    expect_error(GEN "worker_bw = 1 Mbps\n", NULL, "bad.ini:11: platform.worker_bw = '1 Mbps': expected no space");
    expect_error(GEN "worker_lat = 20µs\n", NULL, "bad.ini:11: platform.worker_lat");
    expect_error(GEN "worker_lat = 10Mbps\n", NULL, "that is a bandwidth unit");
    expect_error(GEN "server_bw = 100\n", NULL, "bad.ini:11: platform.server_bw = '100': expected a unit");
    expect_error(GEN "worker_bw = 0Mbps\n", NULL, "platform.worker_bw = '0Mbps': expected a bandwidth > 0");
    expect_error(GEN "worker_speed = 1Gf, -2Gf\n", NULL, "platform.worker_speed");
    expect_error(GEN "worker_bw = uniform(10Mbps, 1Mbps)\n", NULL, "platform.worker_bw");
    expect_error(GEN "worker_bw = gauss(1Mbps, 2Mbps)\n", NULL, "platform.worker_bw");
    expect_error(GEN "topology = ring\n", NULL, "bad.ini:11: platform.topology = 'ring': expected auto, star, racks, "
                                                "sites, fat-tree or file");
    expect_error(GEN "topology = fat-tree\nworker_bw = 1Mbps, 2Mbps\n", NULL, "bad.ini:12: platform.worker_bw");
    expect_error(GEN "topology = fat-tree\nfat_tree = 2;2,2;1,2;1,1\n", NULL, "bad.ini:12: platform.fat_tree");
    expect_error(GEN "topology = sites\nserver_site = 2\n", NULL, "bad.ini:12: platform.server_site");
    expect_error(GEN "worker_bw_profile = nowhere.profile\n", NULL, "nowhere.profile");
    write_file("neg.profile", "0 1\n5 -1\n");
    expect_error(GEN "worker_bw_profile = neg.profile\n", NULL, "neg.profile:2: platform.worker_bw_profile");
    expect_error(GEN, (const char *const[]){"--set", "platform.wan_lat=5", NULL}, "--set: platform.wan_lat = '5'");
    /* --set paths resolve against the current folder (the error shows the resolved path), file paths against the
     * scenario's folder */
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    char expect[1200];
    snprintf(expect, sizeof expect, "%s/missing.xml", cwd);
    expect_error(GEN, (const char *const[]){"--set", "platform.file=missing.xml", NULL}, expect);
    mkdir("sub", 0777);
    write_file("sub/bad.ini", GEN "file = missing.xml\n");
    const char *args[] = {"run", "sub/bad.ini", "--quiet", NULL};
    assert_int_equal(run_cli("err.txt", args), 2);
    char *e = slurp("err.txt", NULL);
    if (!strstr(e, "sub/missing.xml"))
        fail_msg("expected the path resolved against sub/: %s", e);
    free(e);
}

/* Platform files are validated before SimGrid reads them and routes looked up before the run: every mistake that
 * made SimGrid 3.32 abort (at load or mid-run) is exit 2 with one line naming file, line and element; --cfg=help
 * is SimGrid's option list (exit 0) and a bad --cfg or --log one line, exit 2. */
#define PV_SCEN                                                                                                     \
    "[run]\nrounds = 1\n[data]\ndataset = a9a\n[attack]\nname = none\nf = 0\n[workers]\nn = 2\nhosts = w0..w1\n"   \
    "server = server\n[platform]\nfile = pv.xml\n"

static void write_pv(const char *speed, const char *bw, const char *lat, const char *version, const char *extra,
                     int route_w1)
{
    char text[2048];
    snprintf(text, sizeof text,
             "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
             "<platform version=\"%s\">\n"                                                    /* 3 */
             "  <zone id=\"z\" routing=\"Full\">\n"                                           /* 4 */
             "    <host id=\"server\" speed=\"%s\"/>\n"                                       /* 5 */
             "    <host id=\"w0\" speed=\"1Gf\"/>\n    <host id=\"w1\" speed=\"1Gf\"/>\n"     /* 6, 7 */
             "    <link id=\"l0\" bandwidth=\"%s\" latency=\"%s\"/>\n"                        /* 8 */
             "    <link id=\"l1\" bandwidth=\"10MBps\" latency=\"1ms\"/>\n"                   /* 9 */
             "    %s\n"                                                                        /* 10 */
             "    <route src=\"server\" dst=\"w0\"><link_ctn id=\"l0\"/></route>\n"
             "    %s\n  </zone>\n</platform>\n",
             version, speed, bw, lat, extra,
             route_w1 ? "<route src=\"server\" dst=\"w1\"><link_ctn id=\"l1\"/></route>" : "");
    write_file("pv.xml", text);
}

static void test_platform_validate(void **state)
{
    (void)state;
    write_pv("1Gf", "10MBps", "1ms", "4.1", "", 1);
    write_file("good.ini", PV_SCEN);
    must_run((const char *const[]){"run", "good.ini", "--out", "pv_good", "--quiet", NULL});
    /* SimGrid aborted at load on these */
    write_pv("2parsecs", "10MBps", "1ms", "4.1", "", 1);
    expect_error(PV_SCEN, NULL, "pv.xml:5: <host id=\"server\">: speed \"2parsecs\"");
    write_pv("1Gf", "10MBps", "1ms", "2", "", 1);
    expect_error(PV_SCEN, NULL, "pv.xml:3: <platform>: version \"2\"");
    write_pv("1Gf", "10MBps", "1e400s", "4.1", "", 1);
    expect_error(PV_SCEN, NULL, "pv.xml:8: <link id=\"l0\">: latency \"1e400s\"");
    write_pv("1Gf", "10MBps", "1ms", "4.1", "<host id=\"w0\" speed=\"1Gf\"/>", 1);
    expect_error(PV_SCEN, NULL, "pv.xml:10: <host id=\"w0\">: id already names");
    write_pv("1Gf", "10MBps", "1ms", "4.1", "<route src=\"w0\" dst=\"w1\"><link_ctn id=\"l7\"/></route>", 1);
    expect_error(PV_SCEN, NULL, "pv.xml:10: <link_ctn id=\"l7\">");
    write_pv("1Gf", "10MBps", "1ms", "4.1", "<host id=\"h\" speed=\"1Gf\" state_file=\"nowhere\"/>", 1);
    expect_error(PV_SCEN, NULL, "pv.xml:10: <host id=\"h\">: state_file \"nowhere\"");
    /* ... and mid-run on these (under CM02 a zero bandwidth ran silently) */
    write_pv("0f", "10MBps", "1ms", "4.1", "", 1);
    expect_error(PV_SCEN, NULL, "pv.xml:5: <host id=\"server\">: speed \"0f\"");
    write_pv("1Gf", "0Bps", "1ms", "4.1", "", 1);
    expect_error(PV_SCEN, NULL, "pv.xml:8: <link id=\"l0\">: bandwidth \"0Bps\"");
    expect_error(NULL, (const char *const[]){"--set", "platform.network_model=CM02", NULL}, "pv.xml:8: <link id=\"l0\">");
    write_pv("1Gf", "-1Bps", "1ms", "4.1", "", 1);
    expect_error(PV_SCEN, NULL, "pv.xml:8: <link id=\"l0\">: bandwidth \"-1Bps\"");
    write_pv("1Gf", "nanBps", "1ms", "4.1", "", 1);
    expect_error(PV_SCEN, NULL, "pv.xml:8: <link id=\"l0\">: bandwidth \"nanBps\"");
    write_pv("1Gf", "10MBps", "1ms", "4.1", "", 0);
    expect_error(PV_SCEN, NULL, "no route from 'server' to 'w1'");
    /* not well-formed, not a platform, not a regular file */
    write_pv("1Gf", "10MBps", "1ms", "4.1", "", 1);
    char *whole = slurp("pv.xml", NULL);
    whole[200] = '\0';
    write_file("pv.xml", whole);
    free(whole);
    expect_error(PV_SCEN, NULL, "pv.xml:");
    write_file("pv.xml", "");
    expect_error(PV_SCEN, NULL, "pv.xml: empty file");
    write_file("pv.xml", PV_SCEN);
    expect_error(PV_SCEN, NULL, "pv.xml:1: not well-formed XML");
    unlink("pv_fifo.xml");
    assert_int_equal(mkfifo("pv_fifo.xml", 0600), 0);
    const char *specials[][2] = {{"/dev/null", "the platform is not a regular file"},
                                 {"/dev/zero", "the platform is not a regular file"},
                                 {"pv_fifo.xml", "the platform is not a regular file"},
                                 {".", "the platform is a folder"}};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        char set[300];
        snprintf(set, sizeof set, "platform.file=%s", specials[i][0]);
        expect_error(PV_SCEN, (const char *const[]){"--set", set, NULL}, specials[i][1]);
    }
    /* --cfg: SimGrid's option list, exit 0; a bad option, one line, exit 2 */
    write_pv("1Gf", "10MBps", "1ms", "4.1", "", 1);
    const char *help[] = {"run", "good.ini", "--cfg=help", NULL};
    assert_int_equal(run_cli_io(NULL, "pv_help.txt", "err.txt", help), 0);
    char *h = slurp("pv_help.txt", NULL);
    assert_non_null(strstr(h, "network/model"));
    free(h);
    expect_error(PV_SCEN, (const char *const[]){"--cfg=help:x", NULL}, "--cfg=help:x: Bad config key: help");
    expect_error(PV_SCEN, (const char *const[]){"--cfg=nonsense", NULL}, "--cfg=nonsense: Option 'nonsense' badly");
    expect_error(PV_SCEN, (const char *const[]){"--cfg=network/model:Foo", NULL}, "Model 'Foo' is invalid");
    expect_error(PV_SCEN, (const char *const[]){"--cfg=network/crosstraffic:maybe", NULL}, "not a boolean");
    expect_error(PV_SCEN, (const char *const[]){"--log=nonsense", NULL}, "--log=nonsense: Invalid control string");
    must_run((const char *const[]){"run", "good.ini", "--out", "pv_good", "--quiet", "--cfg=network/model:CM02",
                                   NULL});
}

/* faults.links on a generated star: the named link becomes two plain links, each with its own state profile (SimGrid
 * 3.32 aborts on a SPLITDUPLEX link with one, and on one profile file read twice), the same bytes every time; bad
 * [faults] values and faults.links on a platform file exit 2 with one line naming the key. */
static void assert_same_file(const char *a, const char *b);

static void platform_out(const char *dir, const char *links, const char *out_path)
{
    char set[200];
    snprintf(set, sizeof set, "faults.links=%s", links);
    const char *args[] = {"platform", BG_SCEN "/quickstart.ini", "--out", dir, "--set", "platform.topology=star",
                          "--set", set, NULL};
    int rc = run_cli_io(NULL, out_path, "stderr.txt", args);
    if (rc != 0) {
        char *e = slurp("stderr.txt", NULL);
        fail_msg("byzgrid platform exited %d: %s", rc, e ? e : "");
    }
}

static void expect_file(const char *path, const char *want)
{
    char *got = slurp(path, NULL);
    if (!got)
        fail_msg("%s is missing", path);
    if (strcmp(got, want))
        fail_msg("%s holds '%s', expected '%s'", path, got, want);
    free(got);
}

static void test_faults_platform(void **state)
{
    (void)state;
    platform_out("fp1", "l_w1@1s..2s", "fp1.out");
    char *xml = slurp("fp1.out", NULL);
    assert_non_null(xml);
    assert_non_null(strstr(xml, "<link id=\"l_w1_UP\" bandwidth=\"100Mbps\" latency=\"1ms\" "
                                "state_file=\"l_w1_UP.state\"/>\n"));
    assert_non_null(strstr(xml, "<link id=\"l_w1_DOWN\" bandwidth=\"100Mbps\" latency=\"1ms\" "
                                "state_file=\"l_w1_DOWN.state\"/>\n"));
    assert_null(strstr(xml, "<link id=\"l_w1\" "));
    assert_non_null(strstr(xml, "<link id=\"l_w0\" bandwidth=\"100Mbps\" latency=\"1ms\" "
                                "sharing_policy=\"SPLITDUPLEX\"/>"));
    expect_file("fp1/platform.xml", xml);   /* what it prints is what it wrote */
    free(xml);
    expect_file("fp1/l_w1_UP.state", "0 1\n1 0\n2 1\n");
    expect_file("fp1/l_w1_DOWN.state", "0 1\n1 0\n2 1\n");
    /* same scenario, same bytes */
    platform_out("fp2", "l_w1@1s..2s", "fp2.out");
    assert_same_file("fp1/platform.xml", "fp2/platform.xml");
    assert_same_file("fp1/l_w1_UP.state", "fp2/l_w1_UP.state");
    assert_same_file("fp1/l_w1_DOWN.state", "fp2/l_w1_DOWN.state");
    /* one direction, both, merged; minutes; the server's link as a pair with its routes unchanged */
    platform_out("fp3", "l_w1_UP@500ms, l_w1@3s..4s, l_w1@1m..2m, l_server@0s..10s", "fp3.out");
    expect_file("fp3/l_w1_UP.state", "0 1\n0.5 0\n");
    expect_file("fp3/l_w1_DOWN.state", "0 1\n3 0\n4 1\n60 0\n120 1\n");
    expect_file("fp3/l_server_UP.state", "0 0\n10 1\n");
    char *x3 = slurp("fp3.out", NULL);
    assert_non_null(x3);
    assert_non_null(strstr(x3, "<host_link id=\"server\" up=\"l_server_UP\" down=\"l_server_DOWN\"/>"));
    assert_null(strstr(x3, "<link id=\"l_server\" "));
    free(x3);

    expect_error(GEN "[faults]\nhosts = w3@5min\n", NULL, "bad.ini:12: faults.hosts = 'w3@5min': expected a known "
                                                           "unit");
    expect_error(GEN "[faults]\nhosts = w3@120\n", NULL, "bad.ini:12: faults.hosts = 'w3@120': expected a unit");
    expect_error(GEN "[faults]\nhosts = w3@200s..100s\n", NULL, "bad.ini:12: faults.hosts");
    expect_error(GEN "[faults]\nhosts = w3@-1s\n", NULL, "bad.ini:12: faults.hosts");
    expect_error(GEN "[faults]\nhosts = w3@1s..5s, w3@4s\n", NULL, "bad.ini:12: faults.hosts");
    expect_error(GEN "[faults]\nlinks = l_w1\n", NULL, "bad.ini:12: faults.links = 'l_w1': expected items");
    expect_error(GEN "[faults]\nmtbf_s = 100\n", NULL, "faults.mttr_s > 0");
    expect_error(GEN "[faults]\nmtbf_s = -1\n", NULL, "bad.ini:12: faults.mtbf_s");
    expect_error(GEN "[faults]\nlinks = bb@1s\n", NULL, "bad.ini:12: faults.links: the generated star platform has "
                                                        "no link 'bb'");
    expect_error(GEN "[faults]\nhosts = w99@1s\n", NULL, "bad.ini:12: faults.hosts: the platform has no host 'w99'");
    /* a platform file carries its own state_file attributes */
    expect_error(BASE "[faults]\nlinks = l_w1@1s\n", NULL, "faults.links is for generated platforms only");
    expect_error(BASE, (const char *const[]){"--set", "faults.links=l_w1@1s", NULL},
                 "--set: faults.links is for generated platforms only");
    const char *args[] = {"platform", BG_SCEN "/quickstart.ini", "--set", "faults.links=l_w1@1s", NULL};
    assert_int_equal(run_cli("err.txt", args), 2);
}

/* ---------------------------------------------------------------- attacker placement and wire format */

/* The worker hosts of summary.json's platform object, in rank order, and which are Byzantine. Returns the count. */
static size_t summary_workers(const char *dir, char hosts[][16], int *byz, size_t max)
{
    char path[128];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    char *s = slurp(path, NULL);
    assert_non_null(s);
    const char *p = strstr(s, "\"platform\": {");
    assert_non_null(p);
    memset(hosts, 0, max * sizeof *hosts);
    size_t n = 0;
    for (const char *h; n < max && (h = strstr(p, "\"host\": \"")); n++) {
        h += strlen("\"host\": \"");
        size_t len = strcspn(h, "\"");
        assert_true(len < 16);
        snprintf(hosts[n], 16, "%.*s", (int)len, h);
        const char *b = strstr(h, "\"byzantine\": ");
        assert_non_null(b);
        byz[n] = !strncmp(b + strlen("\"byzantine\": "), "true", 4);
        p = b;
    }
    free(s);
    return n;
}

/* star-hetero.xml as platforms/README.md documents it: worker k has link class k mod 6 and CPU class k mod 5. */
static double doc_up_bw(int k) { return (double[]){1, 5, 10, 25, 50, 100}[k % 6]; }      /* Mbps */
static double doc_speed(int k) { return (double[]){1, 2, 4, 8, 16}[k % 5]; }             /* Gflop/s */

enum { PL_N = 20, PL_F = 9 };

/* Runs the quick start for 2 rounds with extra --set options and checks that the Byzantine ranks n - f .. n - 1
 * run on exactly the hosts marked in want (worker index k = host wk), in workers.hosts order, and the honest ranks
 * on the others in order. */
static void check_placement(const char *dir, const char *const *sets, const int *want)
{
    const char *args[32] = {"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=2", "--out", dir, "--quiet"};
    int k = 7;
    for (; *sets; sets++) {
        args[k++] = "--set";
        args[k++] = *sets;
    }
    args[k] = NULL;
    must_run(args);
    char hosts[PL_N][16];
    int byz[PL_N];
    assert_int_equal(summary_workers(dir, hosts, byz, PL_N), PL_N);
    size_t rank = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int w = 0; w < PL_N; w++)
            if (want[w] == pass) {
                char expect[16];
                snprintf(expect, sizeof expect, "w%d", w);
                if (strcmp(hosts[rank], expect) || byz[rank] != pass)
                    fail_msg("%s: rank %zu runs on %s (byzantine %d), expected %s (byzantine %d)", dir, rank,
                             hosts[rank], byz[rank], expect, pass);
                rank++;
            }
}

/* The f hosts of w0..w19 ranked first by (upload bandwidth, CPU speed, list order), highest first (sign = 1) or
 * lowest first (sign = -1), from the documented classes. */
static void doc_rank(int sign, int *want)
{
    memset(want, 0, PL_N * sizeof *want);
    for (int taken = 0; taken < PL_F; taken++) {
        int best = -1;
        for (int w = 0; w < PL_N; w++) {
            if (want[w])
                continue;
            if (best < 0 || sign * doc_up_bw(w) > sign * doc_up_bw(best) ||
                (doc_up_bw(w) == doc_up_bw(best) && sign * doc_speed(w) > sign * doc_speed(best)))
                best = w;
        }
        want[best] = 1;
    }
}

static void test_placement(void **state)
{
    (void)state;
    int want[PL_N];
    for (int w = 0; w < PL_N; w++)
        want[w] = w >= PL_N - PL_F;
    check_placement("last", (const char *const[]){NULL}, want);
    for (int w = 0; w < PL_N; w++)
        want[w] = w < PL_F;
    check_placement("first", (const char *const[]){"attack.placement=first", NULL}, want);
    doc_rank(1, want);
    /* the documented classes give {w3,w4,w5,w9,w10,w11,w15,w16,w17}: 100, 50 and 25 Mbps, three each */
    assert_true(want[5] && want[11] && want[17] && want[3] && !want[0]);
    check_placement("fastest", (const char *const[]){"attack.placement=fastest", NULL}, want);
    doc_rank(-1, want);
    /* eight 1 and 5 Mbps hosts, then the slowest CPU among the 10 Mbps ones (w2: 4 Gf; w8 8 Gf, w14 16 Gf) */
    assert_true(want[0] && want[2] && !want[8] && !want[14]);
    check_placement("slowest", (const char *const[]){"attack.placement=slowest", NULL}, want);
    memset(want, 0, sizeof want);
    for (int w = 0; w < PL_N; w++)
        want[w] = w == 1 || w == 2 || w == 3 || w == 5 || (w >= 7 && w <= 10) || w == 19;
    check_placement("hosts",
                    (const char *const[]){"attack.placement=hosts", "attack.hosts=w3, w7..w10, w19, w1 w2,w5", NULL},
                    want);
    char *s = slurp("hosts/summary.json", NULL);
    assert_non_null(strstr(s, "\"attack_placement\": \"hosts\""));
    free(s);
    /* random: the same seed gives the same hosts, another seed other hosts (checked once: deterministic) */
    const char *r1[] = {"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=2", "--set", "attack.placement=random",
                        "--out", "random_a", "--quiet", NULL};
    const char *r2[] = {"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=2", "--set", "attack.placement=random",
                        "--out", "random_b", "--quiet", NULL};
    const char *r3[] = {"run",   BG_SCEN "/quickstart.ini", "--set", "run.rounds=2", "--set",
                        "attack.placement=random", "--set", "run.seed=2", "--out", "random_c", "--quiet", NULL};
    must_run(r1);
    must_run(r2);
    must_run(r3);
    char ha[PL_N][16], hb[PL_N][16], hc[PL_N][16];
    int ba[PL_N], bb[PL_N], bc[PL_N], nbyz = 0;
    assert_int_equal(summary_workers("random_a", ha, ba, PL_N), PL_N);
    assert_int_equal(summary_workers("random_b", hb, bb, PL_N), PL_N);
    assert_int_equal(summary_workers("random_c", hc, bc, PL_N), PL_N);
    assert_memory_equal(ha, hb, sizeof ha);
    assert_memory_equal(ba, bb, sizeof ba);
    assert_true(memcmp(ha, hc, sizeof ha) != 0);
    for (int r = 0; r < PL_N; r++)
        nbyz += ba[r] && r >= PL_N - PL_F;
    assert_int_equal(nbyz, PL_F);
    /* bad input: one line, exit 2 */
    expect_error(BASE "[attack]\nhosts = w0..w8\n", NULL,
                 "bad.ini:18: attack.hosts is only used with attack.placement = hosts");
    expect_error(BASE "[attack]\nplacement = hosts\n", NULL,
                 "bad.ini:18: attack.placement = hosts needs attack.hosts");
    expect_error(BASE "[attack]\nplacement = hosts\nhosts = w0..w7\n", NULL,
                 "attack.hosts lists 8 hosts but attack.f = 9");
    expect_error(BASE "[attack]\nplacement = hosts\nhosts = w0..w7, w30\n", NULL, "'w30' is not one of workers.hosts");
    expect_error(BASE "[attack]\nplacement = hosts\nhosts = w0..w7, w7\n", NULL, "'w7' is listed twice");
    expect_error(BASE "[attack]\nplacement = fast\n", NULL, "bad.ini:18: attack.placement = 'fast'");
}

/* attack.wire under CM02 without cross traffic, the Byzantine ranks on the slowest links: dense attacker messages
 * (16 + 4d = 508 bytes for a9a) set the round time; conform ones are the honest Top-12 size (76 bytes). The
 * recorded uplink bytes are exact; each round is shorter by the 432 bytes saved on a 1 Mbps (125000 B/s) link,
 * up to the attacker's few microseconds of extra compression work. */
static void test_wire_time(void **state)
{
    (void)state;
    const char *modes[] = {"dense", "conform"};
    double sim[2], up[2];
    for (int m = 0; m < 2; m++) {
        char set[64], out[32];
        snprintf(set, sizeof set, "attack.wire=%s", modes[m]);
        snprintf(out, sizeof out, "wire_%s", modes[m]);
        must_run((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=20", "--set",
                                       "attack.placement=slowest", "--set", "platform.network_model=CM02", "--set",
                                       "platform.crosstraffic=false", "--set", set, "--set", "run.events=true", "--out",
                                       out, "--quiet", NULL});
        char path[64];
        /* events.csv: with conform every upload has the honest Top-12 size (76 bytes), with dense the attackers'
         * (ranks 11..19) are 16 + 4d = 508 bytes */
        snprintf(path, sizeof path, "%s/events.csv", out);
        char *ev = slurp(path, NULL);
        assert_non_null(ev);
        size_t uploads = 0;
        char *save = NULL;
        for (char *l = strtok_r(ev, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            char *cols[8];
            if (split(l, cols, 8) != 6 || strcmp(cols[2], "upload"))
                continue;
            const double want = m == 1 || atoi(cols[1]) < 11 ? 76.0 : 508.0;
            if (atof(cols[5]) != want)
                fail_msg("%s: worker %s's upload in round %s has %s bytes, expected %.0f", modes[m], cols[1], cols[0],
                         cols[5], want);
            uploads++;
        }
        assert_int_equal(uploads, 20 * 20);
        free(ev);
        snprintf(path, sizeof path, "%s/summary.json", out);
        char *s = slurp(path, NULL);
        assert_non_null(s);
        sim[m] = json_num_after(s, "\"time\"", "sim_time_s");
        up[m] = json_num_after(s, "\"final\"", "bytes_up");
        free(s);
    }
    assert_true(up[0] == 20.0 * (11 * 76 + 9 * 508));
    assert_true(up[1] == 20.0 * 20 * 76);
    const double saved = 20.0 * (508 - 76) / 125000.0;
    printf("sim_time dense %.9f s, conform %.9f s, difference %.9f s (432 bytes at 1 Mbps x 20 rounds: %.9f s)\n",
           sim[0], sim[1], sim[0] - sim[1], saved);
    assert_true(fabs((sim[0] - sim[1]) - saved) <= 0.01 * saved);
}

/* The quick start without run.eval_every (so run.eval_every_s alone decides the rows), 300 rounds. */
#define QS_TIME                                                                                                      \
    "[run]\nseed = 1\nrounds = 300\n[data]\ndataset = a9a\n[model]\nname = logreg\nlambda = 0.00056\n[method]\n"   \
    "name = byz-ef21-sgdm\nlr = 8.0\neta = 0.1\nbatch = 128\n[compressor]\nname = topk\nk = 12\n[aggregator]\n"    \
    "pre = nnm\nname = cm\n[attack]\nname = ipm\nf = 9\neps = 0.1\n[workers]\nn = 20\n[platform]\nfile = "          \
    BG_SOURCE_DIR "/platforms/star-hetero.xml\n"

/* The rows of a trace (header dropped), each split into at most 16 columns; returns the row count. */
typedef struct { char *text; int n; char *col[1200][16]; } rows_t;
static int read_rows(const char *path, rows_t *r)
{
    r->text = slurp(path, NULL);
    assert_non_null(r->text);
    char *save = NULL;
    r->n = 0;
    assert_non_null(strtok_r(r->text, "\n", &save));
    for (char *l = strtok_r(NULL, "\n", &save); l && r->n < 1200; l = strtok_r(NULL, "\n", &save)) {
        assert_int_equal(split(l, r->col[r->n], 16), 12);
        r->n++;
    }
    return r->n;
}

/* run.eval_every_s writes rows at k * delta holding the model of the last round that had ended by then (the
 * round-based run's row of that round: same counters, losses and accuracies); run.until_s ends the run with a row
 * at exactly that time; run.rounds stays a cap; the same seed gives the same bytes; --driver refuses both keys. */
static void test_time_axis(void **state)
{
    (void)state;
    write_file("qt.ini", QS_TIME);
    must_run((const char *const[]){"run", "qt.ini", "--set", "run.eval_every=1", "--out", "ref", "--quiet", NULL});
    const char *grid[] = {"run", "qt.ini", "--set", "run.eval_every_s=7.5", "--set", "run.until_s=100", "--out",
                          "grid", "--quiet", NULL};
    must_run(grid);
    static rows_t ref, g;
    assert_int_equal(read_rows("ref/trace.csv", &ref), 301);
    assert_int_equal(read_rows("grid/trace.csv", &g), 15);   /* 0, 7.5, ..., 97.5, then 100 */
    double last_energy = -1.0;
    for (int k = 0; k < g.n; k++) {
        const double t = k < 14 ? 7.5 * k : 100.0;
        char want[40];
        snprintf(want, sizeof want, "%.9f", t);
        assert_string_equal(g.col[k][1], want);
        /* the last round that had ended by t in the round-based run */
        int r = 0;
        while (r + 1 < ref.n && atof(ref.col[r + 1][1]) <= t)
            r++;
        assert_true(r < ref.n - 1);   /* the rounds cap did not bind before 100 s */
        for (int c = 0; c < 11; c++)
            if (c != 1 && strcmp(g.col[k][c], ref.col[r][c]))
                fail_msg("row at %.1f s, column %d: %s, round-based run's round %d: %s", t, c, g.col[k][c], r,
                         ref.col[r][c]);
        const double e = atof(g.col[k][11]);
        assert_true(k == 0 ? e == 0.0 : e > last_energy);
        last_energy = e;
    }
    printf("until_s = 100: %s rounds, energy %s J\n", g.col[14][0], g.col[14][11]);
    char *s = slurp("grid/summary.json", NULL);
    assert_non_null(s);
    assert_true(json_num_after(s, "\"time\"", "sim_time_s") == 100.0);
    assert_true(json_num_after(s, "\"final\"", "round") == atof(g.col[14][0]));
    assert_true(fabs(json_num_after(s, "\"energy\"", "total_j") - last_energy) <= 1e-6 * last_energy);
    free(s);
    /* the same seed, the same bytes */
    grid[7] = "grid2";
    must_run(grid);
    size_t la, lb;
    char *ta = slurp("grid/trace.csv", &la), *tb = slurp("grid2/trace.csv", &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ta, tb, la);
    free(ta);
    free(tb);
    /* until_s beyond the last round: run.rounds ends the run, at the round-based run's last time */
    must_run((const char *const[]){"run", "qt.ini", "--set", "run.until_s=1000", "--out", "cap", "--quiet", NULL});
    char *cols[16];
    int n;
    char *t = last_row("cap/trace.csv", cols, 16, &n);
    assert_string_equal(cols[0], "300");
    assert_string_equal(cols[1], ref.col[300][1]);
    free(t);
    /* the in-process driver has no time: one line naming the key, exit 2 */
    assert_int_equal(run_cli("err.txt", (const char *const[]){"run", "qt.ini", "--set", "run.eval_every_s=5",
                                                                "--driver", "--quiet", NULL}), 2);
    char *e = slurp("err.txt", NULL);
    assert_non_null(strstr(e, "--set: run.eval_every_s needs simulated time"));
    free(e);
    free(ref.text);
    free(g.text);
}


/* Both files exist and hold the same bytes. */
static void assert_same_file(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *ta = slurp(a, &la), *tb = slurp(b, &lb);
    if (!ta || !tb)
        fail_msg("%s or %s missing", a, b);
    if (la != lb || memcmp(ta, tb, la))
        fail_msg("%s and %s differ", a, b);
    free(ta);
    free(tb);
}

/* run.relays: relay actors serving 4 (or 3) workers each give byte-identical outputs to the server serving every
 * worker itself: trace.csv (sim_time_s and energy_j included) and events.csv, with eavesdropping omniscient
 * attackers (the quick start's ipm), and with the oracle timing on the time axis (the clock actor). */
static void test_relays(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        const char *rel = k ? "run.relays=4" : "run.relays=0";
        const char *out = k ? "on" : "off";
        must_run((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=200", "--set",
                                       "run.events=true", "--set", rel, "--out", out, "--quiet", NULL});
        const char *rel2 = k ? "run.relays=3" : "run.relays=0";
        const char *out2 = k ? "oracle_on" : "oracle_off";
        must_run((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "attack.timing=oracle", "--set",
                                       "run.eval_every_s=10", "--set", "run.until_s=55", "--set", rel2, "--out",
                                       out2, "--quiet", NULL});
    }
    assert_same_file("off/trace.csv", "on/trace.csv");
    assert_same_file("off/events.csv", "on/events.csv");
    assert_same_file("oracle_off/trace.csv", "oracle_on/trace.csv");
    /* the runs did something: 200 rounds of 20 workers (download, compute, upload) and the server (2 rows) */
    size_t len = 0;
    char *ev = slurp("on/events.csv", &len);
    assert_non_null(ev);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += ev[i] == '\n';
    assert_int_equal(lines, 1 + 200 * (20 * 3 + 2));
    free(ev);
    char *cols[16];
    int n;
    char *t = last_row("on/trace.csv", cols, 16, &n);
    assert_string_equal(cols[0], "200");
    free(t);
    t = last_row("oracle_on/trace.csv", cols, 16, &n);
    assert_string_equal(cols[1], "55.000000000");
    free(t);
    char *sum = slurp("on/summary.json", NULL);
    assert_non_null(strstr(sum, "\"relays\""));
    free(sum);
}

/* run.target_acc: summary.json's target block is the first trace row with test_acc >= target (bytes up + down,
 * energy at that row), and null fields when no row reaches it. */
static void test_target(void **state)
{
    (void)state;
    write_file("qt.ini", QS_TIME);
    must_run((const char *const[]){"run", "qt.ini", "--set", "run.eval_every_s=5", "--set", "run.target_acc=0.84",
                                   "--out", "hit", "--quiet", NULL});
    static rows_t g;
    read_rows("hit/trace.csv", &g);
    int k = 0;
    while (k < g.n && atof(g.col[k][6]) < 0.84)
        k++;
    assert_true(k > 0 && k < g.n);
    char *s = slurp("hit/summary.json", NULL);
    assert_non_null(s);
    printf("target 0.84: row %d, %s s, round %s, %s J\n", k, g.col[k][1], g.col[k][0], g.col[k][11]);
    assert_true(fabs(json_num_after(s, "\"target\"", "time_to_target_s") - atof(g.col[k][1])) < 1e-6);
    assert_true(json_num_after(s, "\"target\"", "rounds_to_target") == atof(g.col[k][0]));
    assert_true(json_num_after(s, "\"target\"", "bytes_to_target") == atof(g.col[k][2]) + atof(g.col[k][3]));
    assert_true(fabs(json_num_after(s, "\"target\"", "energy_to_target_j") - atof(g.col[k][11])) <=
                1e-6 * atof(g.col[k][11]));
    free(s);
    free(g.text);
    must_run((const char *const[]){"run", "qt.ini", "--set", "run.target_acc=0.99", "--out", "miss", "--quiet",
                                   NULL});
    s = slurp("miss/summary.json", NULL);
    assert_non_null(s);
    const char *tb = strstr(s, "\"target\": {");
    assert_non_null(tb);
    const char *keys[] = {"time_to_target_s", "rounds_to_target", "bytes_to_target", "energy_to_target_j"};
    for (size_t i = 0; i < 4; i++) {
        char pat[64];
        snprintf(pat, sizeof pat, "\"%s\": null", keys[i]);
        assert_non_null(strstr(tb, pat));
    }
    free(s);
}

/* The issue's bandwidth study, as a user types it: Fashion-MNIST's CNN on a generated star at 1 Mbps and at 100 Mbps
 * worker links. The difference in simulated time is what the message sizes predict under LV08 (rates x 0.97): per
 * round the broadcast (shared by the n flows on the server's link at 100 Mbps) plus the largest upload (the f dense
 * attacker messages, sharing the server's link among themselves); latencies and compute are the same in both runs
 * and cancel. Each run folder holds platform.xml, events.csv and a trace with energy_j. */
static void test_bandwidth(void **state)
{
    (void)state;
    const char *bws[2] = {"1Mbps", "100Mbps"};
    double sim[2], down = 0, up = 0, dim = 0, n = 0, f = 0, server_bw = 0, rate[2], rounds = 20;
    for (int b = 0; b < 2; b++) {
        char set_bw[64], out[32];
        snprintf(set_bw, sizeof set_bw, "platform.worker_bw=%s", bws[b]);
        snprintf(out, sizeof out, "bw_%s", bws[b]);
        must_run((const char *const[]){"run", BG_SCEN "/fmnist-cnn.ini", "--set", "platform.topology=star", "--set",
                                       set_bw, "--set", "run.rounds=20", "--set", "run.events=true", "--out", out,
                                       "--quiet", NULL});
        char path[96];
        snprintf(path, sizeof path, "%s/summary.json", out);
        char *s = slurp(path, NULL);
        assert_non_null(s);
        sim[b] = json_num_after(s, "\"time\"", "sim_time_s");
        down = json_num_after(s, "\"resolved\"", "downlink_bytes_per_worker");
        dim = json_num_after(s, "\"resolved\"", "dim");
        n = json_num_after(s, "\"workers\"", "n");
        f = json_num_after(s, "\"attack\"", "f");
        rate[b] = json_num_after(s, "\"l_w0_DOWN\"", "bandwidth_Bps");
        server_bw = json_num_after(s, "\"l_server_UP\"", "bandwidth_Bps");
        assert_true(json_num_after(s, "\"energy\"", "total_j") > 0);
        free(s);
        snprintf(path, sizeof path, "%s/platform.xml", out);
        char *x = slurp(path, NULL);
        assert_non_null(x);
        assert_non_null(strstr(x, "<platform version=\"4.1\">"));
        free(x);
        snprintf(path, sizeof path, "%s/events.csv", out);
        char *ev = slurp(path, NULL);
        assert_non_null(ev);
        assert_non_null(strstr(ev, ",upload,"));
        free(ev);
        char *cols[16];
        int nc;
        snprintf(path, sizeof path, "%s/trace.csv", out);
        char *t = last_row(path, cols, 16, &nc);
        assert_int_equal(nc, 12);
        assert_true(atof(cols[11]) > 0);   /* energy_j */
        free(t);
    }
    up = 16.0 + 4.0 * dim;   /* an omniscient attacker's dense message (attack.wire = dense) */
    assert_true(rate[0] == 125000.0 && rate[1] == 12500000.0);
    double pred = 0.0;
    for (int b = 0; b < 2; b++) {
        const double r_down = 0.97 * fmin(rate[b], server_bw / n), r_up = 0.97 * fmin(rate[b], server_bw / f);
        pred += (b ? -1.0 : 1.0) * rounds * (down / r_down + up / r_up);
    }
    printf("fmnist-cnn, 20 rounds: %.6f s at 1 Mbps, %.6f s at 100 Mbps; difference %.6f s, predicted %.6f s\n",
           sim[0], sim[1], sim[0] - sim[1], pred);
    assert_true(fabs((sim[0] - sim[1]) - pred) <= 0.01 * pred);
}


/* The quick start on a generated star (100 Mbps, 1 ms links), n = 20 of which f Byzantine. */
#define QS_STAR                                                                                                      \
    "[run]\nseed = 1\nrounds = 400\neval_every = 50\n[data]\ndataset = a9a\n[model]\nname = logreg\n"             \
    "lambda = 0.00056\n[method]\nname = byz-ef21-sgdm\nlr = 8.0\neta = 0.1\nbatch = 128\n[compressor]\n"          \
    "name = topk\nk = 12\n[aggregator]\npre = nnm\nname = cm\n[attack]\nname = ipm\nf = 3\neps = 0.1\n"            \
    "[workers]\nn = 20\n"

/* A file's text without blanks and line breaks (summary.json's names hold none). */
static char *slurp_compact(const char *path)
{
    char *t = slurp(path, NULL);
    assert_non_null(t);
    char *w = t;
    for (const char *r = t; *r; r++)
        if (*r != ' ' && *r != '\n')
            *w++ = *r;
    *w = '\0';
    return t;
}

/* stderr holds nothing from SimGrid's failure paths */
static void assert_clean_stderr(const char *path)
{
    char *e = slurp(path, NULL);
    assert_non_null(e);
    if (strstr(e, "Backtrace") || strstr(e, "Deadlock") || strstr(e, "CRITICAL") || strstr(e, "Oops"))
        fail_msg("stderr: %s", e);
    free(e);
}

/* [round] at the synchronous settings (quorum = n, participation = 1) keeps the direct path: trace.csv and
 * events.csv byte-identical to a run without them (sim_time_s and energy_j included). The proxy path made to
 * behave synchronously (a deadline nobody reaches) gives the same twelve columns (times and energy included) as the
 * direct path with the oracle timing it uses; participation = 0.5 samples 10 workers a round (each round's downloads in
 * events.csv), seeded: the same bytes twice, different workers from round to round. */
static void test_round_protocols(void **state)
{
    (void)state;
    must_run((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=100", "--set",
                                   "run.events=true", "--out", "plain", "--quiet", NULL});
    must_run((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=100", "--set",
                                   "run.events=true", "--set", "round.quorum=20", "--set", "round.participation=1",
                                   "--out", "sync", "--quiet", NULL});
    assert_same_file("plain/trace.csv", "sync/trace.csv");
    assert_same_file("plain/events.csv", "sync/events.csv");
    must_run((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=100", "--set",
                                   "attack.timing=oracle", "--out", "oracle", "--quiet", NULL});
    must_run((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=100", "--set",
                                   "round.deadline_s=1e6", "--out", "proxy", "--quiet", NULL});
    static rows_t a, b;
    char *hdr = slurp("proxy/trace.csv", NULL);
    assert_non_null(strstr(hdr, "energy_j,selected,participants,missing,late,late_dropped,skipped_rounds\n"));
    free(hdr);
    write_file("cut.sh", "cut -d, -f1-12 proxy/trace.csv > proxy12.csv\n");
    assert_int_equal(system("sh cut.sh"), 0);
    assert_same_file("proxy12.csv", "oracle/trace.csv");
    (void)a;
    (void)b;
    /* sampling */
    write_file("qs_star.ini", QS_STAR);
    const char *part[] = {"run", "qs_star.ini", "--set", "round.participation=0.5", "--set", "run.rounds=40",
                          "--set", "run.events=true", "--set", "run.eval_every=10", "--out", "part", "--quiet", NULL};
    must_run(part);
    part[11] = "part2";
    must_run(part);
    assert_same_file("part/trace.csv", "part2/trace.csv");
    assert_same_file("part/events.csv", "part2/events.csv");
    char *ev = slurp("part/events.csv", NULL);
    assert_non_null(ev);
    unsigned char seen[40][20] = {{0}};
    char *save = NULL;
    for (char *l = strtok_r(ev, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *cols[8];
        if (split(l, cols, 8) == 6 && !strcmp(cols[2], "download"))
            seen[atoi(cols[0])][atoi(cols[1])]++;
    }
    free(ev);
    int differ = 0;
    for (int t = 0; t < 40; t++) {
        int k = 0;
        for (int i = 0; i < 20; i++)
            k += seen[t][i];
        assert_int_equal(k, 10);
        differ += t > 0 && memcmp(seen[t], seen[t - 1], 20) != 0;
    }
    assert_true(differ >= 30);
    char *cols[20];
    int n;
    char *t = last_row("part/trace.csv", cols, 20, &n);
    assert_int_equal(n, 18);
    assert_string_equal(cols[12], "100");   /* selected in rounds 31..40 */
    free(t);
    /* a bad value is one line naming the key, exit 2 */
    assert_int_equal(run_cli("err.txt", (const char *const[]){"run", "qs_star.ini", "--set", "round.deadline_s=-1",
                                                                "--quiet", NULL}), 2);
    char *e = slurp("err.txt", NULL);
    assert_non_null(strstr(e, "round.deadline_s"));
    free(e);
    /* the in-process driver has no time for them */
    assert_int_equal(run_cli("err.txt", (const char *const[]){"run", "qs_star.ini", "--set", "round.quorum=5",
                                                                "--driver", "--quiet", NULL}), 2);
    e = slurp("err.txt", NULL);
    assert_non_null(strstr(e, "--set: round.quorum needs simulated time"));
    free(e);
    /* what the proxy path cannot run is refused with the key */
    assert_int_equal(run_cli("err.txt", (const char *const[]){"run", "qs_star.ini", "--set", "round.quorum=5", "--set",
                                                                "method.name=byz-ef21-bc", "--set", "attack.f=0",
                                                                "--quiet", NULL}), 2);
    e = slurp("err.txt", NULL);
    assert_non_null(strstr(e, "method.name"));
    assert_non_null(strstr(e, "round protocols and faults cannot run byz-ef21-bc"));
    free(e);
}

/* Three worker hosts crash (one for good, two come back) and one link goes down: exit 0, every outage reported in
 * summary.json, the late increments applied (worker g = server g_i), nothing from SimGrid on stderr. The server's
 * host crashing ends the run with exit 1, one line, and the rows written so far. Seeded MTBF/MTTR outages: the
 * same seed, the same bytes. */
static void test_faults(void **state)
{
    (void)state;
    write_file("qs_star.ini", QS_STAR);
    int rc = run_cli("err.txt", (const char *const[]){"run", "qs_star.ini", "--set",
                                                        "faults.hosts=w1@3s..9s, w6@4s, w9@10s..11s", "--set",
                                                        "faults.links=l_w2@5s..8s", "--set", "round.deadline_s=1",
                                                        "--out", "crash3", "--quiet", NULL});
    assert_int_equal(rc, 0);
    assert_clean_stderr("err.txt");
    char *c = slurp_compact("crash3/summary.json");
    assert_non_null(strstr(c, "{\"host\":\"w1\",\"down_s\":3,\"up_s\":9}"));
    assert_non_null(strstr(c, "{\"host\":\"w6\",\"down_s\":4,\"up_s\":null}"));
    assert_non_null(strstr(c, "{\"host\":\"w9\",\"down_s\":10,\"up_s\":11}"));
    assert_non_null(strstr(c, "{\"link\":\"l_w2\",\"down_s\":5,\"up_s\":8}"));
    free(c);
    char *s = slurp("crash3/summary.json", NULL);
    assert_true(json_num_after(s, "\"rounds\"", "missing") > 0);
    assert_true(json_num_after(s, "\"rounds\"", "mirror_max_abs_diff") == 0.0);
    assert_true(json_num_after(s, "\"rounds\"", "mirror_workers_compared") >= 15);
    assert_true(json_num_after(s, "\"final\"", "round") == 400);
    free(s);
    /* the server's host */
    expect_run_failure((const char *const[]){"run", "qs_star.ini", "--set", "faults.hosts=server@2s", "--set",
                                             "run.eval_every=1", "--out", "srv", "--quiet", NULL},
                       "the server's host 'server' crashed at 2 s", "srv/trace.csv", 10);
    assert_clean_stderr("err.txt");
    assert_int_equal(access("srv/summary.json", F_OK), -1);
    /* seeded outages, no deadline: the server notices crashes and never hangs */
    const char *mt[] = {"run", "qs_star.ini", "--set", "faults.mtbf_s=30", "--set", "faults.mttr_s=5", "--out", "mtbf",
                        "--quiet", NULL};
    assert_int_equal(run_cli("err.txt", mt), 0);
    assert_clean_stderr("err.txt");
    mt[7] = "mtbf2";
    assert_int_equal(run_cli("err.txt", mt), 0);
    assert_same_file("mtbf/trace.csv", "mtbf2/trace.csv");
    c = slurp_compact("mtbf/summary.json");
    assert_non_null(strstr(c, "\"faults\":[{\"host\":\"w"));
    free(c);
    s = slurp("mtbf/summary.json", NULL);
    assert_true(json_num_after(s, "\"rounds\"", "mirror_max_abs_diff") == 0.0);
    free(s);
}


/* run.threads: the workers' local work and the evaluation on 1, 2 or 3 threads give byte-identical trace.csv, for
 * the Fashion-MNIST CNN (simulated and in-process) and for a round protocol on the quick start; summary.json
 * records the resolved count, and auto resolves to at least one thread. */
static void test_threads(void **state)
{
    (void)state;
    const char *th[] = {"run.threads=1", "run.threads=2", "run.threads=3"};
    const char *sim_out[] = {"cnn1", "cnn2", "cnn3"}, *drv_out[] = {"drv1", "drv2", "drv3"};
    const char *pr_out[] = {"pr1", "pr2", "pr3"};
    write_file("qs_star.ini", QS_STAR);
    for (int k = 0; k < 3; k++) {
        must_run((const char *const[]){"run", BG_SCEN "/fmnist-cnn.ini", "--set", "run.rounds=6", "--set",
                                       "run.eval_every=3", "--set", th[k], "--out", sim_out[k], "--quiet", NULL});
        must_run((const char *const[]){"run", BG_SCEN "/fmnist-cnn.ini", "--set", "run.rounds=6", "--set",
                                       "run.eval_every=3", "--set", th[k], "--driver", "--out", drv_out[k], "--quiet",
                                       NULL});
        must_run((const char *const[]){"run", "qs_star.ini", "--set", "run.rounds=60", "--set",
                                       "round.participation=0.5", "--set", "round.deadline_s=0.01", "--set", th[k],
                                       "--out", pr_out[k], "--quiet", NULL});
    }
    for (int k = 1; k < 3; k++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "%s/trace.csv", sim_out[0]);
        snprintf(b, sizeof b, "%s/trace.csv", sim_out[k]);
        assert_same_file(a, b);
        snprintf(a, sizeof a, "%s/trace.csv", drv_out[0]);
        snprintf(b, sizeof b, "%s/trace.csv", drv_out[k]);
        assert_same_file(a, b);
        snprintf(a, sizeof a, "%s/trace.csv", pr_out[0]);
        snprintf(b, sizeof b, "%s/trace.csv", pr_out[k]);
        assert_same_file(a, b);
    }
    /* the runs learned something and the protocol bit: the CNN's accuracy moved, rounds had late messages */
    char *cols[20];
    int n;
    char *t = last_row("cnn3/trace.csv", cols, 20, &n);
    assert_string_equal(cols[0], "6");
    free(t);
    char *s = slurp("pr3/summary.json", NULL);
    assert_non_null(s);
    assert_true(json_num_after(s, "\"late_messages\"", "late") > 0);
    free(s);
    char *c = slurp_compact("cnn2/summary.json");
    assert_non_null(strstr(c, "\"threads\":2"));
    free(c);
    must_run((const char *const[]){"run", "qs_star.ini", "--set", "run.rounds=2", "--out", "auto", "--quiet", NULL});
    s = slurp("auto/summary.json", NULL);
    assert_true(json_num_after(s, "\"run\"", "threads") >= 1);
    free(s);
}

/* summary.json's blas.<key> value into buf (compact text: "key":"value"). */
static void blas_field(const char *dir, const char *key, char *buf, size_t n)
{
    char path[256], pat[64];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    char *s = slurp_compact(path);
    const char *b = strstr(s, "\"blas\":{");
    assert_non_null(b);
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *q = strstr(b, pat);
    assert_non_null(q);
    q += strlen(pat);
    size_t l = strcspn(q, "\"");
    assert_true(l < n);
    memcpy(buf, q, l);
    buf[l] = '\0';
    free(s);
}

/* OpenBLAS's kernels (expectations from this CPU's features, so on any x86-64 machine): a user's OPENBLAS_CORETYPE
 * wins and, when the CPU could do better, stderr says so in exactly one line; without it a CPU with AVX2 + FMA never
 * runs the generic Prescott kernels; byzgrid's re-execution (forced by pretending OpenBLAS chose Prescott) keeps exit
 * codes, stdin and stdout, and its child says coretype_from byzgrid. */
static void test_blas(void **state)
{
    (void)state;
    __builtin_cpu_init();
    const int avx = !!__builtin_cpu_supports("avx");
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const char *run[] = {"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=20", "--out", "b", "--quiet", NULL};
    char k[64], from[64];
    unsetenv("BYZGRID_BLAS_ASSUME_CORE");
    setenv("OPENBLAS_CORETYPE", "Prescott", 1);
    must_run(run);
    blas_field("b", "kernels", k, sizeof k);
    blas_field("b", "coretype_from", from, sizeof from);
    assert_string_equal(k, "Prescott");
    assert_string_equal(from, "user");
    char *e = slurp("stderr.txt", NULL);
    assert_int_equal(count_of(e, "byzgrid: note: OpenBLAS uses its generic Prescott kernels on a CPU with "), avx);
    assert_int_equal(count_of(e, "note:"), avx);
    free(e);
    /* not a run: no note */
    const char *keys[] = {"keys", NULL};
    assert_int_equal(run_cli("err.txt", keys), 0);
    e = slurp("err.txt", NULL);
    assert_string_equal(e, "");
    free(e);

    unsetenv("OPENBLAS_CORETYPE");
    must_run(run);
    blas_field("b", "kernels", k, sizeof k);
    blas_field("b", "coretype_from", from, sizeof from);
    if (avx2)
        assert_string_not_equal(k, "Prescott");
    assert_true(!strcmp(from, "auto") || !strcmp(from, "byzgrid"));
    e = slurp("stderr.txt", NULL);
    assert_null(strstr(e, "note:"));
    free(e);

    /* the re-execution path */
    const char *agg[] = {"aggregate", "--rule", "cm", "--f", "1", NULL};
    FILE *f = fopen("in.csv", "w");
    assert_non_null(f);
    fputs("1,2,3\n4,5,6\n7,8,90\n-1,0,1\n", f);
    fclose(f);
    assert_int_equal(run_cli_io("in.csv", "plain.csv", "err.txt", agg), 0);
    setenv("BYZGRID_BLAS_ASSUME_CORE", "Prescott", 1);
    assert_int_equal(run_cli_io("in.csv", "reexec.csv", "err.txt", agg), 0);
    assert_same_file("plain.csv", "reexec.csv");
    char *out = slurp("reexec.csv", NULL);
    assert_true(strlen(out) > 4);
    free(out);
    const char *help[] = {"--help", NULL}, *bad[] = {"run", "no-such-scenario.ini", NULL};
    assert_int_equal(run_cli_io(NULL, "help.txt", "err.txt", help), 0);
    out = slurp("help.txt", NULL);
    assert_non_null(strstr(out, "usage: byzgrid run"));
    free(out);
    assert_int_equal(run_cli("err.txt", bad), 2);
    e = slurp("err.txt", NULL);
    assert_int_equal(count_of(e, "\n"), 1);
    assert_non_null(strstr(e, "no-such-scenario.ini"));
    free(e);
    must_run(run);
    blas_field("b", "kernels", k, sizeof k);
    blas_field("b", "coretype_from", from, sizeof from);
    assert_string_equal(from, avx ? "byzgrid" : "auto");
    if (avx)
        assert_string_not_equal(k, "Prescott");
    e = slurp("stderr.txt", NULL);
    assert_null(strstr(e, "note:"));
    free(e);
    unsetenv("BYZGRID_BLAS_ASSUME_CORE");
}


/* ---- Output folders and signals -------------------------------------------------------------------------------- */

/* The name of the first entry of "." starting with prefix (a run's DIR.running-XXXXXX), or "" . */
static void find_entry(const char *prefix, char *out, size_t len)
{
    out[0] = '\0';
    DIR *d = opendir(".");
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (!strncmp(e->d_name, prefix, strlen(prefix))) {
            snprintf(out, len, "%s", e->d_name);
            break;
        }
    closedir(d);
}

static int count_lines(const char *path)
{
    char *t = slurp(path, NULL);
    if (!t)
        return -1;
    int n = 0;
    for (char *p = t; *p; p++)
        n += *p == '\n';
    free(t);
    return n;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Exit code and stderr of a run that must be refused with one line containing `expect`. */
static void expect_refused(const char *const *args, const char *expect)
{
    int rc = run_cli("err.txt", args);
    char *e = slurp("err.txt", NULL);
    assert_non_null(e);
    if (rc != 2 || err_lines("err.txt") != 1 || !strstr(e, expect))
        fail_msg("expected exit 2 and one line containing '%s'; got exit %d: %s", expect, rc, e);
    free(e);
}

static void test_outputs(void **state)
{
    (void)state;
    char name[256];
    system("rm -rf o1 o1.* o2 o3 o4 real link foreign out");
    /* A run into a new folder: the folder appears at the end, nothing else is left beside it. */
    must_run((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=5", "--out", "o1", "--quiet",
                                   NULL});
    assert_int_equal(count_lines("o1/trace.csv"), 3);   /* header, rounds 0 and 5 */
    find_entry("o1.", name, sizeof name);
    assert_string_equal(name, "");
    /* Run again into it: replaced whole (a file left in the earlier run's folder goes with it). */
    write_text("o1/mine.txt", "x");
    must_run((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=10", "--set",
                                   "run.eval_every=5", "--out", "o1", "--quiet", NULL});
    assert_int_equal(count_lines("o1/trace.csv"), 4);
    assert_int_equal(access("o1/mine.txt", F_OK), -1);
    find_entry("o1.", name, sizeof name);
    assert_string_equal(name, "");
    /* Bad input into an existing run: the earlier run stays byte for byte, nothing is left beside it. */
    char *before = slurp("o1/summary.json", NULL), *tbefore = slurp("o1/trace.csv", NULL);
    expect_refused((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "method.lr=-1", "--out", "o1",
                                         "--quiet", NULL},
                   "method.lr");
    char *after = slurp("o1/summary.json", NULL), *tafter = slurp("o1/trace.csv", NULL);
    assert_string_equal(before, after);
    assert_string_equal(tbefore, tafter);
    find_entry("o1.", name, sizeof name);
    assert_string_equal(name, "");
    /* A run that fails midway (the model diverges) into an existing run: the earlier run stays; this one's trace is
     * in the folder the message names. */
    int rc = run_cli("err.txt", (const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "method.lr=1e38",
                                                      "--out", "o1", "--quiet", NULL});
    char *e = slurp("err.txt", NULL);
    assert_int_equal(rc, 1);
    assert_int_equal(err_lines("err.txt"), 1);
    find_entry("o1.running-", name, sizeof name);
    assert_true(name[0]);
    assert_non_null(strstr(e, name));
    free(e);
    free(after);
    after = slurp("o1/summary.json", NULL);
    assert_string_equal(before, after);
    char path[600];
    snprintf(path, sizeof path, "%s/trace.csv", name);
    assert_true(count_lines(path) >= 2);
    snprintf(path, sizeof path, "%s/summary.json", name);
    assert_int_equal(access(path, F_OK), -1);
    /* The same failure into a new folder: its trace is where the user looks, under the final name. */
    rc = run_cli("err.txt", (const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "method.lr=1e38",
                                                  "--out", "o2", "--quiet", NULL});
    assert_int_equal(rc, 1);
    assert_true(count_lines("o2/trace.csv") >= 2);
    /* A symbolic link as the folder is refused, and its target untouched. */
    assert_int_equal(mkdir("real", 0777), 0);
    write_text("real/trace.csv", "mine\n");
    assert_int_equal(symlink("real", "link"), 0);
    expect_refused((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--out", "link", "--quiet", NULL},
                   "symbolic link");
    e = slurp("real/trace.csv", NULL);
    assert_string_equal(e, "mine\n");
    free(e);
    /* A folder that is no byzgrid run is not replaced. */
    assert_int_equal(mkdir("foreign", 0777), 0);
    write_text("foreign/thesis.tex", "x");
    expect_refused((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--out", "foreign", "--quiet", NULL},
                   "no byzgrid run");
    assert_int_equal(access("foreign/thesis.tex", F_OK), 0);
    /* `byzgrid platform --out` does not write through a link either. */
    system("rm -rf plat victim.txt");
    write_text("victim.txt", "keep\n");
    assert_int_equal(mkdir("plat", 0777), 0);
    assert_int_equal(symlink("../victim.txt", "plat/platform.xml"), 0);
    rc = run_cli("err.txt", (const char *const[]){"platform", BG_SCEN "/quickstart.ini", "--set",
                                                  "platform.topology=star", "--out", "plat", NULL});
    assert_int_equal(rc, 2);
    assert_int_equal(err_lines("err.txt"), 1);
    e = slurp("victim.txt", NULL);
    assert_string_equal(e, "keep\n");
    free(e);
    /* run.name stays inside out/ */
    expect_refused((const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set", "run.name=../../x", "--quiet",
                                         NULL},
                   "run.name");
    assert_int_equal(access("../../x", F_OK), -1);
    free(before);
    free(after);
    free(tbefore);
    free(tafter);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Start byzgrid without waiting (stderr to err_path). */
static pid_t spawn_cli(const char *err_path, const char *const *args)
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
        if (!freopen(err_path, "w", stderr) || !freopen("/dev/null", "w", stdout) ||
            !freopen("/dev/null", "r", stdin))
            _exit(127);
        execv(BG_CLI, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Wait (at most 120 s) until the run's folder out.running-* holds a trace with at least `rows` rows. */
static void wait_rows(const char *out, int rows)
{
    char prefix[300], name[300], path[700];
    snprintf(prefix, sizeof prefix, "%s.running-", out);
    for (int k = 0; k < 12000; k++) {
        find_entry(prefix, name, sizeof name);
        if (name[0]) {
            snprintf(path, sizeof path, "%s/trace.csv", name);
            if (count_lines(path) >= rows + 1)
                return;
        }
        sleep_ms(10);
    }
    fail_msg("no trace with %d rows in %s.running-* after 120 s", rows, out);
}

/* waitpid with a 120 s limit: the exit code, or fail. */
static int wait_exit(pid_t pid)
{
    int st;
    for (int k = 0; k < 12000; k++) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            if (!WIFEXITED(st))
                fail_msg("byzgrid died with signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
            return WEXITSTATUS(st);
        }
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    fail_msg("byzgrid did not end within 120 s of the signal");
    return -1;
}

/* A run stopped by sig: exit 128 + sig, one line, the folder in place with a trace whose last row is the summary's
 * round and a summary marked interrupted. */
static void check_interrupted(const char *out, int sig, const char *signame, int driver)
{
    char err[300];
    snprintf(err, sizeof err, "%s.err", out);
    const char *args[16] = {"run", BG_SCEN "/quickstart.ini", "--set", "run.rounds=1000000", "--set",
                            "run.eval_every=1000", "--out", out, "--quiet"};
    int k = 9;
    if (driver)
        args[k++] = "--driver";
    args[k] = NULL;
    pid_t pid = spawn_cli(err, args);
    wait_rows(out, 2);   /* rounds 0 and 1000 are written: the run is well under way */
    kill(pid, sig);
    int rc = wait_exit(pid);
    char *e = slurp(err, NULL);
    if (rc != 128 + sig || err_lines(err) != 1 || !strstr(e, "interrupted by") || !strstr(e, signame))
        fail_msg("%s: expected exit %d and one line naming %s; got exit %d: %s", out, 128 + sig, signame, rc, e);
    free(e);
    char path[400];
    snprintf(path, sizeof path, "%s/summary.json", out);
    char *j = slurp(path, NULL);
    assert_non_null(j);
    assert_non_null(strstr(j, "\"interrupted\": true"));
    assert_non_null(strstr(j, signame));
    const double rounds = json_num_after(j, "\"final\"", "round");
    free(j);
    snprintf(path, sizeof path, "%s/trace.csv", out);
    char *t = slurp(path, NULL);
    assert_non_null(t);
    size_t len = strlen(t);
    assert_true(len > 2 && t[len - 1] == '\n');
    t[len - 1] = '\0';
    const char *last = strrchr(t, '\n') + 1;
    assert_true(atof(last) == rounds);   /* the row of the moment it stopped */
    assert_true(rounds > 0 && rounds < 1000000);
    free(t);
    char name[300];
    snprintf(path, sizeof path, "%s.running-", out);
    find_entry(path, name, sizeof name);
    assert_string_equal(name, "");
}

static void test_signals(void **state)
{
    (void)state;
    system("rm -rf sig_* sig_*.running-*");
    check_interrupted("sig_int", SIGINT, "SIGINT", 0);
    check_interrupted("sig_term", SIGTERM, "SIGTERM", 0);
    check_interrupted("sig_hup", SIGHUP, "SIGHUP", 0);
    check_interrupted("sig_drv", SIGINT, "SIGINT", 1);
    /* Killed outright: the trace flushed so far is in the run's folder beside the output folder, parseable, and
     * there is no summary. */
    pid_t pid = spawn_cli("sig_kill.err", (const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set",
                                                                "run.rounds=1000000", "--set", "run.eval_every=1000",
                                                                "--out", "sig_kill", "--quiet", NULL});
    wait_rows("sig_kill", 2);
    kill(pid, SIGKILL);
    int st;
    assert_true(waitpid(pid, &st, 0) == pid);
    char name[300], path[600];
    find_entry("sig_kill.running-", name, sizeof name);
    assert_true(name[0]);
    snprintf(path, sizeof path, "%s/trace.csv", name);
    assert_true(count_lines(path) >= 3);
    char *t = slurp(path, NULL);
    assert_true(t[strlen(t) - 1] == '\n');   /* whole rows only */
    free(t);
    snprintf(path, sizeof path, "%s/summary.json", name);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(access("sig_kill", F_OK), -1);
    /* Two signals: the second ends the process at once, with one more line. */
    pid = spawn_cli("sig_two.err", (const char *const[]){"run", BG_SCEN "/quickstart.ini", "--set",
                                                         "run.rounds=1000000", "--set", "run.eval_every=1000", "--out",
                                                         "sig_two", "--quiet", NULL});
    wait_rows("sig_two", 1);
    kill(pid, SIGTERM);
    kill(pid, SIGTERM);
    int rc = wait_exit(pid);
    assert_true(rc == 143);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sim_cli equivalence|equivalence_oracle|equivalence_methods|determinism|quickstart|errors|"
                        "components|components_hostile|datasets|data_errors|memory|fmnist|run_failure|log_rounds|platform_gen|platform_errors|platform_validate|"
                        "placement|wire_time|time_axis|target|bandwidth|relays|faults_platform|round_protocols|faults|threads|"
                        "blas|outputs|signals|numbers\n");
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
    else if (!strcmp(which, "components_hostile"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_components_hostile);
    else if (!strcmp(which, "datasets"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_datasets);
    else if (!strcmp(which, "data_errors"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_data_errors);
    else if (!strcmp(which, "memory"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_memory);
    else if (!strcmp(which, "fmnist"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_fmnist);
    else if (!strcmp(which, "run_failure"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_run_failure);
    else if (!strcmp(which, "platform_gen"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_platform_gen);
    else if (!strcmp(which, "platform_validate"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_platform_validate);
    else if (!strcmp(which, "platform_errors"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_platform_errors);
    else if (!strcmp(which, "log_rounds"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_log_rounds);
    else if (!strcmp(which, "placement"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_placement);
    else if (!strcmp(which, "wire_time"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_wire_time);
    else if (!strcmp(which, "time_axis"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_time_axis);
    else if (!strcmp(which, "target"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_target);
    else if (!strcmp(which, "bandwidth"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_bandwidth);
    else if (!strcmp(which, "relays"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_relays);
    else if (!strcmp(which, "round_protocols"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_round_protocols);
    else if (!strcmp(which, "threads"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_threads);
    else if (!strcmp(which, "faults"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_faults);
    else if (!strcmp(which, "faults_platform"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_faults_platform);
    else if (!strcmp(which, "blas"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_blas);
    else if (!strcmp(which, "outputs"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_outputs);
    else if (!strcmp(which, "signals"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_signals);
    else if (!strcmp(which, "numbers"))
        t[0] = (struct CMUnitTest)cmocka_unit_test(test_numbers);
    else
        return 2;
    return _cmocka_run_group_tests(which, t, 1, NULL, NULL);
}
