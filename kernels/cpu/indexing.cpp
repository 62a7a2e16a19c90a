// CPU kernels of the indexing and joining family: index_select, gather, scatter_add, cat
// and one_hot.
//
// Index values are only known once data exists, so every kernel checks each index against
// its valid range before it touches memory and throws duet::Error naming the op, the index,
// the dim and the range. Negative indices are rejected, as PyTorch's index_select/gather do.
//
// The copying ops (index_select, gather, cat) move elements as raw bytes, so one code path
// per element size serves every dtype. All of them walk their operands with an Odometer
// over the outer dims and an explicit inner loop, so any strides work (transposed, sliced,
// expanded views). Fast paths:
//   - index_select of a contiguous x with rows of >= 16 bytes: one memcpy per selected row
//     (the embedding lookup);
//   - gather along the last dim of contiguous tensors (one logit per row in cross-entropy):
//     a flat double loop without the odometer;
//   - cat of contiguous same-dtype inputs: one memcpy per outer row (split by bytes when
//     there is a single big row).
// scatter_add stays deterministic under threading: threads own disjoint slices of the
// dims other than `dim` and each output element is accumulated in index order.
#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/kernels.h"

namespace duet::cpu {
namespace {

constexpr int64_t kGrainElems = 32768;  // elements of work below which threads do not pay

int64_t rows_grain(int64_t row_len) { return std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, row_len)); }

[[noreturn, gnu::cold, gnu::noinline]] void throw_bad_index(const char* op, int64_t v, int64_t dim,
                                                            int64_t size) {
  DUET_FAIL(op, ": index ", v, " is out of range for dim ", dim, " with size ", size, " (expected 0 <= index < ",
            size, ")");
}

// One unsigned compare rejects both negative and too-large values.
inline void check_index(const char* op, int64_t v, int64_t dim, int64_t size) {
  if (uint64_t(v) >= uint64_t(size)) [[unlikely]]
    throw_bad_index(op, v, dim, size);
}

template <typename F>
decltype(auto) visit_index(DType t, F&& f) {
  if (t == DType::Int32) return f.template operator()<int32_t>();
  DUET_ASSERT(t == DType::Int64, "index tensors are int32 or int64");
  return f.template operator()<int64_t>();
}

// Element size as a compile-time constant for the byte-copying paths.
template <typename F>
decltype(auto) visit_elem_size(size_t n, F&& f) {
  switch (n) {
    case 1: return f.template operator()<1>();
    case 2: return f.template operator()<2>();
    case 4: return f.template operator()<4>();
    case 8: return f.template operator()<8>();
  }
  DUET_ASSERT(false, "unexpected element size ", n);
}

// Sizes and strides of a tensor with 0-D tensors seen as [1], so loops always have a
// last dim.
struct Dims {
  Shape sizes;
  Shape strides;  // in elements
};
Dims dims_of(const Tensor& t) {
  if (t.dim() == 0) return {{1}, {1}};
  return {t.sizes(), t.strides()};
}
Shape scaled(Shape s, int64_t factor) {
  for (int64_t& v : s) v *= factor;
  return s;
}

// Walks positions of a set of dims in row-major order and tracks K offsets (units are
// the caller's: bytes or elements per operand).
template <int K>
class Odometer {
 public:
  void add_dim(int64_t size, const std::array<int64_t, K>& strides) {
    DUET_ASSERT(nd_ < kMaxDims, "too many dims");
    size_[nd_] = size;
    for (int k = 0; k < K; ++k) stride_[k][nd_] = strides[k];
    ++nd_;
  }
  int64_t count() const {
    int64_t n = 1;
    for (int d = 0; d < nd_; ++d) n *= size_[d];
    return n;
  }
  void seek(int64_t linear) {
    off_.fill(0);
    for (int d = nd_ - 1; d >= 0; --d) {
      pos_[d] = linear % size_[d];
      linear /= size_[d];
      for (int k = 0; k < K; ++k) off_[k] += pos_[d] * stride_[k][d];
    }
  }
  void next() {
    for (int d = nd_ - 1; d >= 0; --d) {
      for (int k = 0; k < K; ++k) off_[k] += stride_[k][d];
      if (++pos_[d] < size_[d]) return;
      for (int k = 0; k < K; ++k) off_[k] -= stride_[k][d] * size_[d];
      pos_[d] = 0;
    }
  }
  int64_t off(int k) const { return off_[k]; }

