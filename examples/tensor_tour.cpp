// A tour of duet's tensor core: creation, views that share memory, broadcasting,
// reductions, matmul, softmax, clear errors, and the allocator's counters.
//   ./build/examples/tensor_tour
#include <chrono>
#include <iostream>

#include "core/core.h"

using namespace duet;

namespace {

void section(const char* title) { std::cout << "\n== " << title << "\n"; }

}  // namespace

int main() {
  manual_seed(0);

  section("creating tensors");
  Tensor a = arange(6, DType::Float32).reshape({2, 3});
  std::cout << "a = arange(6).reshape({2, 3})\n" << a << "\n";
  std::cout << "randn({2, 2}) with seed 0\n" << randn({2, 2}) << "\n";
  std::cout << "eye(3, DType::Int32)\n" << eye(3, std::nullopt, DType::Int32) << "\n";

  section("views share storage: no copies");
  Tensor t = a.t();
  std::cout << "a.t() has shape " << shape_str(t.sizes()) << " and strides " << shape_str(t.strides())
            << "; shares a's storage: " << std::boolalpha << (t.storage() == a.storage()) << "\n";
  a.data<float>()[0] = 100;
  std::cout << "after a[0][0] = 100, a.t() is\n" << t << "\n";
  std::cout << "a.slice(1, 0, 3, 2) (every other column)\n" << a.slice(1, 0, 3, 2) << "\n";

  section("broadcasting");
  Tensor col = tensor<float>({10, 20}, {2, 1});
  std::cout << "a + [[10], [20]]\n" << a + col << "\n";

  section("reductions");
  std::cout << "a.sum({1}) = " << a.sum({1}) << "\n";
  std::cout << "mean(a, {0}, keepdim) = " << mean(a, {0}, true) << "\n";
  std::cout << "argmax(a, 1) = " << argmax(a, 1) << "\n";

  section("matmul and softmax");
  Tensor x = randn({4, 3}), w = randn({3, 2});
  Tensor logits = matmul(x, w);
  std::cout << "softmax(x @ w, -1)\n" << softmax(logits, -1) << "\n";
  std::cout << "rows sum to " << softmax(logits, -1).sum({1}) << "\n";

  section("errors name the op, the shapes and what was expected");
  try {
    matmul(zeros({3, 4}), zeros({5, 6}));
  } catch (const Error& e) {
    std::cout << "duet::Error: " << e.what() << "\n";
  }
  try {
    add(zeros({2, 3}), zeros({4}));
  } catch (const Error& e) {
    std::cout << "duet::Error: " << e.what() << "\n";
  }

  section("memory and speed");
  reset_peak_memory();
  Tensor big = randn({1024, 1024});
  auto t0 = std::chrono::steady_clock::now();
  Tensor prod = matmul(big, big);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  MemoryStats s = memory_stats();
  std::cout << "1024x1024 matmul: " << ms << " ms (" << 2.0 * 1024 * 1024 * 1024 / ms / 1e6 << " GFLOP/s, "
            << get_num_threads() << " threads)\n";
  std::cout << "allocator: current " << s.current_bytes << " B, peak " << s.peak_bytes << " B, "
            << s.allocations << " allocations\n";
  return 0;
}
