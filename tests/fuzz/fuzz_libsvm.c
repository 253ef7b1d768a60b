/* libFuzzer harness for the LIBSVM reader (bg_dataset_load_libsvm_classes, plain or gzip through zlib). The first
 * input byte picks the declared classes (0, 2 or 3 .. 9) and whether a feature count is declared, the rest is the
 * file, written to a temporary file. Any bytes give a dataset or one error line; never a crash, a hang, a leak or
 * undefined behaviour. */
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
    const char *path;
    fuzz_files("libsvm", (const char *const[]){"d.svm"}, 1, &path);
    if (size < 1)
        return 0;
    const unsigned sel = data[0];
    const size_t n_classes = (sel & 7) == 0 ? 0 : (sel & 7) == 1 ? 2 : (sel & 7) + 1;
    const size_t n_features = (sel & 8) ? (size_t)(sel >> 4) + 1 : 0;
    fuzz_put(path, data + 1, size - 1);

    bg_dataset_t ds;
    bg_err_t err;
    bg_err_clear(&err);
    int rc = bg_dataset_load_libsvm_classes(path, n_features, n_classes, &ds, &err);
    if (rc) {
        if (rc > 0 || strchr(err.msg, '\n') || !err.msg[0])
            abort();
        return 0;
    }
    /* a dataset (one class only when every label is 0): labels are class ids below n_classes, values finite */
    fuzz_check_dataset(&ds, n_classes);
    if (n_features && ds.d != n_features)
        abort();
    bg_dataset_destroy(&ds);
    return 0;
}