 private:
  int nd_ = 0;
  std::array<int64_t, kMaxDims> size_{};
  std::array<std::array<int64_t, kMaxDims>, K> stride_{};
  std::array<int64_t, kMaxDims> pos_{};
  std::array<int64_t, K> off_{};
};

// ---------------------------------------------------------------- strided copy / convert

template <typename To, typename From>
inline To convert(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else {
    auto c = static_cast<compute_t<From>>(v);
    if constexpr (std::is_same_v<To, bool>) return c != compute_t<From>(0);
    else if constexpr (std::is_same_v<To, Half> || std::is_same_v<To, BFloat16>) return To(static_cast<float>(c));
    else return static_cast<To>(c);
  }
}

// dst[p] = src[p] for every position p of `shape` (byte strides), converting from
// src_dt to dst_dt. Threads split the outer rows.
void copy_strided(const Shape& shape, char* dst, DType dst_dt, const Shape& dst_st, const char* src, DType src_dt,
                  const Shape& src_st) {
  int last = int(shape.size()) - 1;
  Odometer<2> od;
  for (int d = 0; d < last; ++d) od.add_dim(shape[d], {dst_st[d], src_st[d]});
  int64_t n = shape[last], ds = dst_st[last], ss = src_st[last];
  int64_t rows = od.count();
  if (rows * n == 0) return;
  auto body = [&](auto&& inner) {
    parallel_for(0, rows, rows_grain(n), [&](int64_t lo, int64_t hi) {
      Odometer<2> it = od;
      it.seek(lo);
      for (int64_t r = lo; r < hi; ++r, it.next()) inner(dst + it.off(0), src + it.off(1));
    });
  };
  if (dst_dt == src_dt) {
    visit_elem_size(dtype_size(dst_dt), [&]<size_t N>() {
      if (ds == int64_t(N) && ss == int64_t(N)) {
        body([&](char* o, const char* s) { std::memcpy(o, s, size_t(n) * N); });
      } else {
        body([&](char* o, const char* s) {
          for (int64_t j = 0; j < n; ++j) std::memcpy(o + j * ds, s + j * ss, N);
        });
      }
    });
    return;
  }
  visit_dtype(dst_dt, [&]<typename To>() {
    visit_dtype(src_dt, [&]<typename From>() {
      body([&](char* o, const char* s) {
        for (int64_t j = 0; j < n; ++j) {
          From v;
          std::memcpy(&v, s + j * ss, sizeof(From));
          To w = convert<To, From>(v);
          std::memcpy(o + j * ds, &w, sizeof(To));
        }
      });
    });
  });
}

// ---------------------------------------------------------------- gather machinery

// out[p] = x[p with p[dim] replaced by idx[p]] over `shape` (index-shaped), with byte
// strides for out and x and element strides for idx. x's stride along `dim` only
// applies to the index value.
struct GatherPlan {
  const char* op;
  Shape shape;
  int64_t dim;
  char* out;
  Shape out_st;
  const char* x;
  Shape x_st;
  int64_t x_dim_size;
  const void* idx;
  Shape idx_st;
};

template <size_t N, typename I>
void run_gather(const GatherPlan& p) {
  int last = int(p.shape.size()) - 1;
  Odometer<3> od;  // out bytes, idx elements, x bytes
  for (int d = 0; d < last; ++d) od.add_dim(p.shape[d], {p.out_st[d], p.idx_st[d], d == p.dim ? 0 : p.x_st[d]});
  int64_t n = p.shape[last];
  int64_t os = p.out_st[last], is = p.idx_st[last], xs = last == p.dim ? 0 : p.x_st[last];
  int64_t xsd = p.x_st[p.dim], lim = p.x_dim_size, dim = p.dim;
  const char* op = p.op;
  const I* idx = static_cast<const I*>(p.idx);
  parallel_for(0, od.count(), rows_grain(n), [&](int64_t lo, int64_t hi) {
    Odometer<3> it = od;
    it.seek(lo);
    for (int64_t r = lo; r < hi; ++r, it.next()) {
      char* o = p.out + it.off(0);
      const I* ip = idx + it.off(1);
      const char* xp = p.x + it.off(2);
      for (int64_t j = 0; j < n; ++j) {
        int64_t v = ip[j * is];
        check_index(op, v, dim, lim);
        std::memcpy(o + j * os, xp + j * xs + v * xsd, N);
      }
    }
  });
}

