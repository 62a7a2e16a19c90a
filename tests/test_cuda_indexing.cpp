// The CUDA indexing kernels (kernels/cuda/indexing.cu: index_select, gather, scatter_add,
// cat, one_hot) against the CPU kernels (label `cuda`). The ops that only move data must
// give the CPU's result bit for bit, for every dtype they take, with inputs copied to the
// device in the SAME layout (transposed, strided-slice and expanded views stay views), odd
// sizes, sizes spanning many blocks, negative dims and 0-d/size-0 cases. scatter_add must
// match the CPU within float rounding (integers bit for bit) and give identical bits on a
// second run. Index values out of range must throw the CPU's duet::Error, word for word,
// and leave the device usable.
//
// Without a GPU (or in a build without CUDA) every test prints
//   skipped: no CUDA device (<why>)
// and passes.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/functions.h"
#include "tests/cuda_test_support.h"
#include "tests/reference/op_cases.h"
#include "tests/test_support.h"

using namespace duet;
using duet::testing::lcg;
using duet::testing::make_index;
using duet::testing::cpu;
using duet::cases::kAllDTypes;
using duet::testing::skip_without_gpu;
using duet::testing::to_gpu_same_layout;

namespace {


// Contiguous data of dtype dt: full-mantissa floats (so moved bits are checked), integers
// spanning the sign, 0/1 for bool.
Tensor make(DType dt, const Shape& shape, uint64_t seed) {
  const int64_t n = numel_of(shape);
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = lcg(seed);
    v[size_t(i)] = is_floating(dt) ? (double(r % 2000003) / 1000001.0 - 1.0) * 3.7
                   : dt == DType::Bool ? double(r % 2)
                                       : double(int64_t(r % 2001) - 1000);
  }
  return tensor<double>(v, shape).to(dt);
}

// Tensors of logical shape `shape` in several layouts: contiguous, transposed (last two
// dims) and a strided slice of the last dim; gen(s) makes contiguous data of shape s.
// Callers build expanded (0-stride) views themselves.
std::vector<Tensor> layouts(const Shape& shape, const std::function<Tensor(const Shape&)>& gen) {
  std::vector<Tensor> out = {gen(shape)};
  const size_t nd = shape.size();
  if (nd >= 2) {
    Shape s = shape;
    std::swap(s[nd - 1], s[nd - 2]);
    out.push_back(gen(s).transpose(-1, -2));
  }
  if (nd >= 1) {
    Shape s = shape;
    s[nd - 1] = 2 * shape[nd - 1] + 1;
    out.push_back(gen(s).slice(int64_t(nd) - 1, 1, s[nd - 1], 2));
  }
  return out;
}

std::vector<uint8_t> bytes_of(const Tensor& t) {
  Tensor c = cpu(t).contiguous();
  std::vector<uint8_t> b(size_t(c.numel()) * c.element_size());
  if (!b.empty()) std::memcpy(b.data(), c.data_ptr(), b.size());
  return b;
}

// got (device) equals want (CPU) bit for bit.
void check_bitwise(const Tensor& got, const Tensor& want) {
  REQUIRE(got.device() == testing::kGpu);
  REQUIRE(got.sizes() == want.sizes());
  REQUIRE(got.dtype() == want.dtype());
  CHECK(bytes_of(got) == bytes_of(want));
}

// got within float rounding of want (integers and bools exactly).
void check_close(const Tensor& got, const Tensor& want) {
  REQUIRE(got.device() == testing::kGpu);
  REQUIRE(got.sizes() == want.sizes());
  REQUIRE(got.dtype() == want.dtype());
  if (!is_floating(want.dtype())) {
    CHECK(bytes_of(got) == bytes_of(want));
    return;
  }
  const double rel = want.dtype() == DType::Float64   ? 1e-12
                     : want.dtype() == DType::Float32 ? 1e-5
                                                       : 2e-2;
  std::vector<double> g = testing::values_of(cpu(got)), w = testing::values_of(want);
  int bad = 0;
  for (size_t i = 0; i < w.size(); ++i)
    if (!(std::fabs(g[i] - w[i]) <= rel * (1.0 + std::fabs(w[i]))) && bad++ < 5)
      FAIL_CHECK("element ", i, ": got ", g[i], ", want ", w[i]);
  CHECK(bad == 0);
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

Tensor gpu(const Tensor& t) { return to_gpu_same_layout(t); }

}  // namespace

