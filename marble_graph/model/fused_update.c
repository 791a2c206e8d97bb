/* MARBLE's gated update of a round's target neurons, fused: one pass per row
 * instead of about twenty tensor operations over every row
 * (marble_graph/model/fused_update.py builds and calls this).
 *
 * Per row i (target u = i mod units), with tanh as the activation:
 *
 *     agg   = V mean_i
 *     n     = LN(agg) * norm_weight + norm_bias
 *     a1    = tanh(W1 n + b1)
 *     upd   = tanh(W2 a1 + b2 + bias[u])
 *     t     = exp(-|agg|)                       (the gate is 1 - t)
 *     out_i = h_i + (1 - alpha) (1 - t) (upd - h_i)
 *
 * The forward pass can save each row's values for the backward pass (agg,
 * its normalised form, a1, upd, t and the inverse deviation: 4R + H + 8
 * floats a row); given no buffer, the backward pass recomputes them, which
 * costs more than the forward pass itself. The caller saves when the buffer
 * stays under a fixed size (fused_update.py). The backward pass sums the
 * weight gradients over its rows (the caller gives each thread its own sums
 * and adds them up).
 *
 * Weights come row-major as PyTorch holds them (V [R, R], W1 [H, R],
 * W2 [R, H]) and transposed (VT [R, R], W1T [R, H], W2T [H, R]): a product
 * then adds whole rows, eight lanes at a time, and never sums across lanes.
 * size (R) and hidden (H) must be multiples of 8, at most 8 * MAX_CHUNKS.
 */

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vector8.h"

#define MAX_CHUNKS 16

ALWAYS_INLINE v8f magnitude8(v8f x) { return (v8f)((v8i)x & ~(v8i)splat8(-0.0f)); }
ALWAYS_INLINE v8f sign_bits8(v8f x) { return (v8f)((v8i)x & (v8i)splat8(-0.0f)); }

/* tanh(x) = sign(x) (1 - e) / (1 + e) with e = exp(-2|x|). */
ALWAYS_INLINE v8f tanh8(v8f x) {
    const v8f e = exp_nonpositive8(-2.0f * magnitude8(x));
    const v8f positive = (1.0f - e) / (1.0f + e);
    return (v8f)((v8i)positive | (v8i)sign_bits8(x));
}

/* d|x|/dx as PyTorch defines it: sign(x), 0 at 0. */
ALWAYS_INLINE v8f sign8(v8f x) {
    const v8i positive = x > splat8(0.0f), negative = x < splat8(0.0f);
    return (v8f)(((v8i)splat8(1.0f) & positive) | ((v8i)splat8(-1.0f) & negative));
}

typedef struct {
    const float *value, *value_t, *norm_weight, *norm_bias;
    const float *first_weight, *first_weight_t, *first_bias;
    const float *second_weight, *second_weight_t, *second_bias;
} Weights;

/* One row's forward values, kept for its backward pass. */
typedef struct {
    v8f agg[MAX_CHUNKS], xhat[MAX_CHUNKS], normed[MAX_CHUNKS];
    v8f hidden[MAX_CHUNKS], update[MAX_CHUNKS], closed[MAX_CHUNKS];
    float rstd;
} Row;

