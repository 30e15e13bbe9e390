// What Python sees of the compiled pieces. `dw_taps` builds everywhere; the small-row product, the compiled block and
// its bookkeeping need AVX2 and FMA (annotated_vit.sparse then defines ANNOTATED_VIT_AVX2 and compiles their files).
#include "kernels.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.def("dw_taps", &dw_taps, "3x3 depthwise conv at the kept tokens: rows (K+1, C), taps (9, K), w (9, C), bias, out");
#ifdef ANNOTATED_VIT_AVX2
    m.def("kept_index", &kept_index, "the sparse block's index bookkeeping for one stage call");
#endif
}

#ifdef ANNOTATED_VIT_AVX2
TORCH_LIBRARY_IMPL(annotated_vit, CPU, m) {   // the operators' schemas are declared from Python (`_define_op`)
    m.impl("small_mm", &small_mm);
    m.impl("sparse_block", &sparse_block);
}
#endif