// ---------------------------------------------------------------- index_select

TEST_CASE("cuda index_select: every dtype, dims, index dtypes and layouts, bit for bit") {
  if (skip_without_gpu()) return;
  for (DType dt : kAllDTypes)
    for (DType it : {DType::Int32, DType::Int64})
      for (int64_t dim : {0, 1, 2, -1, -3}) {
        CAPTURE(dt);
        CAPTURE(it);
        CAPTURE(dim);
        for (const Tensor& x : layouts({5, 7, 3}, [&](const Shape& s) { return make(dt, s, 11); })) {
          const int64_t d = dim < 0 ? dim + 3 : dim;
          Tensor long_idx = make_index(it, {23}, x.size(d), 5);
          for (const Tensor& index : {long_idx.slice(0, 0, 9), long_idx.slice(0, 1, 23, 2)})
            check_bitwise(index_select(gpu(x), dim, gpu(index)), index_select(x, dim, index));
        }
      }
}

TEST_CASE("cuda index_select: large, expanded input, 0-d index, 0-d input, empty index") {
  if (skip_without_gpu()) return;
  Tensor w = make(DType::Float32, {2000, 37}, 3);
  Tensor rows = make_index(DType::Int64, {3001}, 2000, 4);
  check_bitwise(index_select(gpu(w), 0, gpu(rows)), index_select(w, 0, rows));
  Tensor cols = make_index(DType::Int32, {301}, 37, 6);
  check_bitwise(index_select(gpu(w), -1, gpu(cols)), index_select(w, -1, cols));
  Tensor e = make(DType::Float16, {1, 513}, 8).expand({300, 513});
  Tensor few = make_index(DType::Int64, {155}, 300, 12).slice(0, 0, 155, 2);
  check_bitwise(index_select(gpu(e), 0, gpu(few)), index_select(e, 0, few));
  Tensor i0 = scalar_tensor(3, DType::Int64);
  check_bitwise(index_select(gpu(w), 1, gpu(i0)), index_select(w, 1, i0));
  Tensor x0 = scalar_tensor(2.5, DType::Float64), z = scalar_tensor(0, DType::Int32);
  check_bitwise(index_select(gpu(x0), 0, gpu(z)), index_select(x0, 0, z));
  Tensor none = make_index(DType::Int64, {0}, 1, 1);
  check_bitwise(index_select(gpu(w), 0, gpu(none)), index_select(w, 0, none));
}

// ---------------------------------------------------------------- gather

TEST_CASE("cuda gather: every dtype, dims, smaller index, index layouts, bit for bit") {
  if (skip_without_gpu()) return;
  for (DType dt : kAllDTypes)
    for (DType it : {DType::Int32, DType::Int64})
      for (int64_t dim : {0, 1, 2, -1, -2}) {
        CAPTURE(dt);
        CAPTURE(it);
        CAPTURE(dim);
        const int64_t d = dim < 0 ? dim + 3 : dim;
        const Shape xs = {6, 9, 5};
        Shape is = {5, 7, 4};  // smaller than x in the other dims
        is[size_t(d)] = 11;    // any size along dim
        for (const Tensor& x : layouts(xs, [&](const Shape& s) { return make(dt, s, 21); }))
          for (const Tensor& index : layouts(is, [&](const Shape& s) { return make_index(it, s, xs[size_t(d)], 9); }))
            check_bitwise(gather(gpu(x), dim, gpu(index)), gather(x, dim, index));
      }
}

