// Tests of the tensor core: dtypes, shapes, views and storage sharing, factories, the
// generator's determinism, the allocator's counters, printing, parallel_for and Attrs.
#include <doctest/doctest.h>

#include <cstdlib>

#include <atomic>
#include <cmath>
#include <limits>

#include "core/core.h"
#include "tests/test_support.h"

using namespace duet;

TEST_CASE("float16 and bfloat16 convert like IEEE and round to nearest even") {
  for (float v : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f})
    CHECK(float(Half(v)) == v);
  CHECK(std::isinf(float(Half(70000.0f))));
  CHECK(std::isnan(float(Half(NAN))));
  CHECK(float(Half(1.0f + 1.0f / 4096)) == 1.0f);  // halfway rounds to even
  for (float v : {0.0f, 1.0f, -3.0f, 1.5f, 256.0f}) CHECK(float(BFloat16(v)) == v);
  CHECK(float(BFloat16(1.00390625f)) == 1.0f);       // halfway rounds to even
  CHECK(std::isnan(float(BFloat16(NAN))));
  CHECK(promote_types(DType::Int32, DType::Float16) == DType::Float16);
  CHECK(promote_types(DType::Float16, DType::BFloat16) == DType::Float32);
  CHECK(promote_types(DType::Bool, DType::Int64) == DType::Int64);
}

TEST_CASE("broadcast and view stride rules") {
  CHECK(broadcast_shapes({3, 1, 4}, {5, 1}, "t") == Shape{3, 5, 4});
  CHECK(broadcast_shapes({}, {2, 3}, "t") == Shape{2, 3});
  CHECK_THROWS_AS(broadcast_shapes({3}, {4}, "t"), Error);
  // A transposed (3, 4) tensor cannot be flattened without a copy, but can be unsqueezed.
  CHECK_FALSE(view_strides({4, 3}, {1, 4}, {12}).has_value());
  auto unsqueezed = view_strides({4, 3}, {1, 4}, {4, 1, 3});
  REQUIRE(unsqueezed.has_value());
  CHECK((*unsqueezed)[0] == 1);
  CHECK((*unsqueezed)[2] == 4);
  CHECK(view_strides({2, 3, 4}, {12, 4, 1}, {6, 4}) == Shape{4, 1});
}

TEST_CASE("views share storage and see each other's writes") {
  Tensor x = tensor<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor r = x.reshape({3, 2});
  Tensor t = x.t();
  Tensor s = x.slice(1, 0, 3, 2);
  Tensor e = x.select(0, 1).unsqueeze(0).expand({4, 3});
  for (const Tensor& v : {r, t, s, e}) CHECK(v.storage() == x.storage());
  CHECK(t.sizes() == Shape{3, 2});
  CHECK(t.strides() == Shape{1, 3});
  CHECK(s.sizes() == Shape{2, 2});
  CHECK(s.to_vector<float>() == std::vector<float>{0, 2, 3, 5});
  CHECK(e.strides() == Shape{0, 1});
  CHECK(e.to_vector<float>() == std::vector<float>{3, 4, 5, 3, 4, 5, 3, 4, 5, 3, 4, 5});
  x.data<float>()[4] = 40;
  CHECK(r.to_vector<float>()[4] == 40);
  CHECK(t.to_vector<float>() == std::vector<float>{0, 3, 1, 40, 2, 5});
  CHECK(x.select(1, -1).to_vector<float>() == std::vector<float>{2, 5});
  CHECK(x.narrow(1, 1, 2).to_vector<float>() == std::vector<float>{1, 2, 40, 5});
  CHECK(x.unsqueeze(0).unsqueeze(-1).sizes() == Shape{1, 2, 3, 1});
  CHECK(x.unsqueeze(0).unsqueeze(-1).squeeze().sizes() == Shape{2, 3});
  CHECK(x.flatten().sizes() == Shape{6});
  CHECK(x.reshape({-1}).sizes() == Shape{6});
  CHECK(x.permute({1, 0}).is_contiguous() == false);
}

