// multinomial: drawing category indices from rows of non-negative weights with duet's RNG,
// as torch.multinomial. It is a composite of existing ops, PyTorch's own CPU method for
// sampling without replacement (an exponential race): each category gets the key
// w / q with q ~ Exp(1) (q = -log u, u ~ U[0, 1) from the default generator), and the
// categories with the largest keys win. That draws category i first with probability
// w_i / sum(w), and the next among the rest in proportion again, so:
//   without replacement: the top `num_samples` keys of one race (topk);
//   with replacement:    one race per sample (argmax over the categories).
// Being ops, it runs on every device and inside a compiled graph (the draws come from the
// generator's counters, so a replay draws anew), and a seed reproduces it everywhere.
#include <cmath>

#include "core/dispatch.h"
#include "core/functions.h"

namespace duet {
namespace {

// PyTorch's checks on the weights' values, which read the tensor: eager calls only (a
// graph being captured cannot read its values; a compiled sampler's weights come from
// softmax, which gives valid rows).
void check_weights(const Tensor& w, int64_t num_samples, bool replacement) {
  if (is_capturing() || w.numel() == 0) return;
  const Tensor w64 = w.detach().to(DType::Float64);
  const double low = amin(w64).item<double>();
  DUET_CHECK(low >= 0, "multinomial: the weights must be non-negative, but the smallest is ", low);
  DUET_CHECK(std::isfinite(sum(w64).item<double>()), "multinomial: the weights must be finite (no inf or NaN) in ",
             w.dtype(), w.sizes());
  const Tensor rows = w64.dim() == 1 ? w64.unsqueeze(0) : w64;
  const Tensor positive = sum((rows > 0).to(DType::Int64), {1});
  const int64_t fewest = amin(positive).item<int64_t>();
  DUET_CHECK(fewest > 0, "multinomial: a row of weights sums to zero (row ", argmin(positive).item<int64_t>(), " of ",
             w.sizes(), ")");
  DUET_CHECK(replacement || fewest >= num_samples, "multinomial: cannot draw ", num_samples,
             " samples without replacement from a row with only ", fewest, " non-zero weights");
}

}  // namespace

Tensor multinomial(const Tensor& weights, int64_t num_samples, bool replacement) {
  const Tensor& w = weights;
  DUET_CHECK(w.dim() == 1 || w.dim() == 2, "multinomial: expected weights of 1 or 2 dimensions, got ", w.dtype(),
             w.sizes());
  DUET_CHECK(is_floating(w.dtype()), "multinomial: expected floating-point weights, got ", w.dtype(), w.sizes());
  DUET_CHECK(num_samples > 0, "multinomial: num_samples must be positive, got ", num_samples);
  const int64_t categories = w.size(-1);
  DUET_CHECK(categories > 0, "multinomial: the weights have no categories: ", w.dtype(), w.sizes());
  DUET_CHECK(replacement || num_samples <= categories, "multinomial: cannot draw ", num_samples,
             " samples without replacement from ", categories, " categories");
  check_weights(w, num_samples, replacement);

  const Tensor wd = w.detach();
  const TensorOptions on_w{w.dtype(), w.device()};
  if (!replacement) {
    const Tensor q = -log(rand(w.sizes(), on_w));
    return topk(wd / q, num_samples, -1).indices;
  }
  // One race per sample: keys [..., num_samples, categories].
  Shape races = w.sizes();
  races.insert(races.end() - 1, num_samples);
  const Tensor q = -log(rand(races, on_w));
  return argmax(wd.unsqueeze(-2) / q, -1);
}

}  // namespace duet
