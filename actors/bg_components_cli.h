/* The component subcommands of the CLI (aggregate, compress, attack): CSV rows in, CSV rows out. */
#ifndef BG_COMPONENTS_CLI_H
#define BG_COMPONENTS_CLI_H

#include <stddef.h>
#include <stdio.h>

/* argv[1] is the subcommand. Returns the exit status, or -1 if argv[1] is not one of them. */
int bg_cli_components(int argc, char **argv);

/* Limits of the component commands (docs/reference.md, "Cross-checking with other implementations"). */
#define BG_CLI_MAX_VALUES (1 << 28) /* values read from stdin in all (1 GiB of floats) */
#define BG_CLI_MAX_TOKEN 256        /* characters of one value */
#define BG_CLI_MAX_ROWS 100000      /* rows `byzgrid attack` prints (--f) */
#define BG_CLI_MAX_OUT 100000000    /* values `byzgrid attack` prints (--f times d) */

/* Rows of a CSV of numbers: n rows of d values, v row-major. */
typedef struct bg_cli_rows {
    size_t n, d, cap;
    float *v;
} bg_cli_rows_t;

/* Read CSV rows (one vector per line, comma-separated; blank lines and # comments skipped; nan/inf allowed) from
 * in, or when in is NULL from buf[0..len). All rows must have the first row's length. Returns 0 (r filled; free
 * r->v), or the exit status (2 bad input, 1 out of memory) with one line "name:line:column: reason" in errbuf. */
int bg_cli_read_rows(FILE *in, const void *buf, size_t len, const char *name, bg_cli_rows_t *r, char *errbuf,
                     size_t errlen);

#endif