TEST_CASE("reshape copies only when strides forbid a view; view refuses to") {
  Tensor x = arange(12, DType::Float32).reshape({3, 4});
  Tensor t = x.t();                // (4, 3), strides (1, 4)
  Tensor flat = t.reshape({12});   // needs a copy
  CHECK(flat.storage() != x.storage());
  CHECK(flat.to_vector<float>() == std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  CHECK_THROWS_AS(t.view({12}), Error);
  CHECK(t.view({2, 2, 3}).storage() == x.storage());
  Tensor c = t.contiguous();
  CHECK(c.is_contiguous());
  CHECK(c.to_vector<float>() == flat.to_vector<float>());
  CHECK(x.contiguous().is_same(x));
}

TEST_CASE("factories") {
  CHECK(zeros({2, 2}).to_vector<float>() == std::vector<float>(4, 0.0f));
  CHECK(ones({3}, DType::Int32).to_vector<int32_t>() == std::vector<int32_t>{1, 1, 1});
  CHECK(full({2}, 2.5, DType::Float64).to_vector<double>() == std::vector<double>{2.5, 2.5});
  CHECK(arange(5).dtype() == DType::Int64);
  CHECK(arange(5).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(arange(1, 2, 0.25, DType::Float32).to_vector<float>() == std::vector<float>{1, 1.25, 1.5, 1.75});
  CHECK(arange(5, 0, -2).to_vector<int64_t>() == std::vector<int64_t>{5, 3, 1});
  auto ls = linspace(0, 1, 5).to_vector<float>();
  CHECK(ls == std::vector<float>{0, 0.25, 0.5, 0.75, 1});
  CHECK(linspace(3, 7, 1).to_vector<float>() == std::vector<float>{3});
  CHECK(eye(2, 3).to_vector<float>() == std::vector<float>{1, 0, 0, 0, 1, 0});
  CHECK(scalar_tensor(3).dim() == 0);
  CHECK(scalar_tensor(3).item<float>() == 3.0f);
  CHECK(zeros({0, 3}).numel() == 0);
  float buf[4] = {1, 2, 3, 4};
  Tensor b = from_blob(buf, {2, 2}, DType::Float32);
  buf[3] = 9;
  CHECK(b.to_vector<float>()[3] == 9);
}

TEST_CASE("random tensors depend only on the seed, not on threads") {
  set_num_threads(1);
  manual_seed(42);
  Tensor a = randn({1000, 37});
  Tensor u = rand({5000});
  Tensor i = randint(-3, 7, {999});
  set_num_threads(2);
  manual_seed(42);
  Tensor b = randn({1000, 37});
  Tensor v = rand({5000});
  Tensor j = randint(-3, 7, {999});
  CHECK(std::memcmp(a.data_ptr(), b.data_ptr(), size_t(a.numel()) * 4) == 0);
  CHECK(std::memcmp(u.data_ptr(), v.data_ptr(), size_t(u.numel()) * 4) == 0);
  CHECK(i.to_vector<int64_t>() == j.to_vector<int64_t>());
  // Successive draws differ; values have the right moments and ranges.
  manual_seed(42);
  Tensor c = randn({1000, 37});
  Tensor d = randn({1000, 37});
  CHECK(std::memcmp(c.data_ptr(), d.data_ptr(), size_t(c.numel()) * 4) != 0);
  auto av = a.to_vector<double>();
  double mean = 0, sq = 0;
  for (double x : av) mean += x, sq += x * x;
  mean /= double(av.size());
  CHECK(std::fabs(mean) < 0.02);
  CHECK(std::fabs(sq / double(av.size()) - 1.0) < 0.03);
  for (float x : u.to_vector<float>()) CHECK((x >= 0.0f && x < 1.0f));
  for (int64_t x : i.to_vector<int64_t>()) CHECK((x >= -3 && x < 7));
  Tensor n = normal({4000}, 5.0, 0.0, DType::Float64);
  CHECK(n.to_vector<double>() == std::vector<double>(4000, 5.0));
}

TEST_CASE("the allocator counts bytes, peaks and calls") {
  reset_peak_memory();
  MemoryStats before = memory_stats();
  {
    Tensor a = empty({1024}, DType::Float32);
    Tensor b = empty({256}, DType::Float64);
    MemoryStats during = memory_stats();
    CHECK(during.current_bytes - before.current_bytes == 4096 + 2048);
    CHECK(during.allocations == 2);
  }
  MemoryStats after = memory_stats();
  CHECK(after.current_bytes == before.current_bytes);
  CHECK(after.peak_bytes >= before.current_bytes + 6144);
  CHECK(reinterpret_cast<uintptr_t>(empty({3}).data_ptr()) % kAlignment == 0);
}

TEST_CASE("the cpu allocator caches large blocks, counting only what tensors hold") {
#if defined(__SANITIZE_ADDRESS__)
  const bool caching = false;  // off under ASan (Note [CPU block cache])
#else
  const bool caching = std::getenv("DUET_CPU_CACHE") == nullptr || std::getenv("DUET_CPU_CACHE")[0] != '0';
#endif
  empty_cache();
  reset_peak_memory();
  MemoryStats start = memory_stats();
  CHECK(start.reserved_bytes == start.current_bytes);
  void* first = nullptr;
  {
    Tensor big = empty({300000});  // 1.2 MB
    first = big.data_ptr();
  }
  MemoryStats freed = memory_stats();
  CHECK(freed.system_allocations == 1);
  CHECK(freed.current_bytes == start.current_bytes);  // counted as released either way
  CHECK(freed.reserved_bytes == start.current_bytes + (caching ? 1200128 : 0));
  {
    Tensor again = empty({300000});
    CHECK((again.data_ptr() == first) == caching);  // the same block, when cached
    CHECK(memory_stats().system_allocations == (caching ? 1 : 2));
    CHECK(memory_stats().current_bytes == start.current_bytes + 1200000);
  }
  int64_t calls = memory_stats().system_allocations;
  for (int i = 0; i < 2; ++i) Tensor small = empty({100});  // small blocks are never cached
  CHECK(memory_stats().system_allocations == calls + 2);
  empty_cache();
  CHECK(memory_stats().reserved_bytes == memory_stats().current_bytes);
}

TEST_CASE("printing follows PyTorch's repr") {
  CHECK(tensor<float>({1, 2, 3, 4}, {2, 2}).str() == "tensor([[1., 2.],\n        [3., 4.]])");
  CHECK(tensor<float>({1.5f, -2.25f}).str() == "tensor([ 1.5000, -2.2500])");
  CHECK(tensor<int32_t>({1, 20}).str() == "tensor([ 1, 20], dtype=duet.int32)");
  CHECK(tensor<int64_t>({7}).str() == "tensor([7])");
  CHECK(tensor<bool>({true, false}).str() == "tensor([ True, False])");
  CHECK(scalar_tensor(2.0, DType::Float64).str() == "tensor(2., dtype=duet.float64)");
  CHECK(zeros({0, 2}).str() == "tensor([], size=[0, 2])");
  CHECK(tensor<float>({1e-5f, 1.0f}).str() == "tensor([1.0000e-05, 1.0000e+00])");
  std::string big = arange(2000, DType::Float32).str();
  CHECK(big == "tensor([   0.,    1.,    2.,  ..., 1997., 1998., 1999.])");
  CHECK(arange(8, DType::Float32).reshape({2, 2, 2}).str() ==
        "tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])");
}

TEST_CASE("parallel_for covers the range once and forwards exceptions") {
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    std::vector<std::atomic<int>> hits(10007);
    parallel_for(0, 10007, 100, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) hits[size_t(i)]++;
    });
    for (auto& h : hits) CHECK(h.load() == 1);
    CHECK_THROWS_AS(parallel_for(0, 1000, 1, [](int64_t lo, int64_t) {
                      if (lo > 0) throw Error("boom");
                      if (get_num_threads() == 1) throw Error("boom");
                    }),
                    Error);
  }
  set_num_threads(2);
  CHECK_THROWS_AS(set_num_threads(0), Error);
  // A typo must not start tens of thousands of threads.
  CHECK(max_num_threads() >= 4);
  CHECK_THROWS_WITH_AS(set_num_threads(100000), doctest::Contains("set_num_threads: 100000 threads is more than"),
                       Error);
  CHECK_THROWS_AS(set_num_threads(max_num_threads() + 1), Error);
  CHECK(get_num_threads() == 2);
}

