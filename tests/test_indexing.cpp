// Tests of the indexing and joining kernels (index_select, gather, scatter_add, cat, stack,
// one_hot) against plain-loop references over multi-indices. Data are small integers so
// every dtype (float16/bfloat16 included) represents them, and sums of them, exactly:
// results must match bit for bit. Inputs are built with duet::tensor and made
// non-contiguous with views (transpose, strided slice, expand).
#include <doctest/doctest.h>

#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "tests/test_support.h"
#include "core/functions.h"
#include "core/parallel.h"

using namespace duet;
using duet::testing::lcg;
using duet::testing::make_index;

namespace {

const std::vector<DType> kAllDTypes = {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16,
                                       DType::Int32,   DType::Int64,   DType::Bool};

// A contiguous tensor of small integers (0/1 for bool) in dtype dt.
Tensor make(DType dt, const Shape& shape, uint64_t seed) {
  int64_t n = numel_of(shape);
  return visit_dtype(dt, [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      std::vector<bool> v(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) v[size_t(i)] = lcg(seed) % 2;
      return tensor<bool>(v, shape);
    } else {
      std::vector<T> v(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) v[size_t(i)] = T(float(int64_t(lcg(seed) % 17) - 8));
      return tensor<T>(v, shape);
    }
  });
}

int64_t offset_of(const Tensor& t, const Shape& idx) {
  int64_t off = 0;
  for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * t.stride(int64_t(d));
  return off;
}

// Element at a multi-index of any (strided) tensor, as double.
double get(const Tensor& t, const Shape& idx) {
  int64_t off = offset_of(t, idx);
  return visit_dtype(t.dtype(), [&]<typename T>() { return double(static_cast<const T*>(t.data_ptr())[off]); });
}
int64_t get_index(const Tensor& t, const Shape& idx) { return int64_t(get(t, idx)); }

void for_each_index(const Shape& s, const std::function<void(const Shape&)>& f) {
  int64_t n = numel_of(s);
  Shape idx(s.size(), 0);
  for (int64_t k = 0; k < n; ++k) {
    f(idx);
    for (int d = int(s.size()) - 1; d >= 0; --d) {
      if (++idx[size_t(d)] < s[size_t(d)]) break;
      idx[size_t(d)] = 0;
    }
  }
}

// Every element of `out` equals ref(multi-index).
void check_against(const Tensor& out, const Shape& shape, DType dt, const std::function<double(const Shape&)>& ref) {
  REQUIRE(out.sizes() == shape);
  REQUIRE(out.dtype() == dt);
  int bad = 0;
  for_each_index(shape, [&](const Shape& i) {
    double want = ref(i), got = get(out, i);
    if (got != want && bad++ < 5) FAIL_CHECK("at ", shape_str(i), ": got ", got, ", want ", want);
  });
  CHECK(bad == 0);
}

void check_equal(const Tensor& a, const Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  REQUIRE(a.dtype() == b.dtype());
  check_against(a, a.sizes(), a.dtype(), [&](const Shape& i) { return get(b, i); });
}

using testing::expect_error;

int64_t wrap(int64_t dim, int64_t nd) { return dim < 0 ? dim + nd : dim; }

// Reference of gather over an index-shaped output.
double gather_ref(const Tensor& x, int64_t dim, const Tensor& index, const Shape& i) {
  Shape xi = i;
  if (!xi.empty()) xi[size_t(dim)] = get_index(index, i);
  return get(x, xi);
}

}  // namespace

// ---------------------------------------------------------------- index_select

TEST_CASE("index_select: every dtype, dims, index dtypes, strided inputs") {
  for (DType dt : kAllDTypes)
    for (DType it : {DType::Int32, DType::Int64})
      for (int64_t dim : {0, 1, 2, -1, -3}) {
        CAPTURE(dt);
        CAPTURE(it);
        CAPTURE(dim);
        Tensor base = make(dt, {5, 4, 6}, 1);
        // contiguous, transposed and strided-slice versions of x
        std::vector<Tensor> xs = {base, base.transpose(0, 2), base.slice(2, 0, 6, 2), base.slice(0, 1, 4)};
        for (const Tensor& x : xs) {
          int64_t d = wrap(dim, x.dim());
          Tensor idx_long = make_index(it, {14}, x.size(d), 7);
          for (const Tensor& index : {idx_long.slice(0, 0, 7), idx_long.slice(0, 1, 14, 2)}) {
            Tensor out = index_select(x, dim, index);
            Shape s = x.sizes();
            s[size_t(d)] = index.numel();
            check_against(out, s, dt, [&](const Shape& i) {
              Shape xi = i;
              xi[size_t(d)] = get_index(index, {i[size_t(d)]});
              return get(x, xi);
            });
          }
        }
      }
}

