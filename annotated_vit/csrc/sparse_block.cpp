// One sparse PVTv2 block at inference (lesson 08a): lesson 07's `PyramidBlock.forward` on the kept rows, with the
// steps of annotated_vit.sparse's `_KeptTokens` (keys from the live cells, the depthwise conv at the kept tokens),
// without Python between them. Tested equal to the readable sparse mode of lesson 08.
#include "kernels.h"
#include <algorithm>
#include <limits>

static at::Tensor lin(const at::Tensor& x, const std::optional<at::Tensor>& panels, const at::Tensor& w,
                      const std::optional<at::Tensor>& b, int64_t small) {   // x (M, K) -> (M, N)
    if (panels && x.size(0) <= small)
        return small_mm(x.contiguous(), *panels, b, at::empty({x.size(0), w.size(0)}, x.options()));
    return b ? at::addmm(*b, x, w.t()) : at::mm(x, w.t());
}
static at::Tensor heads(const at::Tensor& t, int64_t h) {              // (B, L, h*d) -> (B, h, L, d)
    return t.view({t.size(0), t.size(1), h, -1}).transpose(1, 2);
}
// w: norm1 (w, b), q (panels, w, b), kv (panels, w, b), proj (panels, w, b), norm2 (w, b), fc1 (panels, w, b),
//    dwconv (taps w (9, H), b), fc2 (panels, w, b), and for R > 1: reduction (W (R*R*C, C), b), its norm (w, b),
//    W as panels per cell position (R*R, C/16, C, 16) and for all positions at once (C/16, R*R*C, 16)
// ix: pad_idx, pad_bias (None when no image is padded), taps (9, K), hidden (K + 1, H), dwout (K, H),
//     and for R > 1: sel, cell rows, gidx, cell of each kept token, key bias
// n: B, L, heads, R, Lc, Lp, grouped, the most rows for the small-row product;  eps: norm1, norm2, reduction norm
at::Tensor sparse_block(const at::Tensor& xs, const c10::List<std::optional<at::Tensor>>& wl,
                        const c10::List<std::optional<at::Tensor>>& il, at::IntArrayRef n, at::ArrayRef<double> eps) {
    std::vector<std::optional<at::Tensor>> w(wl.begin(), wl.end()), ix(il.begin(), il.end());
    TORCH_CHECK(n.size() == 8 && eps.size() == 3 && w.size() == (n[3] > 1 ? 27 : 21) && ix.size() == (n[3] > 1 ? 10 : 5),
                "sparse_block: w, ix, n, eps as `_block_weights` and `_compiled_stage` make them");
    const int64_t K = xs.size(0), C = xs.size(1), B = n[0], L = n[1], h = n[2], R = n[3], Lc = n[4], Lp = n[5], S = n[7];
    auto pad = [&](const at::Tensor& t) {                               // (K, c) -> (B, L, c)
        if (!ix[0]) return t.view({B, L, -1});
        return at::zeros({B * L, t.size(1)}, t.options()).index_copy_(0, *ix[0], t).view({B, L, -1});
    };
    auto a = at::layer_norm(xs, {C}, w[0], w[1], eps[0]);
    auto q = heads(pad(lin(a, w[2], *w[3], w[4], S)), h);
    at::Tensor kv; std::optional<at::Tensor> bias;
    if (R > 1) {
        const auto& W = *w[21];
        auto src = ix[5] ? a.index_select(0, *ix[5]) : a;
        src = at::constant_pad_nd(src, {0, 0, 0, 1});                  // the zero row every empty slot reads
        auto Z = src.index_select(0, *ix[6]);
        at::Tensor r;
        const int64_t RR = R * R, Cr = W.size(1);
        if (n[6]) {                                                     // one product per cell position p
            auto y = at::empty({RR * Lp, Cr}, a.options());
            if (w[25] && Lp <= S)                                       // panels of W_p: (C/16, C, 16) each
                for (int64_t p = 0; p < RR; ++p)
                    small_mm_rows(Z.data_ptr<float>() + p * Lp * C, w[25]->data_ptr<float>() + p * w[25]->stride(0),
                                  nullptr, y.data_ptr<float>() + p * Lp * Cr, Lp, C, Cr);
            else { auto y3 = y.view({RR, Lp, Cr}); at::bmm_out(y3, Z.view({RR, Lp, C}), W.view({RR, C, Cr})); }
            r = at::zeros({B * Lc, Cr}, a.options()).index_add_(0, *ix[8], y.index_select(0, *ix[7]));
            if (w[22]) r.add_(*w[22]);
        } else {                                                        // one product over all live cells
            auto Zc = Z.view({B * Lc, RR * C});
            if (w[26] && B * Lc <= S) r = small_mm(Zc, *w[26], w[22], at::empty({B * Lc, Cr}, a.options()));
            else r = w[22] ? at::addmm(*w[22], Zc, W) : at::mm(Zc, W);
        }
        r = at::layer_norm(r, {C}, w[23], w[24], eps[2]);
        kv = lin(r, w[5], *w[6], w[7], S).view({B, Lc, -1});
        bias = ix[9];
    } else {
        kv = pad(lin(a, w[5], *w[6], w[7], S));
        bias = ix[1];
    }
    auto kvh = heads(kv, 2 * h).chunk(2, 1);
    auto o = at::scaled_dot_product_attention(q, kvh[0], kvh[1], bias);   // (B, h, L, d)
    o = o.transpose(1, 2).reshape({B * L, C});
    if (ix[0]) o = o.index_select(0, *ix[0]);
    auto x1 = xs + lin(o, w[8], *w[9], w[10], S);
    a = at::layer_norm(x1, {C}, w[11], w[12], eps[1]);
    auto t = *ix[3];                                                    // (K + 1, H): fc1's rows, then a zero row
    t.select(0, K).zero_();
    auto tk = t.narrow(0, 0, K);
    if (w[13] && K <= S) small_mm(a, *w[13], w[15], tk);
    else if (w[15]) at::addmm_out(tk, *w[15], a, w[14]->t());
    else at::mm_out(tk, a, w[14]->t());
    auto d = *ix[4], db = w[17] ? *w[17] : at::zeros({t.size(1)}, t.options());
    dw_taps_rows(t.data_ptr<float>(), ix[2]->data_ptr<int64_t>(), w[16]->data_ptr<float>(), db.data_ptr<float>(),
                 d.data_ptr<float>(), K, t.size(1), true);                // the depthwise conv, then GELU
    return x1.add_(lin(d, w[18], *w[19], w[20], S));
}
// `_KeptTokens`'s bookkeeping for one stage call in one pass over the mask: -> idx (K,) of the kept positions,
// `sparse_block`'s ix without its two buffers (pad_idx, pad_bias, taps, and for R > 1: sel, cell rows, gidx,
// cell of each kept token, key bias), and (B, L, Lc, Lp, grouped)
std::tuple<at::Tensor, std::vector<std::optional<at::Tensor>>, std::vector<int64_t>>
kept_index(const at::Tensor& keep, int64_t R, double group_below) {
    TORCH_CHECK(keep.dim() == 3 && keep.dtype() == at::kBool && R >= 1, "kept_index: keep (B, H, W) bool, R >= 1");
    const auto kc = keep.contiguous();
    const bool* kp = kc.data_ptr<bool>();
    const int64_t B = kc.size(0), H = kc.size(1), W = kc.size(2), N = H * W;
    const auto i64 = at::TensorOptions().dtype(at::kLong);
    const auto f32 = at::TensorOptions().dtype(at::kFloat);
    const float lowest = std::numeric_limits<float>::lowest();
    auto inverse = [&](const std::vector<int64_t>& index, int64_t n) {   // `_inverse`: the row holding each of n slots
        auto inv = at::full({n}, (int64_t)index.size(), i64); int64_t* p = inv.data_ptr<int64_t>();
        for (size_t j = 0; j < index.size(); ++j) p[index[j]] = j;
        return inv;
    };
    std::vector<int64_t> row(B * N, -1), counts(B, 0), idx;            // row: each position's kept row, or -1
    for (int64_t i = 0; i < B * N; ++i) if (kp[i]) { row[i] = idx.size(); idx.push_back(i); counts[i / N]++; }
    if (idx.empty()) return {at::empty({0}, i64), std::vector<std::optional<at::Tensor>>(3), {B, 0, 0, 0, 0}};
    const int64_t K = idx.size(), L = *std::max_element(counts.begin(), counts.end());
    std::vector<std::optional<at::Tensor>> ix(3);
    if (std::any_of(counts.begin(), counts.end(), [&](int64_t c) { return c != L; })) {   // padded images
        auto pad_idx = at::empty({K}, i64); int64_t* pp = pad_idx.data_ptr<int64_t>();
        for (int64_t k = 0; k < K; ++k) pp[k] = idx[k] / N * L + (k == 0 || idx[k] / N != idx[k - 1] / N ? 0 : pp[k - 1] % L + 1);
        auto bias = at::zeros({B, 1, 1, L}, f32); float* bp = bias.data_ptr<float>();
        for (int64_t b = 0; b < B; ++b) for (int64_t l = counts[b]; l < L; ++l) bp[b * L + l] = lowest;
        ix[0] = pad_idx; ix[1] = bias;
    }
    auto taps = at::empty({9, K}, i64); int64_t* tp = taps.data_ptr<int64_t>();
    for (int64_t k = 0; k < K; ++k) {                                   // row 3 (dy + 1) + dx + 1: the kept row, or K
        const int64_t b = idx[k] / N, y = idx[k] % N / W, x = idx[k] % W;
        for (int64_t dy = -1, t = 0; dy <= 1; ++dy)
            for (int64_t dx = -1; dx <= 1; ++dx, ++t) {
                const int64_t yy = y + dy, xx = x + dx;
                const int64_t r = (yy < 0 || yy >= H || xx < 0 || xx >= W) ? -1 : row[b * N + yy * W + xx];
                tp[t * K + k] = r < 0 ? K : r;
            }
    }
    ix[2] = taps;
    std::vector<int64_t> n = {B, L, 0, 0, 0};
    if (R == 1) return {at::tensor(idx, i64), ix, n};
    const int64_t Hc = H / R, Wc = W / R, RR = R * R;                   // `cells`: live R x R cells, slot by slot
    std::vector<int64_t> sel, cell, sub;                                // kept tokens inside the cells, their cell, position
    for (int64_t k = 0; k < K; ++k) {
        const int64_t b = idx[k] / N, y = idx[k] % N / W, x = idx[k] % W;
        if (y >= Hc * R || x >= Wc * R) continue;
        sel.push_back(k); cell.push_back((b * Hc + y / R) * Wc + x / R); sub.push_back(y % R * R + x % R);
    }
    const int64_t Kp = sel.size();
    std::vector<int64_t> slot(B * Hc * Wc, -1), live(B, 0);
    for (int64_t c : cell) slot[c] = 0;
    for (int64_t c = 0; c < B * Hc * Wc; ++c) if (slot[c] == 0) slot[c] = live[c / (Hc * Wc)]++;
    const int64_t Lc = std::max<int64_t>(1, *std::max_element(live.begin(), live.end()));
    std::vector<int64_t> zidx(Kp), np(RR, 0);
    for (int64_t j = 0; j < Kp; ++j) { zidx[j] = ((cell[j] / (Hc * Wc)) * Lc + slot[cell[j]]) * RR + sub[j]; np[sub[j]]++; }
    const int64_t Lp = std::max<int64_t>(1, *std::max_element(np.begin(), np.end()));   // `groups`
    const bool grouped = Kp > 0 && Lp < group_below * B * Lc;
    std::vector<int64_t> gidx(Kp), seen(RR, 0);
    for (int64_t j = 0; j < Kp; ++j) gidx[j] = sub[j] * Lp + seen[sub[j]]++;
    std::optional<at::Tensor> key_bias;
    if (std::any_of(live.begin(), live.end(), [&](int64_t c) { return c != Lc; })) {
        key_bias = at::zeros({B, 1, 1, Lc}, f32); float* bp = key_bias->data_ptr<float>();
        for (int64_t b = 0; b < B; ++b) for (int64_t l = live[b]; l < Lc; ++l) bp[b * Lc + l] = lowest;
    }
    std::vector<int64_t> zcell(Kp);
    for (int64_t j = 0; j < Kp; ++j) zcell[j] = zidx[j] / RR;
    ix.push_back(Kp == K ? std::nullopt : std::optional<at::Tensor>(at::tensor(sel, i64)));
    ix.push_back(grouped ? inverse(gidx, RR * Lp) : inverse(zidx, B * Lc * RR));
    ix.push_back(at::tensor(gidx, i64)); ix.push_back(at::tensor(zcell, i64)); ix.push_back(key_bias);
    return {at::tensor(idx, i64), ix, {B, L, Lc, Lp, grouped}};
}
