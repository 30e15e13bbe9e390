// The fused depthwise taps of the sparse mode (lesson 08a): a 3x3 depthwise conv evaluated at the kept tokens only,
// optionally followed by GELU. Built by annotated_vit.sparse with torch.utils.cpp_extension.load.
#include "kernels.h"
#include <ATen/Parallel.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif
// o <- GELU(o) = o Phi(o), with 1 - erf(z) = (1 + a1 z + ... + a6 z^6)^-16 for z >= 0 (Abramowitz & Stegun 7.1.28,
// error under 3e-7): Phi(-|x|) = q = 0.5 / P(|x| / sqrt 2)^16, Phi(|x|) = 1 - q
static void gelu_row(float* o, int64_t C) {
    const float a[6] = {0.0705230784f, 0.0422820123f, 0.0092705272f, 0.0001520143f, 0.0002765672f, 0.0000430638f};
    int64_t c = 0;
#if defined(__AVX2__) && defined(__FMA__)
    const __m256 one = _mm256_set1_ps(1.f), half = _mm256_set1_ps(0.5f), rs2 = _mm256_set1_ps(0.70710678f);
    const __m256 mag = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (; c + 8 <= C; c += 8) {
        __m256 x = _mm256_loadu_ps(o + c), z = _mm256_mul_ps(_mm256_and_ps(x, mag), rs2);
        __m256 p = _mm256_set1_ps(a[5]);
        for (int i = 4; i >= 0; --i) p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(a[i]));
        p = _mm256_fmadd_ps(p, z, one);
        p = _mm256_mul_ps(p, p); p = _mm256_mul_ps(p, p); p = _mm256_mul_ps(p, p); p = _mm256_mul_ps(p, p);
        __m256 q = _mm256_div_ps(half, p);
        _mm256_storeu_ps(o + c, _mm256_mul_ps(x, _mm256_blendv_ps(_mm256_sub_ps(one, q), q, x)));   // x < 0: q
    }
#endif
    for (; c < C; ++c) {
        float z = std::fabs(o[c]) * 0.70710678f, p = a[5];
        for (int i = 4; i >= 0; --i) p = p * z + a[i];
        p = p * z + 1.f; p *= p; p *= p; p *= p; p *= p;
        const float q = 0.5f / p;
        o[c] *= o[c] < 0 ? q : 1.f - q;
    }
}
// out[k, :] = bias + sum over the taps t of w[t, :] * rows[taps[t, k], :], then GELU if asked
void dw_taps_rows(const float* R, const int64_t* T, const float* W, const float* B, float* O, int64_t K,
                         int64_t C, bool gelu) {
    at::parallel_for(0, K, 16, [&](int64_t k0, int64_t k1) {
        for (int64_t k = k0; k < k1; ++k) {
            float* __restrict__ o = O + k * C;
            for (int64_t c = 0; c < C; ++c) o[c] = B[c];
            for (int t = 0; t < 9; ++t) {
                const float* __restrict__ r = R + T[t * K + k] * C;
                const float* __restrict__ wt = W + t * C;
                for (int64_t c = 0; c < C; ++c) o[c] += wt[c] * r[c];
            }
            if (gelu) gelu_row(o, C);                    // while the row is still in cache
        }
    });
}
// (rows: the K kept rows, then a zero row)
torch::Tensor dw_taps(torch::Tensor rows, torch::Tensor taps, torch::Tensor w, torch::Tensor bias, torch::Tensor out) {
    const int64_t K = taps.size(1), C = rows.size(1);
    TORCH_CHECK(rows.dtype() == torch::kFloat && w.dtype() == torch::kFloat && bias.dtype() == torch::kFloat
                && out.dtype() == torch::kFloat && taps.dtype() == torch::kLong, "dw_taps: float32 rows, int64 taps");
    TORCH_CHECK(rows.is_contiguous() && taps.is_contiguous() && w.is_contiguous() && bias.is_contiguous()
                && out.is_contiguous(), "dw_taps: contiguous tensors");
    TORCH_CHECK(rows.size(0) == K + 1 && taps.size(0) == 9 && w.size(0) == 9 && w.size(1) == C && bias.size(0) == C
                && out.size(0) == K && out.size(1) == C, "dw_taps: rows (K+1, C), taps (9, K), w (9, C), bias (C,), out (K, C)");
    dw_taps_rows(rows.data_ptr<float>(), taps.data_ptr<int64_t>(), w.data_ptr<float>(), bias.data_ptr<float>(),
                 out.data_ptr<float>(), K, C, false);
    return out;
}
