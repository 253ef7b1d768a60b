/* fuzz-sources: actors/components_cli.c */
/* libFuzzer harness for the component CLI's stdin reader (`byzgrid aggregate | compress | attack`): any bytes give
 * either rows (n >= 1 rows of d >= 1 values) or one error line with exit status 1 or 2, never a crash, a leak or
 * undefined behaviour. Rows that parse then go through every compressor, which must map finite rows to finite
 * output (issue 12: saturate, never Inf/NaN). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bg_components_cli.h"
#include "bg_compress.h"

static void check_compressors(const bg_cli_rows_t *r)
{
    static const char *names[] = {"identity", "topk", "randk", "randk-unscaled", "sign", "qsgd", "fp16"};
    if (r->d > 4096)
        return;
    gsl_rng *own = bg_rng_stream(1, BG_RNG_COMPRESS, 0), *shared = bg_rng_stream(1, BG_RNG_SHARED, 0);
    float *dec = malloc(r->d * sizeof *dec);
    for (size_t ni = 0; ni < sizeof names / sizeof names[0]; ni++) {
        bg_comp_cfg_t cfg;
        bg_comp_cfg_default(&cfg);
        snprintf(cfg.name, sizeof cfg.name, "%s", names[ni]);
        cfg.k = 1 + r->n % r->d;
        cfg.levels = 1 + r->n % 17;
        cfg.shared_mask = (int)(r->n & 1);
        bg_compressor_t c;
        bg_err_t err;
        if (bg_compressor_init(&cfg, r->d, NULL, 0, &c, &err) != BG_OK)
            abort();
        bg_msg_t m;
        if (bg_msg_init(&m, r->d) != BG_OK)
            abort();
        for (size_t i = 0; i < r->n && i < 8; i++) {
            const float *x = r->v + i * r->d;
            bg_comp_rngs_t rr = {own, shared};
            if (c.ops->compress(&c, x, &rr, &m) != BG_OK)
                abort();
            bg_msg_decode(&m, dec);
            if (bg_vec_all_finite(x, r->d) && !bg_vec_all_finite(dec, r->d)) {
                fprintf(stderr, "compressor %s: finite row %zu decoded to a non-finite value\n", names[ni], i);
                abort();
            }
        }
        bg_msg_destroy(&m);
        bg_compressor_destroy(&c);
    }
    free(dec);
    gsl_rng_free(own);
    gsl_rng_free(shared);
}

/* The same bytes through a FILE (the chunked path stdin takes) give the same rows or the same error. */
static void check_file_path(const uint8_t *data, size_t size, int rc, const bg_cli_rows_t *r, const char *err)
{
    if (size == 0)
        return;   /* fmemopen refuses an empty buffer */
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f)
        return;
    bg_cli_rows_t r2;
    char err2[512];
    err2[0] = '\0';
    int rc2 = bg_cli_read_rows(f, NULL, 0, "stdin", &r2, err2, sizeof err2);
    fclose(f);
    if (rc2 != rc || (rc && strcmp(err, err2)))
        abort();
    if (rc == 0) {
        if (r2.n != r->n || r2.d != r->d || memcmp(r2.v, r->v, r->n * r->d * sizeof(float)))
            abort();
        free(r2.v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bg_cli_rows_t r;
    char err[512];
    err[0] = '\0';
    int rc = bg_cli_read_rows(NULL, data, size, "stdin", &r, err, sizeof err);
    if (rc == 0) {
        if (r.n < 1 || r.d < 1 || !r.v || r.n * r.d > r.cap)
            abort();
        check_file_path(data, size, rc, &r, err);
        check_compressors(&r);
        free(r.v);
        return 0;
    }
    /* An error: exit status 1 or 2, one non-empty line, and nothing left allocated. */
    if ((rc != 1 && rc != 2) || !err[0] || strchr(err, '\n') || r.v)
        abort();
    check_file_path(data, size, rc, &r, err);
    return 0;
}
