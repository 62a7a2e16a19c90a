// Derivative rule of matmul, with NumPy's 1-D promotion and batch broadcasting undone:
//   dA = dC @ B^T,  dB = A^T @ dC   (then summed over broadcast batch dims).
// Transposes are views: the GEMM reads them in place.
#include "autograd/derivatives.h"
#include "core/functions.h"

namespace duet {
namespace {

std::vector<Tensor> grad_matmul(const GradCtx& c, const Tensor& g) {
  Tensor a = c.input(0), b = c.input(1);
  // Promote 1-D operands as the forward did, so the rule is the 2-D one.
  Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;
  Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
  Tensor g2 = g;
  if (a.dim() == 1) g2 = g2.unsqueeze(b.dim() == 1 ? 0 : -2);
  if (b.dim() == 1) g2 = g2.unsqueeze(-1);
  Tensor ga, gb;
  if (c.needs_grad(0)) ga = sum_to(matmul(g2, b2.transpose(-1, -2)), a2.sizes()).reshape(a.sizes());
  if (c.needs_grad(1)) {
    if (b.dim() == 2 && a.dim() >= 3 && a.size(-1) > 0 && b.size(1) > 0) {
      // One B for the whole batch (a Linear on [B, T, C]): its gradient is one product over
      // the folded rows, as torch.matmul's, not a batch of products and a sum.
      const int64_t rows = a.numel() / a.size(-1);
      gb = matmul(a.reshape({rows, a.size(-1)}).transpose(0, 1), g.reshape({rows, b.size(1)}));
    } else {
      gb = sum_to(matmul(a2.transpose(-1, -2), g2), b2.sizes()).reshape(b.sizes());
    }
  }
  return {ga, gb};
}

}  // namespace

void register_linalg_derivatives(DerivativeTable& t) { t.set(OpKind::matmul, grad_matmul, kSaveInputs); }

}  // namespace duet
