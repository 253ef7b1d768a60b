/* libFuzzer harness for the IDX reader (bg_dataset_load_idx_classes: plain, gzip inflated in one pass by
 * libdeflate, or streamed by zlib). Input: one byte for the declared classes (0: from the labels), two bytes for
 * the length L of the label file, L bytes of labels, the rest the image file; both are written to temporary files.
 * Any bytes give a dataset or one error line; never a crash, a hang, a leak or undefined behaviour. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bg_data.h"
#include "fuzz_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p[2];
    fuzz_files("idx", (const char *const[]){"images", "labels"}, 2, p);
    const char *images = p[0], *labels = p[1];
    if (size < 3)
        return 0;
    const size_t n_classes = data[0] % 12;
    size_t L = (size_t)data[1] << 8 | data[2];
    data += 3;
    size -= 3;
    if (L > size)
        L = size;
    fuzz_put(labels, data, L);
    fuzz_put(images, data + L, size - L);

    bg_dataset_t ds;
    bg_err_t err;
    bg_err_clear(&err);
    int rc = bg_dataset_load_idx_classes(images, labels, n_classes, &ds, &err);
    if (rc) {
        if (rc > 0 || strchr(err.msg, '\n') || !err.msg[0])
            abort();
        return 0;
    }
    fuzz_check_dataset(&ds, n_classes);
    bg_dataset_destroy(&ds);
    return 0;
}