ALWAYS_INLINE void row_forward(const float *restrict mean, float bias, const Weights *w,
                               int64_t size, int64_t hidden, float eps, Row *row) {
    const int64_t chunks = size / 8, hidden_chunks = hidden / 8;
    for (int64_t c = 0; c < chunks; ++c) row->agg[c] = splat8(0.0f);
    for (int64_t i = 0; i < size; ++i)
        for (int64_t c = 0; c < chunks; ++c)
            row->agg[c] += mean[i] * load8(w->value_t + i * size + 8 * c);
    v8f total = splat8(0.0f);
    for (int64_t c = 0; c < chunks; ++c) total += row->agg[c];
    const float mu = sum8(total) / (float)size;
    v8f squares = splat8(0.0f);
    for (int64_t c = 0; c < chunks; ++c) {
        const v8f centred = row->agg[c] - mu;
        squares += centred * centred;
    }
    row->rstd = 1.0f / sqrtf(sum8(squares) / (float)size + eps);
    for (int64_t c = 0; c < chunks; ++c) {
        row->xhat[c] = (row->agg[c] - mu) * row->rstd;
        row->normed[c] = row->xhat[c] * load8(w->norm_weight + 8 * c) + load8(w->norm_bias + 8 * c);
    }
    v8f z1[MAX_CHUNKS];
    /* The products broadcast one input at a time. Broadcasting a float from
     * memory is one load; from a vector's lane it is a shuffle or two, and
     * those made the backward pass about a sixth slower. Same values either way. */
    float normed_scalars[8 * MAX_CHUNKS];
    for (int64_t c = 0; c < chunks; ++c) store8(normed_scalars + 8 * c, row->normed[c]);
    for (int64_t c = 0; c < hidden_chunks; ++c) z1[c] = load8(w->first_bias + 8 * c);
    for (int64_t i = 0; i < size; ++i) {
        const float n = normed_scalars[i];
        for (int64_t c = 0; c < hidden_chunks; ++c)
            z1[c] += n * load8(w->first_weight_t + i * hidden + 8 * c);
    }
    float hidden_scalars[8 * MAX_CHUNKS];
    for (int64_t c = 0; c < hidden_chunks; ++c) {
        row->hidden[c] = tanh8(z1[c]);
        store8(hidden_scalars + 8 * c, row->hidden[c]);
    }
    v8f z2[MAX_CHUNKS];
    for (int64_t c = 0; c < chunks; ++c) z2[c] = load8(w->second_bias + 8 * c) + bias;
    for (int64_t j = 0; j < hidden; ++j) {
        const float a = hidden_scalars[j];
        for (int64_t c = 0; c < chunks; ++c)
            z2[c] += a * load8(w->second_weight_t + j * size + 8 * c);
    }
    for (int64_t c = 0; c < chunks; ++c) {
        row->update[c] = tanh8(z2[c]);
        row->closed[c] = exp_nonpositive8(-magnitude8(row->agg[c])); /* 1 - gate */
    }
}

/* Saved values of a row: agg, xhat, update, closed (size floats each), hidden,
 * then rstd in a padding of 8. */
ALWAYS_INLINE int64_t saved_width(int64_t size, int64_t hidden) { return 4 * size + hidden + 8; }

ALWAYS_INLINE void save_row(const Row *row, int64_t size, int64_t hidden, float *restrict out) {
    const int64_t chunks = size / 8, hidden_chunks = hidden / 8;
    for (int64_t c = 0; c < chunks; ++c) {
        store8(out + 8 * c, row->agg[c]);
        store8(out + size + 8 * c, row->xhat[c]);
        store8(out + 2 * size + 8 * c, row->update[c]);
        store8(out + 3 * size + 8 * c, row->closed[c]);
    }
    for (int64_t c = 0; c < hidden_chunks; ++c) store8(out + 4 * size + 8 * c, row->hidden[c]);
    out[4 * size + hidden] = row->rstd;
}

ALWAYS_INLINE void load_row(const float *restrict saved, const Weights *w, int64_t size,
                            int64_t hidden, Row *row) {
    const int64_t chunks = size / 8, hidden_chunks = hidden / 8;
    for (int64_t c = 0; c < chunks; ++c) {
        row->agg[c] = load8(saved + 8 * c);
        row->xhat[c] = load8(saved + size + 8 * c);
        row->normed[c] = row->xhat[c] * load8(w->norm_weight + 8 * c) + load8(w->norm_bias + 8 * c);
        row->update[c] = load8(saved + 2 * size + 8 * c);
        row->closed[c] = load8(saved + 3 * size + 8 * c);
    }
    for (int64_t c = 0; c < hidden_chunks; ++c) row->hidden[c] = load8(saved + 4 * size + 8 * c);
    row->rstd = saved[4 * size + hidden];
}

