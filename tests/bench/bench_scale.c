/* Seconds per round of the simulator at large n (1,000, 10,000, 100,000 workers by default), with the in-process
 * driver's seconds per round on the same scenario alongside and their ratio, and the peak RSS of each run. The
 * scenario: synthetic logistic regression (data.dataset = synthetic, 100 samples per worker; test-set evaluation
 * only, at the first and last round) on a generated star.
 * Each configuration is one run of the byzgrid binary (one SimGrid engine per process); the figures come from its
 * summary.json (time.wall_time_s: the rounds, without the setup; time.peak_rss_kib). A few rounds only at large n.
 *
 *   bench_scale [n ...]      e.g. bench_scale 1000 10000
 *
 * For every n the simulator runs with run.relays = auto and, up to 20,000 workers, with run.relays = 0 (no relays:
 * the server holds every comm itself, O(n^2) per round) and on the round protocols' proxy path (relays column
 * "proxy": round.deadline_s = 1e9, which no round reaches: one proxy actor per worker, the same rounds).
 * Prints one line per run; a program, not a test. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blas_select.h"

/* Rounds for n workers: enough to time, few at large n. */
static size_t rounds_for(size_t n)
{
    return n <= 1000 ? 20 : n <= 10000 ? 5 : 2;
}

static double json_num(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(text, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1.0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    size_t got = b ? fread(b, 1, (size_t)len, f) : 0;
    if (b)
        b[got] = '\0';
    fclose(f);
    return b;
}

/* One run; wall seconds of its rounds and peak RSS (KiB) from its summary.json. relays NULL: the driver. */
static int run(const char *dir, size_t n, const char *relays, double *wall, double *rss_kib)
{
    char ini[512], out[512], sets[4][64];
    snprintf(ini, sizeof ini, "%s/scale.ini", dir);
    snprintf(out, sizeof out, "%s/n%zu-%s", dir, n, relays ? relays : "driver");
    snprintf(sets[0], sizeof sets[0], "workers.n=%zu", n);
    snprintf(sets[1], sizeof sets[1], "run.rounds=%zu", rounds_for(n));
    snprintf(sets[2], sizeof sets[2], "run.eval_every=%zu", rounds_for(n));
    if (relays && !strcmp(relays, "proxy"))   /* the round-protocol path, with a deadline nobody reaches */
        snprintf(sets[3], sizeof sets[3], "round.deadline_s=1e9");
    else
        snprintf(sets[3], sizeof sets[3], "run.relays=%s", relays ? relays : "auto");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        const char *argv[] = {BG_CLI, "run", ini, "--set", sets[0], "--set", sets[1], "--set", sets[2],
                              "--quiet", relays ? "--set" : "--driver", relays ? sets[3] : NULL, NULL, NULL, NULL};
        int k = relays ? 12 : 11;
        argv[k++] = "--out";
        argv[k++] = out;
        argv[k] = NULL;
        execv(BG_CLI, (char *const *)argv);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench_scale: byzgrid failed for n = %zu (%s)\n", n, relays ? relays : "driver");
        return -1;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/summary.json", out);
    char *s = slurp(path);
    if (!s)
        return -1;
    *wall = json_num(s, "wall_time_s");
    *rss_kib = json_num(s, "peak_rss_kib");
    free(s);
    return 0;
}

int main(int argc, char **argv)
{
    bg_blas_select(argv, 1);
    size_t ns[16] = {1000, 10000, 100000}, nn = 3;
    if (argc > 1) {
        nn = 0;
        for (int a = 1; a < argc && nn < 16; a++) {
            char *end;
            ns[nn] = strtoul(argv[a], &end, 10);
            if (*end || ns[nn] == 0) {
                fprintf(stderr, "usage: bench_scale [n ...]   workers per run, e.g. bench_scale 1000 10000 "
                                "(default 1000 10000 100000)\n");
                return 2;
            }
            nn++;
        }
    }
    char dir[] = "/tmp/bench_scale_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char ini[600];
    snprintf(ini, sizeof ini, "%s/scale.ini", dir);
    FILE *f = fopen(ini, "w");
    if (!f) {
        perror(ini);
        return 1;
    }
    fputs("[run]\nseed = 1\nprogress = off\neval_train = false\ndist_to_opt = false\n[data]\ndataset = synthetic\nsynth_per_worker = 100\n"
          "[model]\nname = logreg\n[platform]\ntopology = star\n",
          f);
    fclose(f);
    char blas[512];
    printf("# %s (each run of byzgrid picks its kernels the same way; summary.json's blas says)\n",
           bg_blas_describe(blas, sizeof blas));
    printf("%8s %7s %6s %12s %12s %8s %10s %10s\n", "n", "relays", "rounds", "sim_s/round", "drv_s/round",
           "sim/drv", "sim_MiB", "drv_MiB");
    for (size_t k = 0; k < nn; k++) {
        const size_t n = ns[k], r = rounds_for(n);
        double dwall, drss;
        if (run(dir, n, NULL, &dwall, &drss))
            return 1;
        const char *modes[] = {"auto", "0", "proxy"};
        for (int m = 0; m < (n <= 20000 ? 3 : 1); m++) {
            double wall, rss;
            if (run(dir, n, modes[m], &wall, &rss))
                return 1;
            printf("%8zu %7s %6zu %12.4f %12.4f %8.1f %10.0f %10.0f\n", n, modes[m], r, wall / (double)r,
                   dwall / (double)r, dwall > 0 ? wall / dwall : 0.0, rss / 1024.0, drss / 1024.0);
            fflush(stdout);
        }
    }
    return 0;
}