void gather_any(const GatherPlan& p, size_t esize, DType idx_dt) {
  visit_elem_size(esize, [&]<size_t N>() { visit_index(idx_dt, [&]<typename I>() { run_gather<N, I>(p); }); });
}

// ---------------------------------------------------------------- scatter_add

template <typename T, typename I>
void run_scatter_add(T* out, const Shape& out_st, const Dims& idx_d, const I* idx, const Dims& src_d, const T* src,
                     int64_t dim, int64_t lim) {
  const Shape& shape = idx_d.sizes;
  int last = int(shape.size()) - 1;
  int64_t n = shape[dim];
  int64_t isd = idx_d.strides[dim], ssd = src_d.strides[dim], osd = out_st[dim];
  auto add_at = [&](int64_t o_off, int64_t i_off, int64_t s_off) {
    int64_t v = idx[i_off];
    check_index("scatter_add", v, dim, lim);
    T& dst = out[o_off + v * osd];
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)  // wraps (as CUDA's), no signed overflow
      dst = T(std::make_unsigned_t<T>(dst) + std::make_unsigned_t<T>(src[s_off]));
    else
      dst = T(compute_t<T>(dst) + compute_t<T>(src[s_off]));
  };
  if (dim == last) {
    // Each outer row owns its output row; accumulate along dim in order.
    Odometer<3> od;  // out, idx, src (elements)
    for (int d = 0; d < last; ++d) od.add_dim(shape[d], {out_st[d], idx_d.strides[d], src_d.strides[d]});
    parallel_for(0, od.count(), rows_grain(n), [&](int64_t lo, int64_t hi) {
      Odometer<3> it = od;
      it.seek(lo);
      for (int64_t r = lo; r < hi; ++r, it.next())
        for (int64_t i = 0; i < n; ++i) add_at(it.off(0), it.off(1) + i * isd, it.off(2) + i * ssd);
    });
    return;
  }
  // dim is not the last dim: work units are (outer position, block of the last dim);
  // within a unit, loop i along dim outside and the contiguous-ish last dim inside.
  constexpr int64_t kBlock = 512;
  Odometer<3> od;
  for (int d = 0; d < last; ++d)
    if (d != dim) od.add_dim(shape[d], {out_st[d], idx_d.strides[d], src_d.strides[d]});
  int64_t m = shape[last];
  int64_t osl = out_st[last], isl = idx_d.strides[last], ssl = src_d.strides[last];
  int64_t nblocks = (m + kBlock - 1) / kBlock;
  int64_t units = od.count() * nblocks;
  parallel_for(0, units, std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, n * std::min(m, kBlock))),
               [&](int64_t lo, int64_t hi) {
                 Odometer<3> it = od;
                 for (int64_t u = lo; u < hi; ++u) {
                   it.seek(u / nblocks);
                   int64_t j0 = (u % nblocks) * kBlock, j1 = std::min(m, j0 + kBlock);
                   for (int64_t i = 0; i < n; ++i)
                     for (int64_t j = j0; j < j1; ++j)
                       add_at(it.off(0) + j * osl, it.off(1) + i * isd + j * isl, it.off(2) + i * ssd + j * ssl);
                 }
               });
}

}  // namespace

// ---------------------------------------------------------------- index_select

