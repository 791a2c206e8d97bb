/* Neuronenblitz walks in one pass per walk (marble_graph/learning/neuronenblitz.py
 * calls this; its TorchScript ``_steps`` is the same walk as tensor operations).
 *
 * Walk w starts at row start[w]. At depth d it stops if its row has no
 * out-edge, or if every out-edge is closed (logit -inf); otherwise it takes
 * out-edge e with probability softmax(logits) over the row's out-edges, moves
 * to targets[e], and goes on to depth d + 1 with probability
 * continue_rate^(d + 1). The steps come back flattened by depth, then by walk,
 * as the tensor version returns them.
 *
 * Why C: as tensor operations a depth is about twenty small operations over
 * the walks still going, so a training step's 256 walks cost about 4 ms, most
 * of it the operations' fixed cost; here they cost tens of microseconds.
 *
 * Randomness: each walk draws from its own splitmix64 stream keyed by (seed,
 * walk), and the caller draws the seed from its torch.Generator, so the same
 * generator state gives the same walks. The draws differ from the tensor
 * version's (inverse-CDF sampling instead of Gumbel-max): same distribution,
 * not the same walks.
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static inline uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 24 random bits: every value is exact in a float. */
static inline float uniform(uint64_t *state) {
    return (float)(splitmix64(state) >> 40) * 0x1.0p-24f;
}

/* The out-edge a walk at a row takes: an index into edge_order's range
 * [first, first + degree), or -1 when every out-edge is closed. */
static int64_t choose(const int64_t *edge_order, const float *logits, int64_t first,
                      int64_t degree, float *weights, uint64_t *state) {
    float top = -INFINITY;
    for (int64_t i = 0; i < degree; ++i) {
        const float logit = logits[edge_order[first + i]];
        top = logit > top ? logit : top;
    }
    if (top == -INFINITY) return -1;
    float total = 0.0f;
    for (int64_t i = 0; i < degree; ++i) {
        weights[i] = expf(logits[edge_order[first + i]] - top); /* closed: exp(-inf) = 0 */
        total += weights[i];
    }
    const float target = uniform(state) * total;
    float running = 0.0f;
    int64_t last_open = -1;
    for (int64_t i = 0; i < degree; ++i) {
        if (weights[i] == 0.0f) continue;
        running += weights[i];
        last_open = i;
        if (target < running) return edge_order[first + i];
    }
    /* Rounding left the target at the very top of the sum: the last open edge. */
    return edge_order[first + last_open];
}

/* Writes the steps to edges, walk_of and depth_of (room for walks * max_depth
 * each) and returns how many there are, or -1 when out of memory. widest: the
 * largest out-degree of any row. */
int64_t marble_walk_steps(int64_t walks, int64_t max_depth, int64_t widest, const int64_t *rowptr,
                          const int64_t *edge_order, const int64_t *targets, const float *logits,
                          const int64_t *start, float continue_rate, uint64_t seed,
                          int64_t *edges, int64_t *walk_of, int64_t *depth_of) {
    float *weights = malloc(sizeof(float) * (size_t)(widest > 0 ? widest : 1));
    /* taken[d * walks + w]: the edge walk w took at depth d, or -1. */
    int64_t *taken = malloc(sizeof(int64_t) * (size_t)(walks * max_depth > 0 ? walks * max_depth : 1));
    if (weights == NULL || taken == NULL) {
        free(weights);
        free(taken);
        return -1;
    }
    for (int64_t i = 0; i < walks * max_depth; ++i) taken[i] = -1;
    for (int64_t w = 0; w < walks; ++w) {
        uint64_t state = seed ^ ((uint64_t)(w + 1) * 0xD1B54A32D192ED03ull);
        int64_t row = start[w];
        float go_on = 1.0f;
        for (int64_t d = 0; d < max_depth; ++d) {
            const int64_t first = rowptr[row], degree = rowptr[row + 1] - first;
            if (degree == 0) break;
            const int64_t edge = choose(edge_order, logits, first, degree, weights, &state);
            if (edge < 0) break;
            taken[d * walks + w] = edge;
            row = targets[edge];
            go_on *= continue_rate;
            if (!(uniform(&state) < go_on)) break;
        }
    }
    int64_t count = 0;
    for (int64_t d = 0; d < max_depth; ++d) {
        for (int64_t w = 0; w < walks; ++w) {
            const int64_t edge = taken[d * walks + w];
            if (edge < 0) continue;
            edges[count] = edge;
            walk_of[count] = w;
            depth_of[count] = d;
            ++count;
        }
    }
    free(weights);
    free(taken);
    return count;
}
