/* Rounds per second of one scenario through the simulator and through the in-process driver on the same work,
 * and their ratio: what the SimGrid layer costs. Each measurement is its own child process (one SimGrid engine
 * per process); repetitions alternate the runners and report medians, because the machines are shared and noisy.
 *
 *   bench_rounds [SCENARIO [REPS]] [--set KEY=VALUE]... [--driver-only] [--per-round R1] [--blas-threads N]
 *                [--torch a9a|cnn]
 *
 * SCENARIO defaults to scenarios/paper-a9a.ini, REPS to 5. --per-round R1 also runs every runner with
 * run.rounds = R1 and prints (wall(R) - wall(R1)) / (R - R1): the cost of a round without the set-up, the
 * evaluations at round 0 and at the end, and the warm-up. --torch TASK runs tests/bench/torch_rounds.py TASK once
 * per repetition, between ours (same rounds; 1 thread and all cores), and prints PyTorch's medians and the ratios.
 * --blas-threads N: the runs' core budget, run.threads = N (the workers' threads and OpenBLAS's; default 1). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L   /* popen, setenv under -std=c11 */
#endif
#include <math.h>
#include <simgrid/engine.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bg_sim.h"
#include "blas_select.h"

void openblas_set_num_threads(int n);
char *openblas_get_corename(void);

#define MAX_REPS 50
#define MAX_SETS 32
#define MAX_TH 8

static int one_run(const char *mode, const char *scenario, int argc, char **argv)
{
    simgrid_init(&argc, argv);
    /* run.threads is the run's core budget (the workers' threads and OpenBLAS's): the bench's thread count, unless a
     * --set gives another (later sets win). */
    char threads[48];
    const char *bt = getenv("BG_BENCH_BLAS_THREADS");
    snprintf(threads, sizeof threads, "run.threads=%d", bt && atoi(bt) > 0 ? atoi(bt) : 1);
    const char *sets[MAX_SETS + 2] = {"run.progress=off", threads};
    int ns = 2;
    for (int i = 3; i + 1 < argc && ns <= MAX_SETS + 1; i += 2)
        if (!strcmp(argv[i], "--set"))
            sets[ns++] = argv[i + 1];
    bg_scenario_t sc;
    bg_err_t err;
    char buf[2048];
    if (bg_scenario_load(scenario, sets, ns, &sc, &err)) {
        fprintf(stderr, "%s\n", bg_err_format(&err, buf, sizeof buf));
        return 2;
    }
    bg_run_opts_t o = {.out_dir = NULL, .progress = 0};
    bg_run_result_t res;
    int rc = !strcmp(mode, "sim") ? bg_sim_run(&sc, &o, &res, &err) : bg_driver_run_scenario(&sc, &o, &res, &err);
    if (rc) {
        fprintf(stderr, "%s\n", bg_err_format(&err, buf, sizeof buf));
        return 1;
    }
    printf("%zu %.9f %.6f %.9f\n", res.rounds, res.wall_time, res.final.test_acc, res.sim_time);
    bg_scenario_destroy(&sc);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

typedef struct {
    const char *self, *scenario;
    const char *sets[MAX_SETS];
    int nsets;
} bench_t;

/* Spawn ourselves in `mode` with the bench's --set options plus `extra` (may be NULL), read "rounds wall acc sim". */
static int child(const bench_t *b, const char *mode, const char *extra, double *wall, size_t *rounds, double *acc,
                 double *simt)
{
    int fd[2];
    if (pipe(fd))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        const char *av[2 * MAX_SETS + 8];
        int k = 0;
        av[k++] = b->self;
        av[k++] = mode;
        av[k++] = b->scenario;
        for (int i = 0; i < b->nsets; i++) {
            av[k++] = "--set";
            av[k++] = b->sets[i];
        }
        if (extra) {
            av[k++] = "--set";
            av[k++] = extra;
        }
        av[k++] = "--log=root.thres:critical";
        av[k] = NULL;
        dup2(fd[1], 1);
        close(fd[0]);
        execv(b->self, (char *const *)av);
        _exit(127);
    }
    close(fd[1]);
    FILE *f = fdopen(fd[0], "r");
    int ok = fscanf(f, "%zu %lf %lf %lf", rounds, wall, acc, simt) == 4;
    fclose(f);
    int st;
    waitpid(pid, &st, 0);
    return ok && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* One run of tests/bench/torch_rounds.py: per thread count, seconds (a9a: whole run; cnn: ms per round). */
static int run_torch(const char *task, size_t rounds, int *th, double *val, int max)
{
    char cmd[2048], line[512];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/bench/torch_rounds.py %s --rounds %zu --reps 1 2>&1",
             BG_SOURCE_DIR, task, rounds);
    FILE *f = popen(cmd, "r");
    if (!f)
        return 0;
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        int t;
        double v;
        if (n < max && sscanf(line, "pytorch (loop) %d %lf", &t, &v) == 2) {
            th[n] = t;
            val[n++] = v;
        } else if (strstr(line, "not installed") || strstr(line, "Error") || strstr(line, "not found"))
            fprintf(stderr, "# PyTorch: %s", line);
    }
    pclose(f);
    return n;
}

