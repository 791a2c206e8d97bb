/* MARBLE's attention-weighted aggregation, fused: one pass over each target's
 * synapses instead of a dozen tensor operations over every (example, synapse)
 * pair (marble_graph/model/fused_attention.py builds and calls this).
 *
 * For each example b and target row u of one block of the synapse matrix
 * (CSR: row u's synapses are crow[u] .. crow[u+1], col[e] their source neuron):
 *
 *     s_e    = query[b,u] . key[b, col[e]]
 *     a_e    = exp(s_e - max_e s_e) / sum_e exp(s_e - max_e s_e)
 *     mean   = sum_e a_e weight[e] state[b, col[e]]          (0 without synapses)
 *
 * and the backward pass of that, recomputing a_e from the saved row max and
 * sum instead of storing anything per synapse. Every example uses the same
 * block structure and synapse weights; states, queries and keys are
 * batch-major ([B*N, size], [B*U, width], [B*N, width]).
 *
 * Vectors of eight floats (vector8.h). size must be a multiple of 8 and at
 * most 8 * MAX_CHUNKS; the
 * caller checks. The common shape (size 16, width 4) gets its own
 * specialisation so its loops unroll with the sizes known.
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vector8.h"

#define MAX_CHUNKS 16

/* scratch[0 .. degree) = query . key[source] of each synapse of a row; the max. */
ALWAYS_INLINE float row_scores(const float *restrict q, const float *restrict keys,
                               const int32_t *restrict src, int64_t degree, int64_t width,
                               float *restrict scratch) {
    float top = -INFINITY;
    if (width == 4) {
        /* Written with a 4-wide vector: left to itself the compiler vectorises
         * this loop across synapses with gather loads, which are slow on some
         * CPUs (AMD's: the whole backward pass took 2.5 times as long). */
        const v4f q4 = *(const v4f *)q;
        for (int64_t e = 0; e < degree; ++e) {
            const v4f product = q4 * *(const v4f *)(keys + (int64_t)src[e] * 4);
            const float s = (product[0] + product[2]) + (product[1] + product[3]);
            scratch[e] = s;
            top = s > top ? s : top;
        }
        return top;
    }
    for (int64_t e = 0; e < degree; ++e) {
        const float *k = keys + (int64_t)src[e] * width;
        float s = 0.0f;
        for (int64_t a = 0; a < width; ++a) s += q[a] * k[a];
        scratch[e] = s;
        top = s > top ? s : top;
    }
    return top;
}

/* scratch[e] = exp(scratch[e] - top) * scale over the row, padded to a multiple
 * of 8 (the padding ends as 0); returns the sum of exp(scratch[e] - top). */
ALWAYS_INLINE float row_exponentials(float *restrict scratch, int64_t degree, float top,
                                     float scale) {
    const int64_t padded = (degree + 7) & ~(int64_t)7;
    for (int64_t e = degree; e < padded; ++e) scratch[e] = -INFINITY;
    v8f total = splat8(0.0f);
    for (int64_t e = 0; e < padded; e += 8) {
        const v8f p = exp_nonpositive8(load8(scratch + e) - top);
        total += p;
        store8(scratch + e, p * scale);
    }
    return sum8(total);
}

static int64_t max_degree(const int64_t *crow, int64_t units) {
    int64_t most = 0;
    for (int64_t u = 0; u < units; ++u) {
        const int64_t degree = crow[u + 1] - crow[u];
        most = degree > most ? degree : most;
    }
    return most;
}

ALWAYS_INLINE int forward(int64_t first, int64_t last, int64_t units, int64_t nodes,
                          int64_t size, int64_t width, const int64_t *restrict crow,
                          const int32_t *restrict col, const float *restrict weight,
                          const float *restrict query, const float *restrict key,
                          const float *restrict state, float *restrict mean,
                          float *restrict row_max, float *restrict row_total) {
    const int64_t chunks = size / 8;
    float *scratch = malloc(sizeof(float) * (size_t)(max_degree(crow, units) + 8));
    if (scratch == NULL) return 1;
    for (int64_t b = first; b < last; ++b) {
        const float *keys = key + b * nodes * width;
        const float *states = state + b * nodes * size;
        for (int64_t u = 0; u < units; ++u) {
            const int64_t row = b * units + u, start = crow[u], degree = crow[u + 1] - start;
            const int32_t *src = col + start;
            const float *w = weight + start;
            const float top = row_scores(query + row * width, keys, src, degree, width, scratch);
            const float total = row_exponentials(scratch, degree, top, 1.0f);
            v8f acc[MAX_CHUNKS];
            for (int64_t c = 0; c < chunks; ++c) acc[c] = splat8(0.0f);
            for (int64_t e = 0; e < degree; ++e) {
                const float coefficient = scratch[e] * w[e];
                const float *h = states + (int64_t)src[e] * size;
                for (int64_t c = 0; c < chunks; ++c) acc[c] += coefficient * load8(h + 8 * c);
            }
            const float inverse = degree > 0 ? 1.0f / total : 0.0f;
            for (int64_t c = 0; c < chunks; ++c) store8(mean + row * size + 8 * c, acc[c] * inverse);
            row_max[row] = top;
            row_total[row] = total;
        }
    }
    free(scratch);
    return 0;
}

