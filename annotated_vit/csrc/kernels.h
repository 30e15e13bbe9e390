// The compiled pieces of annotated_vit's fast sparse mode (lesson 08a), declared once for the files that share them.
#pragma once
#include <torch/extension.h>
#include <optional>
#include <tuple>
#include <vector>

// dw_taps.cpp: out[k, :] = bias + sum over the 9 taps t of w[t, :] * rows[taps[t, k], :], then GELU if asked
void dw_taps_rows(const float* R, const int64_t* T, const float* W, const float* B, float* O, int64_t K, int64_t C,
                  bool gelu);
torch::Tensor dw_taps(torch::Tensor rows, torch::Tensor taps, torch::Tensor w, torch::Tensor bias, torch::Tensor out);

// small_mm.cpp (AVX2 and FMA): O (M, N) = X (M, K) @ W.T + B, W given as ceil(N/16) panels (K, 16); B may be null
void small_mm_rows(const float* X, const float* W, const float* B, float* O, int64_t M, int64_t K, int64_t N);
at::Tensor small_mm(const at::Tensor& x, const at::Tensor& panels, const std::optional<at::Tensor>& bias, at::Tensor out);

// sparse_block.cpp: one sparse block at inference, and the index bookkeeping of one stage call
at::Tensor sparse_block(const at::Tensor& xs, const c10::List<std::optional<at::Tensor>>& wl,
                        const c10::List<std::optional<at::Tensor>>& il, at::IntArrayRef n, at::ArrayRef<double> eps);
std::tuple<at::Tensor, std::vector<std::optional<at::Tensor>>, std::vector<int64_t>>
kept_index(const at::Tensor& keep, int64_t R, double group_below);