TEST_CASE("attrs are ordered, comparable and hashable") {
  Attrs a, b;
  a.set("keepdim", true).set("dims", std::vector<int64_t>{1, 2});
  b.set("dims", std::vector<int64_t>{1, 2}).set("keepdim", true);
  CHECK(a == b);
  CHECK(a.hash() == b.hash());
  CHECK(a.str() == "dims=[1, 2], keepdim=true");
  b.set("keepdim", false);
  CHECK_FALSE(a == b);
  CHECK(a.get_or<int64_t>("missing", 7) == 7);
}

TEST_CASE("devices parse and print") {
  CHECK(Device::parse("cpu") == Device::cpu());
  CHECK(Device::parse("cuda:1") == Device::cuda(1));
  CHECK(Device::cuda(2).str() == "cuda:2");
  CHECK_THROWS_AS(Device::parse("gpu"), Error);
  CHECK_THROWS_AS(Device::parse("cuda:x"), Error);
}

TEST_CASE("every op in the registry is well formed") {
  for (int k = 0; k < kNumOps; ++k) {
    const OpDef& d = op_def(OpKind(k));
    CHECK(int(d.kind) == k);
    CHECK(op_by_name(d.name) == d.kind);
    CHECK(bool(d.shape));
    CHECK((d.view != nullptr) == d.has(kView));
    if (!d.has(kView)) CHECK(bool(d.kernels[int(DeviceType::CPU)]));
  }
  CHECK_THROWS_AS(op_by_name("no_such_op"), Error);
}