TEST_CASE("cuda gather: large, expanded index, 0-d, size 0") {
  if (skip_without_gpu()) return;
  Tensor logits = make(DType::Float32, {513, 1001}, 1);
  Tensor target = make_index(DType::Int64, {513, 1}, 1001, 2);
  check_bitwise(gather(gpu(logits), 1, gpu(target)), gather(logits, 1, target));
  Tensor many = make_index(DType::Int32, {513, 257}, 1001, 3);
  check_bitwise(gather(gpu(logits), -1, gpu(many)), gather(logits, -1, many));
  Tensor col = make_index(DType::Int64, {1, 300}, 513, 4).expand({700, 300});
  check_bitwise(gather(gpu(logits), 0, gpu(col)), gather(logits, 0, col));
  Tensor x0 = scalar_tensor(-1.25, DType::BFloat16), i0 = scalar_tensor(0, DType::Int64);
  check_bitwise(gather(gpu(x0), 0, gpu(i0)), gather(x0, 0, i0));
  Tensor empty_x = make(DType::Float32, {3, 0}, 5), empty_i = make_index(DType::Int64, {3, 0}, 1, 1);
  check_bitwise(gather(gpu(empty_x), 1, gpu(empty_i)), gather(empty_x, 1, empty_i));
}

// ---------------------------------------------------------------- scatter_add

TEST_CASE("cuda scatter_add: every dtype, dims and layouts, CPU values, repeatable bits") {
  if (skip_without_gpu()) return;
  for (DType dt : kAllDTypes)
    for (DType it : {DType::Int32, DType::Int64})
      for (int64_t dim : {0, 1, 2, -1, -3}) {
        CAPTURE(dt);
        CAPTURE(it);
        CAPTURE(dim);
        const int64_t d = dim < 0 ? dim + 3 : dim;
        const Shape xs = {6, 7, 5};
        Shape is = {5, 6, 4}, ss = {6, 7, 5};
        is[size_t(d)] = 13;  // many contributions per output element along dim
        ss[size_t(d)] = 15;  // src may be larger than the index
        std::vector<Tensor> xl = layouts(xs, [&](const Shape& s) { return make(dt, s, 31); });
        std::vector<Tensor> il = layouts(is, [&](const Shape& s) { return make_index(it, s, xs[size_t(d)], 33); });
        std::vector<Tensor> sl = layouts(ss, [&](const Shape& s) { return make(dt, s, 35); });
        for (size_t k = 0; k < xl.size(); ++k) {
          const Tensor &x = xl[k], &index = il[(k + 1) % il.size()], &src = sl[(k + 2) % sl.size()];
          Tensor want = scatter_add(x, dim, index, src);
          Tensor got = scatter_add(gpu(x), dim, gpu(index), gpu(src));
          check_close(got, want);
          CHECK(bytes_of(scatter_add(gpu(x), dim, gpu(index), gpu(src))) == bytes_of(got));
        }
      }
}

TEST_CASE("cuda scatter_add: large with many collisions, expanded inputs, 0-d, empty index") {
  if (skip_without_gpu()) return;
  for (DType dt : {DType::Float32, DType::Float16, DType::Int64}) {
    CAPTURE(dt);
    Tensor x = make(dt, {300, 257}, 1);
    Tensor index = make_index(DType::Int64, {4099, 257}, 300, 2);  // ~14 hits per output element
    Tensor src = make(dt, {4099, 257}, 3);
    Tensor got = scatter_add(gpu(x), 0, gpu(index), gpu(src));
    check_close(got, scatter_add(x, 0, index, src));
    CHECK(bytes_of(scatter_add(gpu(x), 0, gpu(index), gpu(src))) == bytes_of(got));
    // The index_select backward shape: one row index expanded along the features.
    Tensor rows = make_index(DType::Int32, {1001, 1}, 300, 4).expand({1001, 257});
    Tensor g = make(dt, {1001, 257}, 5);
    Tensor zero = make(dt, {1, 257}, 6).expand({300, 257});
    check_close(scatter_add(gpu(zero), 0, gpu(rows), gpu(g)), scatter_add(zero, 0, rows, g));
    // Index and src expanded along dim (stride 0 there): every step of a line adds the same
    // value into the same element.
    Tensor along = make_index(DType::Int64, {1, 257}, 300, 9).expand({50, 257});
    Tensor same = make(dt, {1, 257}, 10).expand({50, 257});
    check_close(scatter_add(gpu(x), 0, gpu(along), gpu(same)), scatter_add(x, 0, along, same));
    // dim = last: one line per row.
    Tensor cols = make_index(DType::Int64, {300, 999}, 257, 7);
    Tensor s2 = make(dt, {300, 999}, 8);
    check_close(scatter_add(gpu(x), 1, gpu(cols), gpu(s2)), scatter_add(x, 1, cols, s2));
  }
  Tensor x0 = scalar_tensor(1.5, DType::Float32), i0 = scalar_tensor(0, DType::Int64),
         s0 = scalar_tensor(2.25, DType::Float32);
  check_close(scatter_add(gpu(x0), 0, gpu(i0), gpu(s0)), scatter_add(x0, 0, i0, s0));
  Tensor x = make(DType::Float64, {4, 3}, 9).transpose(0, 1);
  Tensor none = make_index(DType::Int64, {0, 3}, 1, 1), s = make(DType::Float64, {2, 4}, 1);
  check_bitwise(scatter_add(gpu(x), 1, gpu(none), gpu(s)), scatter_add(x, 1, none, s));
}