ALWAYS_INLINE void forward(int64_t first, int64_t last, int64_t units, int64_t size,
                           int64_t hidden, const float *restrict h, const float *restrict mean,
                           const float *restrict bias, const Weights *w, float alpha, float eps,
                           float *restrict out, float *restrict saved) {
    const int64_t chunks = size / 8, width = saved_width(size, hidden);
    const float keep = 1.0f - alpha;
    Row row;
    for (int64_t i = first; i < last; ++i) {
        row_forward(mean + i * size, bias[i % units], w, size, hidden, eps, &row);
        if (saved != NULL) save_row(&row, size, hidden, saved + i * width);
        for (int64_t c = 0; c < chunks; ++c) {
            const v8f state = load8(h + i * size + 8 * c);
            const v8f gate = 1.0f - row.closed[c];
            store8(out + i * size + 8 * c, state + keep * gate * (row.update[c] - state));
        }
    }
}

/* y = W x with W [outputs, inputs] row-major: d W[o, :] += dy[o] x (summed into
 * grad_weight) and dx = sum_o dy[o] W[o, :]. */
ALWAYS_INLINE void linear_backward(const v8f *d_out, int64_t outputs, const v8f *x,
                                   int64_t inputs, const float *restrict weight,
                                   float *restrict grad_weight, v8f *d_in) {
    const int64_t in_chunks = inputs / 8;
    float d_scalars[8 * MAX_CHUNKS]; /* broadcast from memory, as in row_forward */
    for (int64_t c = 0; c < outputs / 8; ++c) store8(d_scalars + 8 * c, d_out[c]);
    for (int64_t c = 0; c < in_chunks; ++c) d_in[c] = splat8(0.0f);
    for (int64_t o = 0; o < outputs; ++o) {
        const float d = d_scalars[o];
        float *grad_row = grad_weight + o * inputs;
        const float *weight_row = weight + o * inputs;
        for (int64_t c = 0; c < in_chunks; ++c) {
            store8(grad_row + 8 * c, load8(grad_row + 8 * c) + d * x[c]);
            d_in[c] += d * load8(weight_row + 8 * c);
        }
    }
}

typedef struct {
    float *bias, *value, *norm_weight, *norm_bias, *first_weight, *first_bias;
    float *second_weight, *second_bias;
} Grads;

