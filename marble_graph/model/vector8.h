/* Eight-float vectors for MARBLE's C kernels (fused_attention.c, fused_update.c).
 *
 * GCC/Clang vector extensions rather than one instruction set's intrinsics,
 * so the same source builds for any CPU the compiler knows (-march=native
 * picks the instructions). Loads and stores go through an aligned(4) type:
 * rows of PyTorch tensors are only float-aligned in general.
 */

#ifndef MARBLE_VECTOR8_H
#define MARBLE_VECTOR8_H

#include <math.h>
#include <stdint.h>

typedef float v8f __attribute__((vector_size(32), aligned(4)));
typedef int32_t v8i __attribute__((vector_size(32), aligned(4)));
typedef float v4f __attribute__((vector_size(16), aligned(4)));

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE v8f load8(const float *p) { return *(const v8f *)p; }
ALWAYS_INLINE void store8(float *p, v8f v) { *(v8f *)p = v; }
ALWAYS_INLINE v8f splat8(float x) { return (v8f){x, x, x, x, x, x, x, x}; }

ALWAYS_INLINE float sum8(v8f v) {
    const v4f half = (v4f){v[0], v[1], v[2], v[3]} + (v4f){v[4], v[5], v[6], v[7]};
    return (half[0] + half[2]) + (half[1] + half[3]);
}

/* exp(x) for x <= 0, eight at a time: Cephes' single-precision polynomial
 * (about 2 ulp); below -87 it gives exp(-87), and x = -inf gives 0. glibc's
 * scalar expf cost about 5 ns a call on the development machine, and
 * PyTorch's CPU exp 1.6 ns a float: more than the rest of a synapse's work. */
ALWAYS_INLINE v8f exp_nonpositive8(v8f x) {
    const v8i padding = x == splat8(-INFINITY);
    const v8i below = x < splat8(-87.0f);
    x = (v8f)(((v8i)x & ~below) | ((v8i)splat8(-87.0f) & below));
    const v8f magic = splat8(12582912.0f); /* 1.5 * 2^23: adding it rounds to an integer */
    const v8f k = (x * 1.44269504088896341f + magic) - magic;
    const v8f r = x - k * 0.693359375f + k * 2.12194440e-4f;
    v8f p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const v8i two_to_k = (__builtin_convertvector(k, v8i) + 127) << 23;
    return (v8f)((v8i)(p * (v8f)two_to_k) & ~padding);
}

#endif