// ---------------------------------------------------------------- cat

TEST_CASE("cuda cat: every dtype, dims, layouts, empty inputs, bit for bit") {
  if (skip_without_gpu()) return;
  for (DType dt : kAllDTypes)
    for (int64_t dim : {0, 1, 2, -1, -2}) {
      CAPTURE(dt);
      CAPTURE(dim);
      const int64_t d = dim < 0 ? dim + 3 : dim;
      std::vector<Tensor> cpu_in, gpu_in;
      int k = 0;
      for (int64_t len : {3, 0, 1, 7}) {
        Shape s = {4, 6, 5};
        s[size_t(d)] = len;
        std::vector<Tensor> l = layouts(s, [&](const Shape& sh) { return make(dt, sh, 40 + uint64_t(k)); });
        cpu_in.push_back(l[size_t(k) % l.size()]);
        gpu_in.push_back(gpu(cpu_in.back()));
        ++k;
      }
      check_bitwise(cat(gpu_in, dim), cat(cpu_in, dim));
    }
}

TEST_CASE("cuda cat: mixed dtypes, expanded inputs, large rows, a single input") {
  if (skip_without_gpu()) return;
  std::vector<Tensor> in = {make(DType::Int32, {3, 5}, 1), make(DType::Float16, {3, 2}, 2).t().t(),
                            make(DType::Bool, {3, 1}, 3), make(DType::BFloat16, {5, 3}, 4).t(),
                            make(DType::Int64, {1, 4}, 5).expand({3, 4})};
  for (int64_t dim : {1, -1}) {
    std::vector<Tensor> g;
    for (const Tensor& t : in) g.push_back(gpu(t));
    check_bitwise(cat(g, dim), cat(in, dim));
  }
  std::vector<Tensor> mixed = {make(DType::Float64, {2, 3}, 6), make(DType::Int64, {4, 3}, 7),
                               make(DType::Float32, {3, 5}, 8).t()};
  std::vector<Tensor> g = {gpu(mixed[0]), gpu(mixed[1]), gpu(mixed[2])};
  check_bitwise(cat(g, 0), cat(mixed, 0));
  std::vector<Tensor> big = {make(DType::Float32, {129, 1000}, 9), make(DType::Float32, {77, 1000}, 10)};
  check_bitwise(cat(std::vector<Tensor>{gpu(big[0]), gpu(big[1])}, 0), cat(big, 0));
  check_bitwise(cat(std::vector<Tensor>{gpu(big[0].t()), gpu(big[0].t())}, 1), cat({big[0].t(), big[0].t()}, 1));
  Tensor one = make(DType::Int32, {7, 3}, 11).t();
  check_bitwise(cat(std::vector<Tensor>{gpu(one)}, 0), cat({one}, 0));
}

// ---------------------------------------------------------------- one_hot

TEST_CASE("cuda one_hot: index dtypes and layouts, 0-d index, large, bit for bit") {
  if (skip_without_gpu()) return;
  for (DType it : {DType::Int32, DType::Int64})
    for (int64_t classes : {1, 7, 33}) {
      CAPTURE(it);
      CAPTURE(classes);
      for (const Tensor& index : layouts({5, 9}, [&](const Shape& s) { return make_index(it, s, classes, 2); }))
        check_bitwise(one_hot(gpu(index), classes), one_hot(index, classes));
      Tensor e = make_index(it, {1, 9}, classes, 3).expand({4, 9});
      check_bitwise(one_hot(gpu(e), classes), one_hot(e, classes));
    }
  Tensor i0 = scalar_tensor(4, DType::Int32);
  check_bitwise(one_hot(gpu(i0), 5), one_hot(i0, 5));
  Tensor big = make_index(DType::Int64, {1000}, 1001, 4);
  check_bitwise(one_hot(gpu(big), 1001), one_hot(big, 1001));
  Tensor none = make_index(DType::Int64, {0, 3}, 1, 1);
  check_bitwise(one_hot(gpu(none), 4), one_hot(none, 4));
}

