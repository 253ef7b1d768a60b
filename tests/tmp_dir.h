/* A mkdtemp folder under /tmp for the files a test program writes (plain or gzip), removed by the group
 * teardown. Header-only, included after cmocka.h by the dataset reader tests. */
#ifndef BG_TEST_TMP_DIR_H
#define BG_TEST_TMP_DIR_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[256];
static int tmp_count;

/* tag names the folder (/tmp/bg_test_<tag>_XXXXXX) so a leftover one tells which program left it. */
static int tmpdir_make(const char *tag)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bg_test_%s_XXXXXX", tag);
    return mkdtemp(tmpdir) ? 0 : -1;
}

/* Every file written goes through tmp_path, so tmpdir_remove knows all the names to remove. */
static void tmp_path(char *buf, size_t len, int k)
{
    snprintf(buf, len, "%s/f%d", tmpdir, k);
}

static int tmpdir_remove(void)
{
    char p[300];
    for (int k = 0; k < tmp_count; k++) {
        tmp_path(p, sizeof p, k);
        unlink(p);
    }
    return rmdir(tmpdir);
}

/* Write n raw bytes to a new temp file, gzip-compressed or not; returns the path, in buf. */
static const char *tmp_write(char *buf, size_t blen, const void *data, size_t n, int gz)
{
    tmp_path(buf, blen, tmp_count++);
    if (gz) {
        gzFile f = gzopen(buf, "wb6");
        assert_non_null(f);
        assert_int_equal(gzwrite(f, data, (unsigned)n), (int)n);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(buf, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
    }
    return buf;
}

#endif