void index_select_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  const Tensor &x = inputs[0], &index = inputs[1];
  const char* op = "index_select";
  size_t esize = x.element_size();
  char* o = static_cast<char*>(out.data_ptr());
  const char* xp = static_cast<const char*>(x.data_ptr());
  int64_t count = index.numel();

  // Indices are few next to the rows they pick: read and check them all up front.
  std::vector<int64_t> vals(static_cast<size_t>(count));
  visit_index(index.dtype(), [&]<typename I>() {
    const I* ip = index.data<I>();
    int64_t st = index.dim() == 0 ? 0 : index.stride(0);
    for (int64_t i = 0; i < count; ++i) vals[size_t(i)] = ip[i * st];
  });

  if (x.dim() == 0) {
    DUET_CHECK(count == 1, "index_select: a 0-dim input takes an index with exactly one value, got ",
               index.sizes());
    check_index(op, vals[0], 0, 1);
    std::memcpy(o, xp, esize);
    return;
  }
  int64_t dim = wrap_dim(attrs.get<int64_t>("dim"), x.dim(), op);
  int64_t lim = x.size(dim);
  for (int64_t v : vals) check_index(op, v, dim, lim);

  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= x.size(d);
  for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
  size_t row_bytes = size_t(inner) * esize;
  if (x.is_contiguous() && row_bytes >= 16) {
    // Contiguous rows: one memcpy per (outer, selected index).
    parallel_for(0, outer * count, rows_grain(inner), [&](int64_t lo, int64_t hi) {
      for (int64_t u = lo; u < hi; ++u) {
        int64_t ob = u / count, j = u % count;
        std::memcpy(o + size_t(u) * row_bytes, xp + size_t(ob * lim + vals[size_t(j)]) * row_bytes, row_bytes);
      }
    });
    return;
  }
  // General strides: a gather whose index is `vals` broadcast along every other dim.
  GatherPlan p{op, out.sizes(), dim, o, scaled(out.strides(), int64_t(esize)), xp, scaled(x.strides(), int64_t(esize)),
               lim, vals.data(), Shape(size_t(x.dim()), 0)};
  p.idx_st[size_t(dim)] = 1;
  gather_any(p, esize, DType::Int64);
}

// ---------------------------------------------------------------- gather

void gather_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  const Tensor &x = inputs[0], &index = inputs[1];
  const char* op = "gather";
  int64_t dim = wrap_dim(attrs.get<int64_t>("dim"), std::max<int64_t>(x.dim(), 1), op);
  size_t esize = x.element_size();
  Dims xd = dims_of(x), id = dims_of(index);
  int last = int(id.sizes.size()) - 1;
  char* o = static_cast<char*>(out.data_ptr());
  const char* xp = static_cast<const char*>(x.data_ptr());

  bool same_outer = true;
  for (int d = 0; d < last; ++d) same_outer = same_outer && id.sizes[d] == xd.sizes[d];
  if (dim == last && same_outer && x.is_contiguous() && index.is_contiguous()) {
    // One pick per row along the last dim (cross-entropy): flat loops, no odometer.
    int64_t k = id.sizes[last], xl = xd.sizes[last];
    int64_t rows = index.numel() / k;
    visit_elem_size(esize, [&]<size_t N>() {
      visit_index(index.dtype(), [&]<typename I>() {
        const I* ip = index.data<I>();
        parallel_for(0, rows, rows_grain(k), [&](int64_t lo, int64_t hi) {
          for (int64_t r = lo; r < hi; ++r)
            for (int64_t j = 0; j < k; ++j) {
              int64_t v = ip[r * k + j];
              check_index(op, v, dim, xl);
              std::memcpy(o + size_t(r * k + j) * N, xp + size_t(r * xl + v) * N, N);
            }
        });
      });
    });
    return;
  }
  GatherPlan p{op,
               id.sizes,
               dim,
               o,
               scaled(contiguous_strides(id.sizes), int64_t(esize)),
               xp,
               scaled(xd.strides, int64_t(esize)),
               xd.sizes[size_t(dim)],
               index.data_ptr(),
               id.strides};
  gather_any(p, esize, index.dtype());
}

// ---------------------------------------------------------------- scatter_add