ALWAYS_INLINE void backward(int64_t first, int64_t last, int64_t units, int64_t size,
                            int64_t hidden, const float *restrict h, const float *restrict mean,
                            const float *restrict bias, const Weights *w, float alpha, float eps,
                            const float *restrict grad_out, float *restrict grad_h,
                            float *restrict grad_mean, const Grads *g,
                            const float *restrict saved) {
    const int64_t chunks = size / 8, hidden_chunks = hidden / 8;
    const int64_t width = saved_width(size, hidden);
    const float keep = 1.0f - alpha;
    Row row;
    for (int64_t i = first; i < last; ++i) {
        const float *m = mean + i * size;
        if (saved != NULL)
            load_row(saved + i * width, w, size, hidden, &row);
        else
            row_forward(m, bias[i % units], w, size, hidden, eps, &row);
        v8f d_agg[MAX_CHUNKS], d_z2[MAX_CHUNKS];
        v8f bias_total = splat8(0.0f);
        for (int64_t c = 0; c < chunks; ++c) {
            const v8f d_out = load8(grad_out + i * size + 8 * c);
            const v8f state = load8(h + i * size + 8 * c);
            const v8f gate = 1.0f - row.closed[c];
            store8(grad_h + i * size + 8 * c, d_out * (1.0f - keep * gate));
            const v8f d_update = d_out * keep * gate;
            const v8f d_gate = d_out * keep * (row.update[c] - state);
            d_agg[c] = d_gate * row.closed[c] * sign8(row.agg[c]);
            d_z2[c] = d_update * (1.0f - row.update[c] * row.update[c]);
            store8(g->second_bias + 8 * c, load8(g->second_bias + 8 * c) + d_z2[c]);
            bias_total += d_z2[c];
        }
        g->bias[i % units] += sum8(bias_total);
        v8f d_hidden[MAX_CHUNKS];
        linear_backward(d_z2, size, row.hidden, hidden, w->second_weight, g->second_weight,
                        d_hidden);
        v8f d_z1[MAX_CHUNKS];
        for (int64_t c = 0; c < hidden_chunks; ++c) {
            d_z1[c] = d_hidden[c] * (1.0f - row.hidden[c] * row.hidden[c]);
            store8(g->first_bias + 8 * c, load8(g->first_bias + 8 * c) + d_z1[c]);
        }
        v8f d_normed[MAX_CHUNKS];
        linear_backward(d_z1, hidden, row.normed, size, w->first_weight, g->first_weight,
                        d_normed);
        /* LayerNorm: dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)). */
        v8f d_xhat[MAX_CHUNKS];
        v8f d_sum = splat8(0.0f), d_dot = splat8(0.0f);
        for (int64_t c = 0; c < chunks; ++c) {
            store8(g->norm_weight + 8 * c,
                   load8(g->norm_weight + 8 * c) + d_normed[c] * row.xhat[c]);
            store8(g->norm_bias + 8 * c, load8(g->norm_bias + 8 * c) + d_normed[c]);
            d_xhat[c] = d_normed[c] * load8(w->norm_weight + 8 * c);
            d_sum += d_xhat[c];
            d_dot += d_xhat[c] * row.xhat[c];
        }
        const float d_mean = sum8(d_sum) / (float)size, d_proj = sum8(d_dot) / (float)size;
        for (int64_t c = 0; c < chunks; ++c)
            d_agg[c] += row.rstd * (d_xhat[c] - d_mean - row.xhat[c] * d_proj);
        v8f mean_row[MAX_CHUNKS], d_mean_row[MAX_CHUNKS];
        for (int64_t c = 0; c < chunks; ++c) mean_row[c] = load8(m + 8 * c);
        linear_backward(d_agg, size, mean_row, size, w->value, g->value, d_mean_row);
        for (int64_t c = 0; c < chunks; ++c) store8(grad_mean + i * size + 8 * c, d_mean_row[c]);
    }
}

/* Entry points: rows [first, last). weights: V, VT, norm weight, norm bias,
 * W1, W1T, b1, W2, W2T, b2 (in that order). grads: bias [units], then V, norm
 * weight, norm bias, W1, b1, W2, b2, all accumulated into. saved: NULL, or
 * [rows, marble_update_saved_width] floats that forward fills and backward reads. */

int64_t marble_update_saved_width(int64_t size, int64_t hidden) {
    return saved_width(size, hidden);
}

static Weights weights_of(const float *const *p) {
    return (Weights){p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9]};
}

void marble_update_forward(int64_t first, int64_t last, int64_t units, int64_t size,
                           int64_t hidden, float alpha, float eps, const float *h,
                           const float *mean, const float *bias, const float *const *weights,
                           float *out, float *saved) {
    const Weights w = weights_of(weights);
    if (size == 16 && hidden == 32)
        forward(first, last, units, 16, 32, h, mean, bias, &w, alpha, eps, out, saved);
    else
        forward(first, last, units, size, hidden, h, mean, bias, &w, alpha, eps, out, saved);
}

void marble_update_backward(int64_t first, int64_t last, int64_t units, int64_t size,
                            int64_t hidden, float alpha, float eps, const float *h,
                            const float *mean, const float *bias, const float *const *weights,
                            const float *grad_out, float *grad_h, float *grad_mean,
                            float *const *grads, const float *saved) {
    const Weights w = weights_of(weights);
    const Grads g = {grads[0], grads[1], grads[2], grads[3],
                     grads[4], grads[5], grads[6], grads[7]};
    if (size == 16 && hidden == 32)
        backward(first, last, units, 16, 32, h, mean, bias, &w, alpha, eps, grad_out, grad_h,
                 grad_mean, &g, saved);
    else
        backward(first, last, units, size, hidden, h, mean, bias, &w, alpha, eps, grad_out,
                 grad_h, grad_mean, &g, saved);
}
