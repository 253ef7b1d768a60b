/* Output folders that never mix runs: a run writes into a fresh folder beside its final one (FINAL.running-XXXXXX,
 * made by mkdtemp, so nothing in it was there before) and renames it into place at the end. A folder that already
 * exists is replaced as a whole, only if it is a byzgrid run (it holds trace.csv or summary.json, or nothing), and
 * only once the new run has its summary: until then the earlier run stays as it was. Anything else is refused, and
 * so is a symbolic link as the folder: byzgrid writes through no link it did not create. */
#define _XOPEN_SOURCE 700   /* nftw, mkdtemp */
#include "run_internal.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a byzgrid run writes at the top of its folder: a folder holding any of these is one. */
static const char *const run_files[] = {"summary.json", "trace.csv", NULL};

/* 1: dir holds a byzgrid run's files, or nothing; 0: something else; -1: cannot be read (errno). */
static int looks_like_run(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int entries = 0, ours = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        entries++;
        for (size_t k = 0; run_files[k]; k++)
            ours |= !strcmp(e->d_name, run_files[k]);
    }
    closedir(d);
    return entries == 0 || ours;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* rm -r without following links (a link inside is removed, not its target). */
static int remove_tree(const char *path)
{
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Folders FINAL.running-* left by runs that never ended (killed outright): one note each, so their traces are found. */
static void note_unfinished(const char *final)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", final);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : dir;
    char prefix[1100];
    snprintf(prefix, sizeof prefix, "%s.running-", base);
    if (slash)
        *slash = '\0';
    DIR *d = opendir(slash ? (dir[0] ? dir : "/") : ".");
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));)
        if (!strncmp(e->d_name, prefix, strlen(prefix)))
            fprintf(stderr, "byzgrid: note: %s%s%s holds the files of a run into %s that did not end (killed?)\n",
                    slash ? (dir[0] ? dir : "") : "", slash ? "/" : "", e->d_name, final);
    closedir(d);
}

int bg_out_begin(bg_out_t *o, const char *final, bg_err_t *err)
{
    memset(o, 0, sizeof *o);
    size_t len = strlen(final);
    while (len > 1 && final[len - 1] == '/')
        len--;
    if (len == 0 || len >= sizeof o->final - 32)
        return bg_err_set(err, BG_EINVAL, final, 0, "the output folder name is empty or too long");
    memcpy(o->final, final, len);
    o->final[len] = '\0';
    const char *base = strrchr(o->final, '/');
    base = base ? base + 1 : o->final;
    if (!strcmp(base, ".") || !strcmp(base, ".."))
        return bg_err_set(err, BG_EINVAL, o->final, 0, "the output folder must be named (not '.' or '..'): byzgrid "
                          "replaces it as a whole at the end of the run");
    struct stat st;
    if (lstat(o->final, &st) == 0) {
        if (S_ISLNK(st.st_mode))
            return bg_err_set(err, BG_EINVAL, o->final, 0, "the output folder is a symbolic link: byzgrid writes "
                              "through no link it did not create (give the real folder with --out)");
        if (!S_ISDIR(st.st_mode))
            return bg_err_set(err, BG_EINVAL, o->final, 0, "exists and is not a folder: choose another --out");
        int run = looks_like_run(o->final);
        if (run < 0)
            return bg_err_set(err, BG_EIO, o->final, 0, "cannot read the output folder: %s", strerror(errno));
        if (!run)
            return bg_err_set(err, BG_EINVAL, o->final, 0, "the output folder holds files but no trace.csv or "
                              "summary.json, so it is no byzgrid run: byzgrid replaces only its own runs (choose "
                              "another --out)");
        o->existed = 1;
    } else if (errno != ENOENT) {
        return bg_err_set(err, BG_EIO, o->final, 0, "cannot use the output folder: %s", strerror(errno));
    }
    /* The parent folders, then the run's own fresh folder beside the final one. */
    char parent[sizeof o->final];
    snprintf(parent, sizeof parent, "%s", o->final);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        if (bg_make_dirs(parent) != 0)
            return bg_err_set(err, BG_EIO, parent, 0, "cannot create the folder: %s", strerror(errno));
    }
    snprintf(o->tmp, sizeof o->tmp, "%s.running-XXXXXX", o->final);
    if (!mkdtemp(o->tmp))
        return bg_err_set(err, BG_EIO, o->final, 0, "cannot create the run's folder beside it: %s", strerror(errno));
    const mode_t mask = umask(0);   /* mkdtemp makes it 0700; a run's folder is like any other */
    umask(mask);
    chmod(o->tmp, 0777 & ~mask);
    o->active = 1;
    return BG_OK;
}

int bg_out_commit(bg_out_t *o, bg_err_t *err)
{
    if (!o->active)
        return BG_OK;
    o->active = 0;
    char old[sizeof o->tmp] = "";
    if (o->existed) {
        /* Replace the earlier run: move it aside (rename onto a fresh empty folder), put this one in place, then
         * remove the earlier one. Between the two renames the final name is briefly absent, never mixed. */
        snprintf(old, sizeof old, "%s.old-XXXXXX", o->final);
        int made = mkdtemp(old) != NULL;
        if (!made || rename(o->final, old) != 0) {
            int e = errno;
            if (made)
                rmdir(old);
            return bg_err_set(err, BG_EIO, o->final, 0, "cannot move the earlier run aside (%s); this run's outputs "
                              "are in %s", strerror(e), o->tmp);
        }
    }
    if (rename(o->tmp, o->final) != 0) {
        int e = errno;
        if (old[0])
            rename(old, o->final);   /* put the earlier run back */
        return bg_err_set(err, BG_EIO, o->final, 0, "cannot rename this run's folder into place (%s); its outputs "
                          "are in %s", strerror(e), o->tmp);
    }
    if (old[0])
        remove_tree(old);
    if (!bg_interrupted())
        note_unfinished(o->final);   /* after a run that ended well: an error or an interruption stays one line */
    return BG_OK;
}

const char *bg_out_abandon(bg_out_t *o, int keep)
{
    if (!o->active)
        return NULL;
    o->active = 0;
    if (!keep) {
        remove_tree(o->tmp);
        return NULL;
    }
    /* A run that started and failed: its trace is where the user looks for it when no earlier run is there. */
    if (!o->existed && rename(o->tmp, o->final) == 0)
        return o->final;
    return o->tmp;
}