TEST_CASE("index_select: embedding lookup fast path, 0-d index, 0-d x, size 0") {
  Tensor w = make(DType::Float32, {10, 8}, 3);
  Tensor ids = tensor<int64_t>({3, 3, 9, 0, 5}, {5});
  Tensor e = index_select(w, 0, ids);
  check_against(e, {5, 8}, DType::Float32, [&](const Shape& i) { return get(w, {get_index(ids, {i[0]}), i[1]}); });

  Tensor scalar_idx = tensor<int32_t>({2}, {});
  Tensor r = index_select(w, 1, scalar_idx);
  check_against(r, {10, 1}, DType::Float32, [&](const Shape& i) { return get(w, {i[0], 2}); });

  Tensor x0 = tensor<double>({4.5}, {});
  Tensor y0 = index_select(x0, 0, tensor<int64_t>({0}, {1}));
  CHECK(y0.dim() == 0);
  CHECK(y0.item<double>() == 4.5);
  expect_error([&] { index_select(x0, 0, tensor<int64_t>({1}, {1})); }, {"index_select", "index 1"});

  Tensor empty_idx = tensor<int64_t>(std::vector<int64_t>{}, {0});
  CHECK(index_select(w, 0, empty_idx).sizes() == Shape{0, 8});
  CHECK(index_select(w, 1, empty_idx).sizes() == Shape{10, 0});
  Tensor wz = make(DType::Float32, {0, 8}, 3);
  CHECK(index_select(wz, 1, ids).sizes() == Shape{0, 5});
}

TEST_CASE("index_select: out-of-range and negative indices throw") {
  Tensor x = make(DType::Float32, {4, 5}, 2);
  expect_error([&] { index_select(x, 1, tensor<int64_t>({0, 5, 1}, {3})); },
               {"index_select", "index 5", "dim 1", "size 5", "0 <= index < 5"});
  expect_error([&] { index_select(x, 0, tensor<int32_t>({-1}, {1})); }, {"index_select", "index -1", "dim 0"});
  expect_error([&] { index_select(x.t(), -1, tensor<int64_t>({2, 4}, {2})); }, {"index_select", "index 4"});
  // Size-0 dim: no index is valid.
  Tensor z = make(DType::Float32, {4, 0}, 2);
  expect_error([&] { index_select(z, 1, tensor<int64_t>({0}, {1})); }, {"index_select", "index 0", "size 0"});
}

// ---------------------------------------------------------------- gather

TEST_CASE("gather: every dtype and dim, strided x and index, smaller index") {
  for (DType dt : kAllDTypes)
    for (DType it : {DType::Int32, DType::Int64})
      for (int64_t dim : {0, 1, 2, -1}) {
        CAPTURE(dt);
        CAPTURE(it);
        CAPTURE(dim);
        Tensor base = make(dt, {4, 5, 6}, 11);
        std::vector<Tensor> xs = {base, base.transpose(0, 2), base.slice(1, 0, 5, 2)};
        for (const Tensor& x : xs) {
          int64_t d = wrap(dim, 3);
          Shape is = x.sizes();
          is[size_t(d)] = 7;  // larger than x along dim is allowed
          for (int64_t k = 0; k < 3; ++k)
            if (k != d && is[size_t(k)] > 1) is[size_t(k)] -= 1;  // smaller elsewhere
          Tensor index = make_index(it, is, x.size(d), 5);
          // transposed index with the same shape
          Shape ts = {is[2], is[1], is[0]};
          Tensor index_t = make_index(it, ts, x.size(d), 9).transpose(0, 2);
          for (const Tensor& ix : {index, index_t}) {
            Tensor out = gather(x, dim, ix);
            check_against(out, is, dt, [&](const Shape& i) { return gather_ref(x, d, ix, i); });
          }
        }
      }
}

TEST_CASE("gather: last-dim fast path (cross-entropy picks), expanded index, 0-d, size 0") {
  Tensor logits = make(DType::Float32, {6, 10}, 4);
  Tensor target = make_index(DType::Int64, {6, 1}, 10, 8);
  Tensor picked = gather(logits, -1, target);
  check_against(picked, {6, 1}, DType::Float32, [&](const Shape& i) { return gather_ref(logits, 1, target, i); });

  Tensor col = make_index(DType::Int32, {1, 3}, 6, 2).expand({4, 3});  // stride 0 along dim 0
  Tensor x = make(DType::Int64, {6, 3}, 6);
  check_against(gather(x, 0, col), {4, 3}, DType::Int64, [&](const Shape& i) { return gather_ref(x, 0, col, i); });

  Tensor x0 = tensor<float>({2.5f}, {});
  CHECK(gather(x0, 0, tensor<int64_t>({0}, {})).item<float>() == 2.5f);

  CHECK(gather(x, 1, make_index(DType::Int64, {6, 0}, 3, 1)).sizes() == Shape{6, 0});
}