void scatter_add_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  const Tensor &x = inputs[0], &index = inputs[1], &src = inputs[2];
  int64_t dim = wrap_dim(attrs.get<int64_t>("dim"), std::max<int64_t>(x.dim(), 1), "scatter_add");
  Dims xd = dims_of(x), od{xd.sizes, contiguous_strides(xd.sizes)};
  int64_t esize = int64_t(x.element_size());
  copy_strided(xd.sizes, static_cast<char*>(out.data_ptr()), out.dtype(), scaled(od.strides, esize),
               static_cast<const char*>(x.data_ptr()), x.dtype(), scaled(xd.strides, esize));
  if (index.numel() == 0) return;
  Dims id = dims_of(index), sd = dims_of(src);
  visit_dtype(x.dtype(), [&]<typename T>() {
    visit_index(index.dtype(), [&]<typename I>() {
      run_scatter_add<T, I>(out.data<T>(), od.strides, id, index.data<I>(), sd, src.data<T>(), dim,
                            xd.sizes[size_t(dim)]);
    });
  });
}

// ---------------------------------------------------------------- cat

void cat_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  int64_t dim = wrap_dim(attrs.get<int64_t>("dim"), out.dim(), "cat");
  int64_t esize = int64_t(out.element_size());
  char* o = static_cast<char*>(out.data_ptr());
  Shape out_st = scaled(out.strides(), esize);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= out.size(d);
  for (int64_t d = dim + 1; d < out.dim(); ++d) inner *= out.size(d);
  int64_t offset = 0;  // position along dim where the current input starts
  for (const Tensor& t : inputs) {
    int64_t len = t.size(dim);
    char* dst = o + offset * out_st[size_t(dim)];
    offset += len;
    if (t.numel() == 0) continue;
    const char* sp = static_cast<const char*>(t.data_ptr());
    if (t.dtype() == out.dtype() && t.is_contiguous()) {
      size_t block = size_t(len * inner * esize), out_row = size_t(out.size(dim) * inner * esize);
      if (outer == 1) {
        constexpr int64_t kChunk = 1 << 18;  // bytes
        int64_t chunks = int64_t((block + kChunk - 1) / kChunk);
        parallel_for(0, chunks, 1, [&](int64_t lo, int64_t hi) {
          size_t b0 = size_t(lo * kChunk), b1 = std::min(block, size_t(hi * kChunk));
          std::memcpy(dst + b0, sp + b0, b1 - b0);
        });
      } else {
        parallel_for(0, outer, rows_grain(int64_t(block) / esize), [&](int64_t lo, int64_t hi) {
          for (int64_t r = lo; r < hi; ++r) std::memcpy(dst + size_t(r) * out_row, sp + size_t(r) * block, block);
        });
      }
      continue;
    }
    copy_strided(t.sizes(), dst, out.dtype(), out_st, sp, t.dtype(), scaled(t.strides(), int64_t(t.element_size())));
  }
}

// ---------------------------------------------------------------- one_hot

void one_hot_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  const Tensor& index = inputs[0];
  int64_t classes = attrs.get<int64_t>("num_classes");
  int64_t* o = out.data<int64_t>();
  Dims id = dims_of(index);
  int last = int(id.sizes.size()) - 1;
  Odometer<1> od;
  for (int d = 0; d < last; ++d) od.add_dim(id.sizes[d], {id.strides[d]});
  int64_t n = id.sizes[last], is = id.strides[last];
  visit_index(index.dtype(), [&]<typename I>() {
    const I* ip = index.data<I>();
    parallel_for(0, od.count(), rows_grain(n * classes), [&](int64_t lo, int64_t hi) {
      std::memset(o + lo * n * classes, 0, size_t((hi - lo) * n * classes) * sizeof(int64_t));
      Odometer<1> it = od;
      it.seek(lo);
      for (int64_t r = lo; r < hi; ++r, it.next()) {
        int64_t* row = o + r * n * classes;
        for (int64_t j = 0; j < n; ++j) {
          int64_t v = ip[it.off(0) + j * is];
          if (uint64_t(v) >= uint64_t(classes)) [[unlikely]]
            DUET_FAIL("one_hot: index ", v, " is out of range for num_classes ", classes, " (expected 0 <= index < ",
                      classes, ")");
          row[j * classes + v] = 1;
        }
      }
    });
  });
}

}  // namespace duet::cpu
