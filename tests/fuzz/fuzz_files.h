/* What the harnesses that read files share: a private folder for their input files, in memory when /dev/shm is
 * writable (truncating a file on disk costs milliseconds per input), removed at exit; and writing an input there. */
#ifndef FUZZ_FILES_H
#define FUZZ_FILES_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define FUZZ_MAX_FILES 4

static char fuzz_dir[200], fuzz_paths[FUZZ_MAX_FILES][240];
static int fuzz_n;

static void fuzz_cleanup(void)
{
    for (int k = 0; k < fuzz_n; k++)
        unlink(fuzz_paths[k]);
    rmdir(fuzz_dir);
}

/* The paths of the files a harness uses (names[i] inside its folder), made once: out[i] points at them. */
static void fuzz_files(const char *tag, const char *const *names, int n, const char **out)
{
    if (!fuzz_dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fuzz_dir, sizeof fuzz_dir, "%.150s/bg_fuzz_%.20s_XXXXXX",
                 t && *t ? t : access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm", tag);
        if (!mkdtemp(fuzz_dir) || n > FUZZ_MAX_FILES)
            abort();
        for (int k = 0; k < n; k++)
            snprintf(fuzz_paths[k], sizeof fuzz_paths[k], "%s/%.30s", fuzz_dir, names[k]);
        fuzz_n = n;
        atexit(fuzz_cleanup);
    }
    for (int k = 0; k < n; k++)
        out[k] = fuzz_paths[k];
}

static void fuzz_put(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
}

#ifdef BG_DATA_H
/* What any dataset a reader returned must be: at least one class (n_classes when that was asked for), labels that
 * are class ids, finite values. */
static void fuzz_check_dataset(const bg_dataset_t *ds, size_t n_classes)
{
    if (ds->n_classes < 1 || (n_classes && ds->n_classes != n_classes))
        abort();
    for (size_t i = 0; i < ds->n; i++)
        if (ds->y[i] < 0 || (size_t)ds->y[i] >= ds->n_classes)
            abort();
    for (size_t i = 0; i < ds->n * ds->d; i++)
        if (!isfinite(ds->X[i]))
            abort();
}
#endif

#endif