TEST_CASE("gather: out-of-range and negative indices throw") {
  Tensor x = make(DType::Float64, {3, 5}, 2);
  expect_error([&] { gather(x, 1, tensor<int64_t>({0, 1, 7, 2, 3, 4}, {3, 2})); },
               {"gather", "index 7", "dim 1", "size 5", "0 <= index < 5"});
  expect_error([&] { gather(x, 0, tensor<int32_t>({0, -2}, {1, 2})); }, {"gather", "index -2", "dim 0"});
  // the general (transposed) path checks too
  expect_error([&] { gather(x.t(), -1, tensor<int64_t>({3, 0}, {2, 1})); }, {"gather", "index 3", "dim 1"});
}

// ---------------------------------------------------------------- scatter_add

TEST_CASE("scatter_add: every dtype and dim, duplicates, smaller index, strided operands") {
  for (DType dt : kAllDTypes)
    for (DType it : {DType::Int32, DType::Int64})
      for (int64_t dim : {0, 1, 2, -2}) {
        CAPTURE(dt);
        CAPTURE(it);
        CAPTURE(dim);
        int64_t d = wrap(dim, 3);
        Tensor xbase = make(dt, {5, 4, 6}, 21);
        Tensor srcbase = make(dt, {6, 4, 7}, 22);
        std::vector<std::pair<Tensor, Tensor>> cases = {
            {xbase, srcbase.slice(0, 0, 5).slice(2, 0, 6)},            // contiguous x, sliced src
            {xbase.transpose(0, 2), srcbase.transpose(0, 2)},          // transposed x and src
            {xbase.slice(2, 0, 6, 2), srcbase},                        // strided x, larger src
        };
        for (auto& [x, src] : cases) {
          Shape is = src.sizes();
          for (int64_t k = 0; k < 3; ++k) is[size_t(k)] = std::min(is[size_t(k)], k == d ? 9 : x.size(k)) - (k == 1);
          for (bool transposed_index : {false, true}) {
            Tensor index;
            if (transposed_index)
              index = make_index(it, {is[2], is[1], is[0]}, x.size(d), 31).transpose(0, 2);
            else
              index = make_index(it, is, x.size(d), 32);
            Tensor out = scatter_add(x, dim, index, src);
            // reference: accumulate in the dtype's compute type, in index order
            visit_dtype(dt, [&]<typename T>() {
              std::vector<double> acc(static_cast<size_t>(x.numel()));
              Shape xs = contiguous_strides(x.sizes());
              auto flat = [&](const Shape& i) {
                int64_t f = 0;
                for (size_t k = 0; k < i.size(); ++k) f += i[k] * xs[k];
                return f;
              };
              for_each_index(x.sizes(), [&](const Shape& i) { acc[size_t(flat(i))] = get(x, i); });
              for_each_index(is, [&](const Shape& i) {
                Shape o = i;
                o[size_t(d)] = get_index(index, i);
                double& a = acc[size_t(flat(o))];
                a = double(T(compute_t<T>(T(a)) + compute_t<T>(T(get(src, i)))));
              });
              check_against(out, x.sizes(), dt, [&](const Shape& i) { return acc[size_t(flat(i))]; });
            });
          }
        }
      }
}

TEST_CASE("scatter_add: size-0 index copies x; 0-d; errors leave x untouched") {
  Tensor x = make(DType::Float32, {3, 4}, 1);
  Tensor src = make(DType::Float32, {3, 4}, 2);
  check_equal(scatter_add(x, 1, make_index(DType::Int64, {3, 0}, 4, 1), src), x);
  check_equal(scatter_add(x.t(), 0, make_index(DType::Int64, {0, 3}, 4, 1), src.t()), x.t());

  Tensor x0 = tensor<double>({1.5}, {}), s0 = tensor<double>({2.0}, {});
  CHECK(scatter_add(x0, 0, tensor<int64_t>({0}, {}), s0).item<double>() == 3.5);

  std::vector<double> before;
  for_each_index(x.sizes(), [&](const Shape& i) { before.push_back(get(x, i)); });
  expect_error([&] { scatter_add(x, 1, tensor<int64_t>({0, 4}, {1, 2}), src); },
               {"scatter_add", "index 4", "dim 1", "0 <= index < 4"});
  expect_error([&] { scatter_add(x, 0, tensor<int32_t>({1, -1}, {1, 2}), src); }, {"scatter_add", "index -1", "dim 0"});
  std::vector<double> after;
  for_each_index(x.sizes(), [&](const Shape& i) { after.push_back(get(x, i)); });
  CHECK(after == before);
}

