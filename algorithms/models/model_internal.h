/* Internals shared by the model files (model.c, model_nn.c, model_layers.c) and their unit tests: the weight
 * regulariser, the neural models' ops and the batch-wide layers they are built from (exposed so each layer is
 * tested alone). */
#ifndef BG_MODEL_INTERNAL_H
#define BG_MODEL_INTERNAL_H

#include "bg_model.h"

/* Regulariser value over the d weights w (cfg->lambda, cfg->reg as bg_model.h states); adds its gradient to grad
 * when non-NULL. */
double bg_weights_reg(const bg_model_cfg_t *cfg, const float *w, size_t d, float *grad);

extern const bg_model_ops_t bg_mlp_ops, bg_cnn_ops, bg_lenet5_ops;

/* Layers. Convolution activations are stored channel-major across the batch, C x (B x H x W), so that one
 * convolution is one sgemm with N = B*Ho*Wo; fully connected activations are row-major B x F. */
typedef struct bg_nn_conv {
    size_t cin, h, w;     /* input channels and size */
    size_t cout, k, pad;  /* square k x k kernel, stride 1, zero padding pad on every side */
    size_t ho, wo;        /* output size: h + 2 pad - k + 1, w + 2 pad - k + 1 */
} bg_nn_conv_t;

/* Samples per im2col chunk: the convolutions build their im2col matrix a cache-sized chunk of samples at a time,
 * so col needs cin*k*k x bg_nn_conv_chunk(g, B)*ho*wo floats. */
size_t bg_nn_conv_chunk(const bg_nn_conv_t *g, size_t B);
/* z (cout x B*ho*wo) = W (cout x cin*k*k, PyTorch's [cout][cin][k][k]) . im2col(input), without bias.
 * Sample b, channel c of the input starts at in[b] + c*cs (so both dataset rows and C x (B x H x W) tensors
 * fit); col is scratch (size above). */
void bg_nn_conv_forward(const bg_nn_conv_t *g, size_t B, const float *const *in, size_t cs, const float *W,
                        float *col, float *z);
/* Given the same input and dz (cout x B*ho*wo): gW (cout x cin*k*k) += dz . im2col(input)^T, through gwt (scratch
 * of cin*k*k x cout floats); with din non-NULL, din (cin x B*h*w) is overwritten by the input gradient. */
void bg_nn_conv_backward(const bg_nn_conv_t *g, size_t B, const float *const *in, size_t cs, const float *W,
                         float *col, const float *dz, float *gW, float *gwt, float *din);

/* a = ReLU(maxpool2x2(z) + bias[c]) over C x (B x ho x wo) -> C x (B x (ho/2) x (wo/2)) (floor). Adding the bias
 * after the max is exact (a constant per channel does not move the argmax) and saves a pass over z. */
void bg_nn_pool_forward(size_t C, size_t B, size_t ho, size_t wo, const float *z, const float *bias, float *a);
/* zdz holds z on entry and receives dz (C x B*ho*wo), overwritten entirely: the gradient goes to the first
 * maximal position of each live window (recomputed from z, so no argmax is stored), zeros elsewhere, in dead
 * windows and in an odd last row/column; gbias[c] += the sum of the gradient reaching channel c. */
void bg_nn_pool_backward(size_t C, size_t B, size_t ho, size_t wo, const float *a, const float *da, float *zdz,
                         float *gbias);

/* out (B x O) = in (B x I) . W^T + bias, W row-major O x I (PyTorch's [out][in]); ReLU applied when relu. */
void bg_nn_fc_forward(size_t B, size_t I, size_t O, const float *in, const float *W, const float *bias, int relu,
                      float *out);
/* dout: the gradient wrt the layer's pre-activation (a ReLU on the output is masked by the next layer's
 * backward, via relu_in). gW += dout^T . in, gb += column sums of dout; din (may be NULL) = dout . W, multiplied
 * by [in > 0] when relu_in (in is the output of a ReLU, so din is the gradient wrt its pre-activation). */
void bg_nn_fc_backward(size_t B, size_t I, size_t O, const float *in, const float *W, const float *dout,
                       int relu_in, float *gW, float *gb, float *din);

/* Sum over the B rows of z (B x C logits) of the cross-entropy against the labels y[idx[i]] (idx NULL: y[i]);
 * with dz non-NULL, dz = scale * (softmax(z) - onehot) (dz may equal z). Labels must be in 0..C-1. */
double bg_nn_softmax_ce(size_t B, size_t C, const float *z, const int *y, const size_t *idx, double scale,
                        float *dz);

#endif
