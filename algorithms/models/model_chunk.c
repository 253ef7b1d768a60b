/* Full-data losses and gradients for any model: chunked so per-sample scratch stays bounded, and exact up to
 * rounding because every chunk's mean is weighted by its share of the samples. */
#include "bg_model.h"

#include <string.h>

enum { BG_CHUNK = 256 };

double bg_model_loss_grad_all(const bg_model_t *m, const float *w, const float *X, const int *y, const size_t *idx,
                              size_t n, float *grad, float *tmp)
{
    if (!m->ops->workspace_bytes || n <= BG_CHUNK || (grad && !tmp))
        return m->ops->loss_grad(m, w, X, y, idx, n, grad);
    double loss = 0.0;
    if (grad)
        memset(grad, 0, m->dim * sizeof *grad);
    for (size_t s = 0; s < n; s += BG_CHUNK) {
        size_t c = n - s < BG_CHUNK ? n - s : BG_CHUNK;
        double share = (double)c / (double)n;
        loss += share * m->ops->loss_grad(m, w, X, y, idx + s, c, grad ? tmp : NULL);
        if (grad) {
            float sh = (float)share;
            for (size_t j = 0; j < m->dim; j++)
                grad[j] += sh * tmp[j];
        }
    }
    return loss;
}
