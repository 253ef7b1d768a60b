/* fuzz-sources: actors/scenario.c actors/platform.c actors/platform_values.c actors/faults.c actors/deployment.c actors/traffic.c actors/sgxml.c */
/* libFuzzer harness for the scenario reader (bg_scenario_load: libinih through its line reader, every key through
 * the key tables, host lists, placements, [faults] lists). The input is the scenario file, written to a temporary
 * file; when it starts with "--set " its first line is one --set override instead. Any bytes give either a
 * scenario whose keys all pass their table's check, or one error line naming where; never a crash, a hang, a leak
 * or undefined behaviour. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bg_scenario.h"
#include "fuzz_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path;
    fuzz_files("scenario", (const char *const[]){"s.ini"}, 1, &path);
    char set[512] = "";
    const char *sets[1] = {set};
    size_t n_sets = 0;
    if (size > 6 && !memcmp(data, "--set ", 6)) {
        size_t k = 6;
        while (k < size && data[k] != '\n' && k - 6 < sizeof set - 1)
            k++;
        memcpy(set, data + 6, k - 6);
        set[k - 6] = '\0';
        n_sets = 1;
        data += k;
        size -= k;
    }
    fuzz_put(path, data, size);

    bg_scenario_t sc;
    bg_err_t err;
    bg_err_clear(&err);
    int rc = bg_scenario_load(path, sets, n_sets, &sc, &err);
    if (rc) {
        char line[2048];
        bg_err_format(&err, line, sizeof line);
        if (rc > 0 || strchr(line, '\n') || !err.msg[0])
            abort();   /* an error is a negative code and one non-empty line */
    } else {
        /* every key as summary.json would write it, and the learning keys against their table */
        char buf[4400];
        int learning;
        for (size_t i = 0; bg_scenario_key(i, &learning); i++)
            bg_key_format(bg_scenario_key(i, &learning), learning ? (const void *)&sc.learn : (const void *)&sc, buf,
                          sizeof buf);
        if (bg_config_check(&sc.learn, &err))
            abort();
    }
    bg_scenario_destroy(&sc);
    return 0;
}