int main(int argc, char **argv)
{
    bg_blas_select(argv, 1);
    int blas_threads = 1;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--blas-threads"))
            blas_threads = atoi(argv[i + 1]);
    const char *bt = getenv("BG_BENCH_BLAS_THREADS");   /* how the parent passes it to the children */
    if (bt)
        blas_threads = atoi(bt);
    openblas_set_num_threads(blas_threads < 1 ? 1 : blas_threads);
    if (argc >= 3 && (!strcmp(argv[1], "sim") || !strcmp(argv[1], "driver")))
        return one_run(argv[1], argv[2], argc, argv);

    bench_t b = {.self = argv[0], .scenario = BG_SCEN "/paper-a9a.ini"};
    int reps = 5, driver_only = 0, pos = 0;
    size_t r1 = 0;
    const char *torch = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--set") && i + 1 < argc && b.nsets < MAX_SETS)
            b.sets[b.nsets++] = argv[++i];
        else if (!strcmp(argv[i], "--driver-only"))
            driver_only = 1;
        else if (!strcmp(argv[i], "--per-round") && i + 1 < argc)
            r1 = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--blas-threads") && i + 1 < argc)
            i++;
        else if (!strcmp(argv[i], "--torch") && i + 1 < argc)
            torch = argv[++i];
        else if (argv[i][0] != '-' && pos == 0 && ++pos)
            b.scenario = argv[i];
        else if (argv[i][0] != '-' && pos == 1 && ++pos)
            reps = atoi(argv[i]);
        else {
            fprintf(stderr, "usage: %s [SCENARIO [REPS]] [--set KEY=VALUE]... [--driver-only] [--per-round R1] "
                            "[--blas-threads N] [--torch a9a|cnn]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS || (torch && strcmp(torch, "a9a") && strcmp(torch, "cnn"))) {
        fprintf(stderr, "bench_rounds: REPS must be in 1..%d and --torch a9a or cnn\n", MAX_REPS);
        return 2;
    }
    char btv[16];
    snprintf(btv, sizeof btv, "%d", blas_threads < 1 ? 1 : blas_threads);
    setenv("BG_BENCH_BLAS_THREADS", btv, 1);
    char r1set[64];
    snprintf(r1set, sizeof r1set, "run.rounds=%zu", r1);

    static double ws[MAX_REPS], wd[MAX_REPS], ws1[MAX_REPS], wd1[MAX_REPS], tv[MAX_TH][MAX_REPS];
    double acc_s = NAN, acc_d = NAN, simt = NAN, tmp, tacc;
    size_t rounds = 0, rr;
    int tth[MAX_TH], nth = 0;
    for (int r = 0; r < reps; r++) {
        /* alternate so that machine noise hits every runner alike */
        if (child(&b, "driver", NULL, &wd[r], &rounds, &acc_d, &tmp) ||
            (!driver_only && child(&b, "sim", NULL, &ws[r], &rounds, &acc_s, &simt)) ||
            (r1 && child(&b, "driver", r1set, &wd1[r], &rr, &tacc, &tmp)) ||
            (r1 && !driver_only && child(&b, "sim", r1set, &ws1[r], &rr, &tacc, &tmp))) {
            fprintf(stderr, "bench_rounds: a run failed\n");
            return 1;
        }
        if (r1 && rr >= rounds) {
            fprintf(stderr, "bench_rounds: --per-round %zu must be below the run's %zu rounds\n", r1, rounds);
            return 2;
        }
        if (torch) {
            int th[MAX_TH];
            double v[MAX_TH];
            int nt = run_torch(torch, rounds, th, v, MAX_TH);
            if (nt == 0) {
                fprintf(stderr, "bench_rounds: torch_rounds.py gave no figures; PyTorch left out\n");
                torch = NULL;
            } else if (r > 0 && nt != nth) {
                fprintf(stderr, "bench_rounds: torch_rounds.py changed its thread counts\n");
                return 1;
            }
            for (int k = 0; k < nt && torch; k++) {
                tth[k] = th[k];
                tv[k][r] = v[k];
            }
            nth = torch ? nt : 0;
        }
    }
    double md = median(wd, reps), ms = driver_only ? NAN : median(ws, reps);
    char blas[512];
    printf("scenario: %s (%zu rounds, %d repetitions, medians; %s, %d thread(s))\n", b.scenario, rounds, reps,
           bg_blas_describe(blas, sizeof blas), blas_threads);
    for (int i = 0; i < b.nsets; i++)
        printf("  --set %s\n", b.sets[i]);
    printf("%-22s %12s %14s %12s\n", "runner", "wall [s]", "rounds/s", "test_acc");
    printf("%-22s %12.4f %14.1f %12.4f\n", "in-process driver", md, (double)rounds / md, acc_d);
    if (!driver_only) {
        printf("%-22s %12.4f %14.1f %12.4f\n", "simulator (SimGrid)", ms, (double)rounds / ms, acc_s);
        printf("ratio simulator/driver: %.2f (SimGrid layer: %.2fx the driver's time); simulated time %.3f s\n",
               ms / md, (ms - md) / md, simt);
    }
    double pd = NAN, ps = NAN;
    if (r1) {
        double dd[MAX_REPS], ds[MAX_REPS];
        for (int r = 0; r < reps; r++) {
            dd[r] = (wd[r] - wd1[r]) / (double)(rounds - r1);
            ds[r] = driver_only ? NAN : (ws[r] - ws1[r]) / (double)(rounds - r1);
        }
        pd = median(dd, reps);
        printf("per round (wall(%zu) - wall(%zu)) / %zu: driver %.3f ms", rounds, r1, rounds - r1, 1e3 * pd);
        if (!driver_only) {
            ps = median(ds, reps);
            printf(", simulator %.3f ms", 1e3 * ps);
        }
        printf("\n");
    }
    for (int k = 0; k < nth; k++) {
        double t = median(tv[k], reps);
        if (!strcmp(torch, "a9a")) {   /* whole run, evaluations included, like ours */
            printf("%-22s %12.4f %14.1f   (torch threads %d)   driver is %.1fx faster", "pytorch (loop)", t,
                   (double)rounds / t, tth[k], t / md);
            if (!driver_only)
                printf(", simulator %.1fx", t / ms);
            printf("\n");
        } else {   /* ms per round, the round loop only: compare with our per-round cost */
            double ours = r1 ? pd : md / (double)rounds;
            printf("pytorch (loop) %.3f ms per round (torch threads %d); driver %.3f ms%s: driver is %.2fx faster\n",
                   t, tth[k], 1e3 * ours, r1 ? " (per-round difference)" : " (wall / rounds)", t / (1e3 * ours));
        }
    }
    return 0;
}