TEST_CASE("scatter_add: integer sums wrap like two's complement, as on CUDA") {
  // Signed overflow in the accumulation was undefined behaviour (UBSan stops on it).
  const int64_t big = std::numeric_limits<int64_t>::max();
  Tensor x = tensor<int64_t>({big, 0}, {2});
  Tensor y = scatter_add(x, 0, tensor<int64_t>({0, 0, 1}, {3}), tensor<int64_t>({1, 1, -1}, {3}));
  CHECK(y.to_vector<int64_t>() == std::vector<int64_t>{std::numeric_limits<int64_t>::min() + 1, -1});
  Tensor x32 = tensor<int32_t>({std::numeric_limits<int32_t>::max()}, {1});
  CHECK(scatter_add(x32, 0, tensor<int64_t>({0}, {1}), tensor<int32_t>({2}, {1})).item<int32_t>() ==
        std::numeric_limits<int32_t>::min() + 1);
}

// ---------------------------------------------------------------- cat / stack

TEST_CASE("cat: along each dim, every dtype, strided and size-0 inputs") {
  for (DType dt : kAllDTypes)
    for (int64_t dim : {0, 1, 2, -1}) {
      CAPTURE(dt);
      CAPTURE(dim);
      int64_t d = wrap(dim, 3);
      Shape sa = {3, 4, 5}, sb = sa, sc = sa, se = sa;
      sb[size_t(d)] = 2;
      sc[size_t(d)] = 4;
      se[size_t(d)] = 0;
      Tensor a = make(dt, sa, 1);
      Tensor b = make(dt, {sb[2], sb[1], sb[0]}, 2).transpose(0, 2);  // non-contiguous
      Shape sc2 = sc;
      sc2[1] *= 2;
      Tensor c = make(dt, sc2, 3).slice(1, 0, sc2[1], 2);  // strided slice
      Tensor e = make(dt, se, 4);
      std::vector<Tensor> parts = {a, e, b, c, a};
      Tensor out = cat(parts, dim);
      Shape so = sa;
      so[size_t(d)] = 2 * sa[size_t(d)] + sb[size_t(d)] + sc[size_t(d)];
      check_against(out, so, dt, [&](const Shape& i) {
        int64_t p = i[size_t(d)];
        for (const Tensor& t : parts) {
          if (p < t.size(d)) {
            Shape ti = i;
            ti[size_t(d)] = p;
            return get(t, ti);
          }
          p -= t.size(d);
        }
        return -999.0;
      });
    }
}

TEST_CASE("cat: mixed dtypes promote and convert") {
  Tensor i32 = tensor<int32_t>({1, -2, 3, 4}, {2, 2});
  Tensor f32 = tensor<float>({0.5f, 1.5f}, {1, 2});
  Tensor b = tensor<bool>({true, false}, {1, 2});
  Tensor out = cat({i32, f32, b}, 0);
  CHECK(out.dtype() == DType::Float32);
  CHECK(out.to_vector<float>() == std::vector<float>{1, -2, 3, 4, 0.5f, 1.5f, 1, 0});

  Tensor i64 = tensor<int64_t>({7, 8}, {2, 1});
  Tensor out2 = cat({b.t(), i64}, 1);  // bool + int64 -> int64, strided bool
  CHECK(out2.dtype() == DType::Int64);
  CHECK(out2.to_vector<int64_t>() == std::vector<int64_t>{1, 7, 0, 8});

  Tensor h = tensor<Half>({Half(1.5f), Half(-2.0f)}, {2});
  Tensor bf = tensor<BFloat16>({BFloat16(3.0f)}, {1});
  Tensor out3 = cat({h, bf}, 0);  // float16 + bfloat16 -> float32
  CHECK(out3.dtype() == DType::Float32);
  CHECK(out3.to_vector<float>() == std::vector<float>{1.5f, -2.0f, 3.0f});

  Tensor d = tensor<double>({0.25}, {1});
  Tensor out4 = cat({h, d, tensor<int32_t>({5}, {1})}, -1);
  CHECK(out4.dtype() == DType::Float64);
  CHECK(out4.to_vector<double>() == std::vector<double>{1.5, -2.0, 0.25, 5.0});

  Tensor bb = cat({b, b.slice(1, 1, 2)}, 1);  // bool stays bool
  CHECK(bb.dtype() == DType::Bool);
  CHECK(bb.to_vector<bool>() == std::vector<bool>{true, false, false});
}