ALWAYS_INLINE int backward(int64_t first, int64_t last, int64_t units, int64_t nodes,
                           int64_t size, int64_t width, const int64_t *restrict crow,
                           const int32_t *restrict col, const float *restrict weight,
                           const float *restrict query, const float *restrict key,
                           const float *restrict state, const float *restrict mean,
                           const float *restrict row_max, const float *restrict row_total,
                           const float *restrict grad_mean, float *restrict grad_query,
                           float *restrict grad_key, float *restrict grad_state,
                           float *restrict grad_weight) {
    const int64_t chunks = size / 8;
    float *scratch = malloc(sizeof(float) * (size_t)(max_degree(crow, units) + 8));
    if (scratch == NULL) return 1;
    for (int64_t b = first; b < last; ++b) {
        const float *keys = key + b * nodes * width;
        const float *states = state + b * nodes * size;
        float *key_grads = grad_key + b * nodes * width;
        float *state_grads = grad_state + b * nodes * size;
        memset(key_grads, 0, sizeof(float) * (size_t)(nodes * width));
        memset(state_grads, 0, sizeof(float) * (size_t)(nodes * size));
        for (int64_t u = 0; u < units; ++u) {
            const int64_t row = b * units + u, start = crow[u], degree = crow[u + 1] - start;
            const int32_t *src = col + start;
            const float *w = weight + start;
            const float *q = query + row * width;
            float *gq = grad_query + row * width;
            for (int64_t a = 0; a < width; ++a) gq[a] = 0.0f;
            if (degree == 0) continue;
            v8f g[MAX_CHUNKS];
            v8f dot = splat8(0.0f);
            for (int64_t c = 0; c < chunks; ++c) {
                g[c] = load8(grad_mean + row * size + 8 * c);
                dot += g[c] * load8(mean + row * size + 8 * c);
            }
            const float grad_dot_mean = sum8(dot);
            row_scores(q, keys, src, degree, width, scratch);
            row_exponentials(scratch, degree, row_max[row], 1.0f / row_total[row]);
            /* d mean / d s_e = a_e (w_e h_e - mean), d mean / d h_e = a_e w_e,
             * d mean / d w_e = a_e h_e. */
            for (int64_t e = 0; e < degree; ++e) {
                const float attention = scratch[e];
                const int64_t source = src[e];
                const float *h = states + source * size;
                v8f products = splat8(0.0f);
                for (int64_t c = 0; c < chunks; ++c) products += g[c] * load8(h + 8 * c);
                const float grad_dot_h = sum8(products);
                grad_weight[start + e] += attention * grad_dot_h;
                const float grad_score = attention * (w[e] * grad_dot_h - grad_dot_mean);
                const float coefficient = attention * w[e];
                float *gh = state_grads + source * size;
                for (int64_t c = 0; c < chunks; ++c)
                    store8(gh + 8 * c, load8(gh + 8 * c) + coefficient * g[c]);
                const float *k = keys + source * width;
                float *gk = key_grads + source * width;
                for (int64_t a = 0; a < width; ++a) {
                    gq[a] += grad_score * k[a];
                    gk[a] += grad_score * q[a];
                }
            }
        }
    }
    free(scratch);
    return 0;
}

/* Entry points: examples [first, last). 0 on success, 1 when out of memory. */

int marble_attend_forward(int64_t first, int64_t last, int64_t units, int64_t nodes,
                          int64_t size, int64_t width, const int64_t *crow, const int32_t *col,
                          const float *weight, const float *query, const float *key,
                          const float *state, float *mean, float *row_max, float *row_total) {
    if (size == 16 && width == 4)
        return forward(first, last, units, nodes, 16, 4, crow, col, weight, query, key, state,
                       mean, row_max, row_total);
    return forward(first, last, units, nodes, size, width, crow, col, weight, query, key, state,
                   mean, row_max, row_total);
}

int marble_attend_backward(int64_t first, int64_t last, int64_t units, int64_t nodes,
                           int64_t size, int64_t width, const int64_t *crow, const int32_t *col,
                           const float *weight, const float *query, const float *key,
                           const float *state, const float *mean, const float *row_max,
                           const float *row_total, const float *grad_mean, float *grad_query,
                           float *grad_key, float *grad_state, float *grad_weight) {
    if (size == 16 && width == 4)
        return backward(first, last, units, nodes, 16, 4, crow, col, weight, query, key, state,
                        mean, row_max, row_total, grad_mean, grad_query, grad_key, grad_state,
                        grad_weight);
    return backward(first, last, units, nodes, size, width, crow, col, weight, query, key, state,
                    mean, row_max, row_total, grad_mean, grad_query, grad_key, grad_state,
                    grad_weight);
}
