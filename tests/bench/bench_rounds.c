/* Rounds per second of one scenario through the simulator and through the in-process driver on the same work,
 * and their ratio: what the SimGrid layer costs. Each measurement is its own child process (one SimGrid engine
 * per process); medians over repetitions because the machines are shared and noisy. */
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

static int one_run(const char *mode, const char *scenario, int argc, char **argv)
{
    simgrid_init(&argc, argv);
    const char *sets[] = {"run.progress=off"};
    bg_scenario_t sc;
    bg_err_t err;
    char buf[2048];
    if (bg_scenario_load(scenario, sets, 1, &sc, &err)) {
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

/* Spawn ourselves in `mode`, read "rounds wall acc sim" from its stdout. */
static int child(const char *self, const char *mode, const char *scenario, double *wall, size_t *rounds, double *acc,
                 double *simt)
{
    int fd[2];
    if (pipe(fd))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        execl(self, self, mode, scenario, "--log=root.thres:critical", (char *)NULL);
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

int main(int argc, char **argv)
{
    bg_blas_select(argv, 1);
    openblas_set_num_threads(1);
    if (argc >= 3 && (!strcmp(argv[1], "sim") || !strcmp(argv[1], "driver")))
        return one_run(argv[1], argv[2], argc, argv);
    const char *scenario = argc >= 2 ? argv[1] : BG_SCEN "/paper-a9a.ini";
    int reps = argc >= 3 ? atoi(argv[2]) : 5;
    if (reps < 1 || reps > 50)
        reps = 5;
    double ws[50], wd[50], acc_s = NAN, acc_d = NAN, simt = NAN, tmp;
    size_t rounds = 0;
    for (int r = 0; r < reps; r++) {
        /* alternate so that machine noise hits both alike */
        if (child(argv[0], "driver", scenario, &wd[r], &rounds, &acc_d, &tmp) ||
            child(argv[0], "sim", scenario, &ws[r], &rounds, &acc_s, &simt)) {
            fprintf(stderr, "bench_rounds: a run failed\n");
            return 1;
        }
    }
    qsort(ws, (size_t)reps, sizeof(double), cmp);
    qsort(wd, (size_t)reps, sizeof(double), cmp);
    double ms = ws[reps / 2], md = wd[reps / 2];
    char blas[512];
    printf("scenario: %s (%zu rounds, %d repetitions, medians); %s\n", scenario, rounds, reps,
           bg_blas_describe(blas, sizeof blas));
    printf("%-22s %12s %14s %12s\n", "runner", "wall [s]", "rounds/s", "test_acc");
    printf("%-22s %12.4f %14.0f %12.4f\n", "in-process driver", md, (double)rounds / md, acc_d);
    printf("%-22s %12.4f %14.0f %12.4f\n", "simulator (SimGrid)", ms, (double)rounds / ms, acc_s);
    printf("ratio simulator/driver: %.2f (SimGrid layer: %.2fx the driver's time); simulated time %.3f s\n", ms / md,
           (ms - md) / md, simt);
    return 0;
}