TEST_CASE("stack: new dim at each position") {
  Tensor a = make(DType::Float32, {3, 4}, 1), b = make(DType::Float32, {4, 3}, 2).t(), c = make(DType::Float32, {3, 4}, 3);
  for (int64_t dim : {0, 1, 2, -1}) {
    CAPTURE(dim);
    int64_t d = wrap(dim, 3);
    Tensor out = stack({a, b, c}, dim);
    Shape s = {3, 4};
    s.insert(s.begin() + d, 3);
    check_against(out, s, DType::Float32, [&](const Shape& i) {
      Shape ti = i;
      int64_t which = ti[size_t(d)];
      ti.erase(ti.begin() + d);
      return get(which == 0 ? a : which == 1 ? b : c, ti);
    });
  }
  Tensor s0 = stack({tensor<int64_t>({1}, {}), tensor<int64_t>({2}, {})}, 0);
  CHECK(s0.to_vector<int64_t>() == std::vector<int64_t>{1, 2});
}

// ---------------------------------------------------------------- one_hot

TEST_CASE("one_hot: shapes, index dtypes, strided index, errors") {
  for (DType it : {DType::Int32, DType::Int64}) {
    Tensor idx = make_index(it, {4, 3}, 5, 3);
    for (const Tensor& ix : {idx, idx.t(), idx.slice(1, 0, 3, 2)}) {
      Tensor out = one_hot(ix, 5);
      Shape s = ix.sizes();
      s.push_back(5);
      check_against(out, s, DType::Int64, [&](const Shape& i) {
        Shape ii(i.begin(), i.end() - 1);
        return get_index(ix, ii) == i.back() ? 1.0 : 0.0;
      });
    }
  }
  CHECK(one_hot(tensor<int64_t>({2}, {}), 3).to_vector<int64_t>() == std::vector<int64_t>{0, 0, 1});
  CHECK(one_hot(tensor<int64_t>(std::vector<int64_t>{}, {0}), 3).sizes() == Shape{0, 3});
  expect_error([&] { one_hot(tensor<int64_t>({0, 3}, {2}), 3); }, {"one_hot", "index 3", "0 <= index < 3"});
  expect_error([&] { one_hot(tensor<int32_t>({-1}, {1}), 3); }, {"one_hot", "index -1"});
}

// ---------------------------------------------------------------- threads

TEST_CASE("1 and 2 threads agree bit for bit") {
  int saved = get_num_threads();
  auto run_all = [&] {
    std::vector<Tensor> r;
    Tensor emb = make(DType::Float32, {1000, 64}, 1);
    Tensor ids = make_index(DType::Int64, {4000}, 1000, 2);
    r.push_back(index_select(emb, 0, ids));
    r.push_back(index_select(emb.t(), 1, ids));
    Tensor logits = make(DType::Float32, {20000, 10}, 3);
    Tensor tgt = make_index(DType::Int32, {20000, 1}, 10, 4);
    r.push_back(gather(logits, 1, tgt));
    r.push_back(gather(logits.t(), 0, make_index(DType::Int64, {3, 20000}, 10, 5)));
    Tensor x = make(DType::Float32, {300, 200}, 6);
    Tensor src = make(DType::Float32, {900, 200}, 7);
    r.push_back(scatter_add(x, 0, make_index(DType::Int64, {900, 200}, 300, 8), src));
    r.push_back(scatter_add(x.t(), 1, make_index(DType::Int64, {200, 900}, 300, 9), src.t()));
    r.push_back(cat({emb, emb.t().t(), logits.slice(1, 0, 10).reshape({-1, 64}).slice(0, 0, 100)}, 0));
    r.push_back(cat({emb, emb.to(DType::Float32)}, 1));
    r.push_back(one_hot(ids.slice(0, 0, 1000), 1000));
    return r;
  };
  set_num_threads(1);
  std::vector<Tensor> one = run_all();
  set_num_threads(2);
  std::vector<Tensor> two = run_all();
  set_num_threads(saved);
  REQUIRE(one.size() == two.size());
  for (size_t k = 0; k < one.size(); ++k) {
    CAPTURE(k);
    REQUIRE(one[k].sizes() == two[k].sizes());
    size_t bytes = size_t(one[k].numel()) * one[k].element_size();
    CHECK(std::memcmp(one[k].data_ptr(), two[k].data_ptr(), bytes) == 0);
  }
}
