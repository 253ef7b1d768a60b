/* fuzz-sources: actors/platform_check.c actors/platform_values.c actors/sgxml.c */
/* libFuzzer harness for the platform validator (actors/platform_check.c): any bytes give BG_OK or one error with a
 * one-line message, never a crash, a leak or a hang. No profile-file lookups (dir = NULL), nothing written. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "platform_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bg_err_t err;
    bg_err_clear(&err);
    int rc = bg_platform_check_buffer((const char *)data, size, "fuzz.xml", NULL, &err);
    if (rc != BG_OK && (!err.msg[0] || strchr(err.msg, '\n')))
        abort();   /* every error is one non-empty line */
    return 0;
}