// ---------------------------------------------------------------- errors

TEST_CASE("cuda indexing: out-of-range index values give the CPU's errors, and the device stays usable") {
  if (skip_without_gpu()) return;
  Tensor x = make(DType::Float32, {4, 5}, 1);
  auto with_bad = [](DType it, const Shape& shape, int64_t hi, int64_t pos, int64_t value) {
    Tensor t = make_index(DType::Int64, shape, hi, 3).contiguous().clone();
    t.data<int64_t>()[pos] = value;
    return t.to(it);
  };
  // Same text on both devices, and the parts the brief asks for.
  auto same_error = [](const std::function<Tensor()>& on_cpu, const std::function<Tensor()>& on_gpu) {
    const std::string want = error_of([&] { (void)on_cpu(); });
    const std::string got = error_of([&] { (void)on_gpu(); });
    CHECK(want.find("out of range") != std::string::npos);  // else two silent runs would agree
    CHECK(got == want);
  };
  for (DType it : {DType::Int32, DType::Int64}) {
    CAPTURE(it);
    for (int64_t bad : {int64_t(5), int64_t(-1), int64_t(1000)}) {
      CAPTURE(bad);
      Tensor i = with_bad(it, {7}, 5, 4, bad);
      same_error([&] { return index_select(x, 1, i); }, [&] { return index_select(gpu(x), 1, gpu(i)); });
      Tensor g = with_bad(it, {4, 3}, 5, 7, bad);
      same_error([&] { return gather(x, -1, g); }, [&] { return gather(gpu(x), -1, gpu(g)); });
      Tensor sidx = with_bad(it, {3, 5}, 4, 11, bad);  // x has 4 rows
      Tensor src = make(DType::Float32, {3, 5}, 2);
      same_error([&] { return scatter_add(x, 0, sidx, src); },
                 [&] { return scatter_add(gpu(x), 0, gpu(sidx), gpu(src)); });
      Tensor oh = with_bad(it, {2, 3}, 5, 5, bad);
      same_error([&] { return one_hot(oh, 5); }, [&] { return one_hot(gpu(oh), 5); });
    }
  }
  // A strided index: the bad value sits at a position the kernel reaches through strides.
  Tensor wide = with_bad(DType::Int64, {4, 6}, 4, 13, 9).slice(1, 1, 6, 2);  // element [2, 0]
  EXPECT_ERROR(gather(gpu(x), 0, gpu(wide)), "gather: index 9 is out of range for dim 0 with size 4",
               "(expected 0 <= index < 4)");
  EXPECT_ERROR(index_select(gpu(x), 0, gpu(scalar_tensor(-2, DType::Int64))),
               "index_select: index -2 is out of range for dim 0 with size 4", "(expected 0 <= index < 4)");
  EXPECT_ERROR(scatter_add(gpu(x), 1, gpu(with_bad(DType::Int32, {4, 2}, 5, 3, 5)), gpu(x)),
               "scatter_add: index 5 is out of range for dim 1 with size 5", "(expected 0 <= index < 5)");
  EXPECT_ERROR(one_hot(gpu(with_bad(DType::Int64, {6}, 3, 2, 3)), 3),
               "one_hot: index 3 is out of range for num_classes 3", "(expected 0 <= index < 3)");
  EXPECT_ERROR(gather(gpu(make(DType::Float32, {3, 0}, 1)), 1, gpu(make_index(DType::Int64, {3, 1}, 1, 1))),
               "gather: index 0 is out of range for dim 1 with size 0");
  // No device assert: the context still works.
  Tensor i = make_index(DType::Int64, {9}, 4, 8);
  check_bitwise(index_select(gpu(x), 0, gpu(i)), index_select(x, 0, i));
}
