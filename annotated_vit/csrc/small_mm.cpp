// The small-row matrix product of the sparse mode (lesson 08a): x (M, K) @ W.T + b for few rows M, AVX2/FMA,
// W cut into panels of 16 output columns. Registered as torch.ops.annotated_vit.small_mm (see bindings.cpp).
#include "kernels.h"
#include <ATen/Parallel.h>
#include <immintrin.h>
// c_r: the 16 outputs of row r in this panel, started at the bias (first K block) or at what `out` holds
#define LOADC(r) if constexpr (MR > r) { float* o = out + r * N; \
    if (!first) { if (ncols == 16) { c##r##0 = _mm256_loadu_ps(o); c##r##1 = _mm256_loadu_ps(o + 8); } \
                  else { float t[16] = {0}; for (int64_t j = 0; j < ncols; ++j) t[j] = o[j]; \
                         c##r##0 = _mm256_loadu_ps(t); c##r##1 = _mm256_loadu_ps(t + 8); } } \
    else { c##r##0 = b0; c##r##1 = b1; } }
#define ROW(r) if constexpr (MR > r) { __m256 a = _mm256_broadcast_ss(x + r * ldx + k); \
    c##r##0 = _mm256_fmadd_ps(a, w0, c##r##0); c##r##1 = _mm256_fmadd_ps(a, w1, c##r##1); }
#define STORE(r) if constexpr (MR > r) { float* o = out + r * N; \
    if (ncols == 16) { _mm256_storeu_ps(o, c##r##0); _mm256_storeu_ps(o + 8, c##r##1); } \
    else { float t[16]; _mm256_storeu_ps(t, c##r##0); _mm256_storeu_ps(t + 8, c##r##1); \
           for (int64_t j = 0; j < ncols; ++j) o[j] = t[j]; } }
// out[0:MR, 16p:16p+ncols] (+)= x[0:MR, k0:k0+kc] @ panel p's rows k0:k0+kc; `pf`: the next panel, fetched meanwhile
template <int MR>
static void rows_x_panel(const float* x, int64_t ldx, int64_t kc, const float* w, const float* bias, bool first,
                         float* out, int64_t N, int64_t ncols, const float* pf) {
    __m256 b0 = _mm256_setzero_ps(), b1 = b0;
    if (first && bias) { float t[16] = {0}; for (int64_t j = 0; j < ncols; ++j) t[j] = bias[j];
                         b0 = _mm256_loadu_ps(t); b1 = _mm256_loadu_ps(t + 8); }
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    LOADC(0) LOADC(1) LOADC(2) LOADC(3) LOADC(4) LOADC(5)
    for (int64_t k = 0; k < kc; ++k) {
        if (pf) _mm_prefetch((const char*)(pf + k * 16), _MM_HINT_T0);
        __m256 w0 = _mm256_loadu_ps(w + k * 16), w1 = _mm256_loadu_ps(w + k * 16 + 8);
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
    }
    STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5)
}
// O (M, N) = X (M, K) @ W.T + B, W (N, K) given as P = ceil(N/16) panels (K, 16); B may be null
void small_mm_rows(const float* X, const float* W, const float* B, float* O, int64_t M, int64_t K, int64_t N) {
    const int64_t P = (N + 15) / 16, KC = 512;
    const int64_t nb = (M + 5) / 6;                      // blocks of rows, as even as they come (25 rows: 5 x 5)
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
        const int64_t kc = std::min(KC, K - k0);
        at::parallel_for(0, P, 1, [&](int64_t p0, int64_t p1) {
            for (int64_t p = p0; p < p1; ++p) {
                const float* w = W + (p * K + k0) * 16; const float* bp = B ? B + p * 16 : nullptr;
                const int64_t ncols = std::min<int64_t>(16, N - p * 16);
                for (int64_t bi = 0, i = 0; bi < nb; ++bi) {
                    const int64_t mr = (M - i + nb - bi - 1) / (nb - bi);
                    const float* xi = X + i * K + k0; float* oi = O + i * N + p * 16;
                    const float* pf = (bi == 0 && p + 1 < P) ? w + K * 16 : nullptr;
                    switch (mr) {
                        case 6: rows_x_panel<6>(xi, K, kc, w, bp, k0 == 0, oi, N, ncols, pf); break;
                        case 5: rows_x_panel<5>(xi, K, kc, w, bp, k0 == 0, oi, N, ncols, pf); break;
                        case 4: rows_x_panel<4>(xi, K, kc, w, bp, k0 == 0, oi, N, ncols, pf); break;
                        case 3: rows_x_panel<3>(xi, K, kc, w, bp, k0 == 0, oi, N, ncols, pf); break;
                        case 2: rows_x_panel<2>(xi, K, kc, w, bp, k0 == 0, oi, N, ncols, pf); break;
                        default: rows_x_panel<1>(xi, K, kc, w, bp, k0 == 0, oi, N, ncols, pf); break;
                    }
                    i += mr;
                }
            }
        });
    }
}
// out (M, N) = x (M, K) @ W.T + bias, W (N, K) given as panels (ceil(N/16), K, 16)
at::Tensor small_mm(const at::Tensor& x, const at::Tensor& panels, const std::optional<at::Tensor>& bias, at::Tensor out) {
    const int64_t M = x.size(0), K = x.size(1), P = panels.size(0), N = out.size(1);
    TORCH_CHECK(x.dim() == 2 && panels.dim() == 3 && out.dim() == 2 && panels.size(1) == K && panels.size(2) == 16
                && out.size(0) == M && (N + 15) / 16 == P && (!bias || (bias->dim() == 1 && bias->size(0) == N)),
                "small_mm: x (M, K), panels (ceil(N/16), K, 16), bias (N,) or None, out (M, N)");
    TORCH_CHECK(x.dtype() == at::kFloat && panels.dtype() == at::kFloat && out.dtype() == at::kFloat
                && (!bias || bias->dtype() == at::kFloat), "small_mm: float32 tensors");
    TORCH_CHECK(x.is_contiguous() && panels.is_contiguous() && out.is_contiguous() && (!bias || bias->is_contiguous()),
                "small_mm: contiguous tensors");
    small_mm_rows(x.data_ptr<float>(), panels.data_ptr<float>(), bias ? bias->data_ptr<float>() : nullptr,
                  out.data_ptr<float>(), M, K, N);
    return out;
}