TEST_CASE("plain numbers in comparisons; var, std and prod methods; max and min along a dim") {
  const Tensor x = tensor(std::vector<double>{-1, 0.5, 2, 0, 3, -4}, {2, 3});
  auto bools = [](const Tensor& t) { return t.to(DType::Int64).to_vector<int64_t>(); };
  CHECK((x > 0).dtype() == DType::Bool);
  CHECK(bools(x > 0) == std::vector<int64_t>{0, 1, 1, 0, 1, 0});
  CHECK(bools(x <= 0.5) == std::vector<int64_t>{1, 1, 0, 1, 0, 1});
  CHECK(bools(0 < x) == bools(x > 0));
  CHECK(bools(1 >= x) == std::vector<int64_t>{1, 1, 0, 1, 0, 1});
  CHECK(bools(x < x.t().t() + 1) == std::vector<int64_t>(6, 1));
  CHECK(bools(arange(0, 4) > 1.5) == std::vector<int64_t>{0, 0, 1, 1});  // int64 against a fraction
  CHECK((1 - x).to_vector<float>() == std::vector<float>{2, 0.5, -1, 1, -2, 5});
  CHECK(x.prod({1}).to_vector<float>() == std::vector<float>{-1, 0});
  CHECK(x.var({1}).to_vector<float>() == var(x, {1}).to_vector<float>());
  CHECK(x.std({}, false, 0).item<float>() == doctest::Approx(std::sqrt(30.25 / 6 - std::pow(0.5 / 6, 2))));
  // max/min along a dim: values and indices together, the gradient to the chosen element.
  const Tensor y = tensor(std::vector<double>{1, 5, 5, 2, -3, 0}, {2, 3}).requires_grad_();
  auto [values, indices] = max(y, 1);
  CHECK(values.to_vector<float>() == std::vector<float>{5, 2});
  CHECK(indices.dtype() == DType::Int64);
  CHECK(indices.to_vector<int64_t>() == std::vector<int64_t>{1, 0});
  values.sum().backward();
  CHECK(y.grad().to_vector<float>() == std::vector<float>{0, 1, 0, 1, 0, 0});  // one of the tied 5s
  auto [lo, at] = min(y.detach(), 0, /*keepdim=*/true);
  CHECK(lo.sizes() == Shape{1, 3});
  CHECK(lo.to_vector<float>() == std::vector<float>{1, -3, 0});
  CHECK(at.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 1});
}

TEST_CASE("topk: values and indices best first, gradients to the chosen elements, errors") {
  const Tensor x = tensor(std::vector<double>{3, 1, 4, 1, 5, 9, 2, 6}, {2, 4}).requires_grad_();
  auto [values, indices] = topk(x, 2);
  CHECK(values.to_vector<float>() == std::vector<float>{4, 3, 9, 6});
  CHECK(indices.to_vector<int64_t>() == std::vector<int64_t>{2, 0, 1, 3});
  auto [low, at] = topk(x.detach(), 3, 1, /*largest=*/false);
  CHECK(at.to_vector<int64_t>() == std::vector<int64_t>{1, 3, 0, 2, 0, 3});  // the tied 1s by index
  CHECK(low.to_vector<float>() == std::vector<float>{1, 1, 3, 2, 5, 6});
  values.sum().backward();
  CHECK(x.grad().to_vector<float>() == std::vector<float>{1, 0, 1, 0, 0, 1, 0, 1});
  CHECK(topk(x.detach(), 1, 0).indices.to_vector<int64_t>() == std::vector<int64_t>{1, 1, 0, 1});
  EXPECT_ERROR(topk(x, 5), "topk_indices", "k 5 is out of range for dim 1 of size 4");
  EXPECT_ERROR(topk(zeros({3}, DType::Bool), 1), "topk_indices", "numeric");
}
