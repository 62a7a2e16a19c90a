// CUDA kernels of the indexing and joining family: index_select, gather, scatter_add, cat
// and one_hot, with the semantics, attrs and error messages of kernels/cpu/indexing.cpp.
//
// Index values out of range. Every op that takes an index first runs check_index_kernel
// over the whole index tensor: it records the row-major position of the first value
// outside [0, limit) (negative values are rejected, as on the CPU) with an atomicMin into
// an 8-byte device word, which the host reads back. That read is the one host
// synchronisation of these ops (a data-dependent error must be thrown before the op
// returns); only when a value is bad does the host read that value too and throw the
// CPU's duet::Error ("gather: index 7 is out of range for dim 1 with size 5 (expected
// 0 <= index < 5)"). No output memory is written before the check, and the copy kernels
// test every index again and skip bad ones, so they can never fault. Cost: one extra
// pass over the index and a host round trip per call (a few microseconds; it also means
// these ops cannot be captured into a CUDA graph as they are). cat takes no index and
// never synchronises.
//
// Layouts: every operand is walked through its own strides (Walk: dims coalesced where
// all operands allow, size-1 dims dropped, 32-bit div/mod when the element count fits),
// so transposed, sliced and expanded (0-stride) inputs work without copies.
//   index_select, gather  one output element per thread; elements move as raw bytes (one
//                         kernel per element size: 1, 2, 4, 8), index_select is a gather
//                         whose index is broadcast along every other dim.
//   scatter_add           one thread per line (a position of the dims other than `dim`):
//                         it walks the index along `dim` in order and adds into its own
//                         output line, which no other thread touches. No atomics, so float
//                         results are deterministic and, as each output element receives
//                         its contributions in the CPU's order with the CPU's rounding
//                         (16-bit floats round after every add), bit for bit the CPU's.
//                         Cost: parallelism is index.numel() / index.size(dim) threads and
//                         each runs index.size(dim) sequential steps, so a scatter of many
//                         values into few lines (a 1-D bincount) is serial on the GPU.
//   cat                   one launch per non-empty input: a cudaMemcpyAsync when the input
//                         is contiguous, of the output's dtype and fills a contiguous
//                         block of the output; otherwise the elementwise convert kernel
//                         (elementwise.cuh) into the output's slice (mixed dtypes convert
//                         with the CPU's rules, dev::copy_convert).
//   one_hot               one int64 output element per thread, writing 0 or 1 (no memset).
//
// Versions: v1 as above. Figures: not yet measured on a GPU.
#include <array>
#include <memory>

#include "core/storage.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/registration.h"

namespace duet::cuda {
namespace {

// ---------------------------------------------------------------- walks

// K stride sets over one shape, dims innermost first. Linear position i is the row-major
// position in the original shape (dropping size-1 dims and merging neighbours keep the
// row-major order).
template <int K>
struct Walk {
  int32_t ndim;   // >= 1
  bool index32;   // numel fits in int32: div/mod in 32 bits
  int64_t numel;
  int64_t sizes[kMaxDims];
  int64_t strides[K][kMaxDims];  // in elements
};

template <int K>
Walk<K> make_walk(const Shape& shape, const std::array<Shape, K>& st) {
  DUET_ASSERT(int64_t(shape.size()) <= kMaxDims, "walk of ", shape.size(), " dims");
  Walk<K> w{};
  w.numel = numel_of(shape);
  w.ndim = ew::coalesce_dims<K>(shape, st.data(), w.sizes, w.strides);
  w.index32 = w.numel <= INT32_MAX;
  return w;
}

// Element offsets of linear position `linear` (I: uint32_t when w.index32, else int64_t).
template <typename I, int K>
__host__ __device__ inline void walk_offsets(const Walk<K>& w, I linear, int64_t (&off)[K]) {
  ew::coalesced_offsets<int64_t>(w.ndim, w.sizes, w.strides, linear, off);
}

// Sizes and strides with a 0-D tensor seen as [1] (as the CPU's dims_of).
Shape sizes_of(const Tensor& t) { return t.dim() == 0 ? Shape{1} : t.sizes(); }
Shape strides_of(const Tensor& t) { return t.dim() == 0 ? Shape{1} : t.strides(); }

__device__ inline int64_t load_index(const void* p, int64_t off, bool idx64) {
  return idx64 ? static_cast<const int64_t*>(p)[off] : int64_t(static_cast<const int32_t*>(p)[off]);
}

// ---------------------------------------------------------------- index checks

// *first = min(*first, i) over the positions i whose value is outside [0, lim).
__global__ void check_index_kernel(Walk<1> w, const void* idx, bool idx64, uint64_t lim,
                                   unsigned long long* first) {
  const int64_t step = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < w.numel; i += step) {
    int64_t off[1];
    if (w.index32) walk_offsets<uint32_t>(w, uint32_t(i), off);
    else walk_offsets<int64_t>(w, i, off);
    if (uint64_t(load_index(idx, off[0], idx64)) >= lim) atomicMin(first, static_cast<unsigned long long>(i));
  }
}

struct BadIndex {
  bool found = false;
  int64_t value = 0;
};

// The first value (row-major over `w`) of the index outside [0, lim). Synchronises the
// stream: the result must reach the host before the op may write or return.
BadIndex find_bad_index(const Walk<1>& w, const void* idx, DType idx_dt, int64_t lim, Device dev) {
  DUET_ASSERT(idx_dt == DType::Int64 || idx_dt == DType::Int32, "index tensors are int32 or int64");
  if (w.numel == 0) return {};
  const bool idx64 = idx_dt == DType::Int64;
  Storage scratch(sizeof(unsigned long long), dev);
  auto* first = static_cast<unsigned long long*>(scratch.data());
  cudaStream_t s = current_stream();
  DUET_CUDA_CHECK(cudaMemsetAsync(first, 0xff, sizeof(unsigned long long), s));
  check_index_kernel<<<grid_for(w.numel), kThreads, 0, s>>>(w, idx, idx64, uint64_t(lim), first);
  DUET_CUDA_CHECK_LAUNCH();
  unsigned long long pos = 0;
  DUET_CUDA_CHECK(cudaMemcpyAsync(&pos, first, sizeof(pos), cudaMemcpyDeviceToHost, s));
  DUET_CUDA_CHECK(cudaStreamSynchronize(s));  // host read of the check's result
  if (pos == ~0ull) return {};
  // Error path only: read the offending value.
  int64_t off[1];
  walk_offsets<int64_t>(w, int64_t(pos), off);
  const size_t esize = idx64 ? 8 : 4;
  const char* src = static_cast<const char*>(idx) + off[0] * int64_t(esize);
  int64_t v64 = 0;
  int32_t v32 = 0;
  DUET_CUDA_CHECK(cudaMemcpyAsync(idx64 ? static_cast<void*>(&v64) : static_cast<void*>(&v32), src, esize,
                                  cudaMemcpyDeviceToHost, s));
  DUET_CUDA_CHECK(cudaStreamSynchronize(s));
  return {true, idx64 ? v64 : int64_t(v32)};
}

// The CPU's message (kernels/cpu/indexing.cpp, throw_bad_index).
void check_indices(const char* op, const Walk<1>& w, const void* idx, DType idx_dt, int64_t dim, int64_t size,
                   Device dev) {
  BadIndex bad = find_bad_index(w, idx, idx_dt, size, dev);
  if (bad.found)
    DUET_FAIL(op, ": index ", bad.value, " is out of range for dim ", dim, " with size ", size,
              " (expected 0 <= index < ", size, ")");
}

Walk<1> index_walk(const Tensor& index) { return make_walk<1>(sizes_of(index), {strides_of(index)}); }

// ---------------------------------------------------------------- gather machinery

// out[o] = x[xo + v * x_dim_stride] with v = idx[io], (o, io, xo) = offsets of each
// position of the walk (operand 0: out, 1: idx, 2: x with its stride along dim zeroed).
struct GatherArgs {
  Walk<3> w;
  void* out;
  const void* x;
  const void* idx;
  bool idx64;
  int64_t lim;
  int64_t x_dim_stride;
};

template <typename W, typename I>
__device__ inline void gather_loop(const GatherArgs& a) {
  const int64_t step = int64_t(blockDim.x) * gridDim.x;
  W* out = static_cast<W*>(a.out);
  const W* x = static_cast<const W*>(a.x);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < a.w.numel; i += step) {
    int64_t off[3];
    walk_offsets<I>(a.w, I(i), off);
    const int64_t v = load_index(a.idx, off[1], a.idx64);
    if (uint64_t(v) < uint64_t(a.lim)) out[off[0]] = x[off[2] + v * a.x_dim_stride];  // checked before launch
  }
}

template <typename W>
__global__ void gather_kernel(GatherArgs a) {
  if (a.w.index32) gather_loop<W, uint32_t>(a);
  else gather_loop<W, int64_t>(a);
}

void launch_gather(const GatherArgs& a, size_t esize) {
  if (a.w.numel == 0) return;
  const int grid = grid_for(a.w.numel);
  cudaStream_t s = current_stream();
  switch (esize) {
    case 1: gather_kernel<uint8_t><<<grid, kThreads, 0, s>>>(a); break;
    case 2: gather_kernel<uint16_t><<<grid, kThreads, 0, s>>>(a); break;
    case 4: gather_kernel<uint32_t><<<grid, kThreads, 0, s>>>(a); break;
    case 8: gather_kernel<uint64_t><<<grid, kThreads, 0, s>>>(a); break;
    default: DUET_ASSERT(false, "unexpected element size ", esize);
  }
  DUET_CUDA_CHECK_LAUNCH();
}

// ---------------------------------------------------------------- copies (cat, scatter_add's x)

struct ConvertFn {
  __device__ void operator()(const ew::ElementwiseArgs<2>& a, const int64_t (&off)[2]) const {
    dev::copy_convert(a.data[0], off[0], a.dtype[0], a.data[1], off[1], a.dtype[1]);
  }
};

// dst (any strides) = src converted to dst's dtype; same shapes.
void copy_into(const Tensor& dst, const Tensor& src) {
  if (dst.numel() == 0) return;
  if (dst.dtype() == src.dtype() && dst.is_contiguous() && src.is_contiguous()) {
    DUET_CUDA_CHECK(cudaMemcpyAsync(dst.data_ptr(), src.data_ptr(), size_t(dst.numel()) * dst.element_size(),
                                    cudaMemcpyDeviceToDevice, current_stream()));
    return;
  }
  const Tensor inputs[1] = {src};
  ew::launch_elementwise(ew::make_args<2>(dst, inputs, dst.dtype()), ConvertFn{});
}

// ---------------------------------------------------------------- scatter_add

// Lines are the positions of the index's dims other than `dim`; operand 0: out, 1: idx,
// 2: src. Each line adds its n values along dim into its own line of out, in order.
struct ScatterArgs {
  Walk<3> w;
  void* out;
  const void* idx;
  const void* src;
  bool idx64;
  int64_t n;
  int64_t lim;
  int64_t out_dim_stride, idx_dim_stride, src_dim_stride;
};

// *p += *s with the CPU's arithmetic, T(compute_t<T>(dst) + compute_t<T>(src)): 16-bit
// floats add in float and round back every time, integers wrap, bools or.
template <typename T>
__device__ inline void accumulate(T* p, const T* s) {
  if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>) {
    *p = dev::from_compute<T>(dev::to_compute(*p) + dev::to_compute(*s));
  } else if constexpr (std::is_same_v<T, bool>) {
    uint8_t* b = reinterpret_cast<uint8_t*>(p);
    *b = (*b != 0 || *reinterpret_cast<const uint8_t*>(s) != 0) ? 1 : 0;
  } else if constexpr (std::is_integral_v<T>) {
    *p = T(std::make_unsigned_t<T>(*p) + std::make_unsigned_t<T>(*s));
  } else {
    *p = *p + *s;
  }
}

template <typename T, typename I>
__device__ inline void scatter_add_loop(const ScatterArgs& a) {
  const int64_t step = int64_t(blockDim.x) * gridDim.x;
  T* out = static_cast<T*>(a.out);
  const T* src = static_cast<const T*>(a.src);
  for (int64_t line = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; line < a.w.numel; line += step) {
    int64_t off[3];
    walk_offsets<I>(a.w, I(line), off);
    T* o = out + off[0];
    int64_t io = off[1], so = off[2];
    for (int64_t k = 0; k < a.n; ++k, io += a.idx_dim_stride, so += a.src_dim_stride) {
      const int64_t v = load_index(a.idx, io, a.idx64);
      if (uint64_t(v) < uint64_t(a.lim)) accumulate(o + v * a.out_dim_stride, src + so);  // checked before launch
    }
  }
}

template <typename T>
__global__ void scatter_add_kernel(ScatterArgs a) {
  if (a.w.index32) scatter_add_loop<T, uint32_t>(a);
  else scatter_add_loop<T, int64_t>(a);
}

// ---------------------------------------------------------------- one_hot

// out[i] = (idx[i / classes] == i % classes) over the whole [.., classes] output.
template <typename I>
__device__ inline void one_hot_loop(const Walk<1>& w, const void* idx, bool idx64, I classes, int64_t* out,
                                    int64_t n) {
  const int64_t step = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const I pos = I(i) / classes, c = I(i) % classes;
    int64_t off[1];
    walk_offsets<I>(w, pos, off);
    out[i] = load_index(idx, off[0], idx64) == int64_t(c) ? 1 : 0;
  }
}

__global__ void one_hot_kernel(Walk<1> w, const void* idx, bool idx64, int64_t classes, int64_t* out, int64_t n) {
  if (n <= INT32_MAX) one_hot_loop<uint32_t>(w, idx, idx64, uint32_t(classes), out, n);
  else one_hot_loop<int64_t>(w, idx, idx64, classes, out, n);
}

// ---------------------------------------------------------------- kernels

void index_select_cuda(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  const Tensor &x = inputs[0], &index = inputs[1];
  const char* op = "index_select";
  DeviceGuard guard(out.device().index);
  const int64_t count = index.numel();
  const int64_t ist = index.dim() == 0 ? 0 : index.stride(0);
  const Walk<1> iw = make_walk<1>({count}, {Shape{ist}});

  GatherArgs a{};
  if (x.dim() == 0) {
    DUET_CHECK(count == 1, "index_select: a 0-dim input takes an index with exactly one value, got ",
               index.sizes());
    check_indices(op, iw, index.data_ptr(), index.dtype(), 0, 1, out.device());
    a.w = make_walk<3>({1}, {Shape{1}, Shape{0}, Shape{0}});
    a.lim = 1;
    a.x_dim_stride = 0;
  } else {
    const int64_t dim = wrap_dim(attrs.get<int64_t>("dim"), x.dim(), op);
    const int64_t lim = x.size(dim);
    check_indices(op, iw, index.data_ptr(), index.dtype(), dim, lim, out.device());
    // A gather over out's shape whose index is broadcast along every dim but `dim`.
    Shape idx_st(size_t(x.dim()), 0), x_st = x.strides();
    idx_st[size_t(dim)] = ist;
    x_st[size_t(dim)] = 0;
    a.w = make_walk<3>(out.sizes(), {out.strides(), idx_st, x_st});
    a.lim = lim;
    a.x_dim_stride = x.stride(dim);
  }
  a.out = out.data_ptr();
  a.x = x.data_ptr();
  a.idx = index.data_ptr();
  a.idx64 = index.dtype() == DType::Int64;
  launch_gather(a, x.element_size());
}

void gather_cuda(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  const Tensor &x = inputs[0], &index = inputs[1];
  const char* op = "gather";
  DeviceGuard guard(out.device().index);
  const int64_t dim = wrap_dim(attrs.get<int64_t>("dim"), std::max<int64_t>(x.dim(), 1), op);
  const Shape xs = sizes_of(x), id = sizes_of(index);
  const int64_t lim = xs[size_t(dim)];
  check_indices(op, index_walk(index), index.data_ptr(), index.dtype(), dim, lim, out.device());
  DUET_ASSERT(out.is_contiguous(), "gather writes a contiguous output");
  Shape x_st = strides_of(x);
  GatherArgs a{};
  a.x_dim_stride = x_st[size_t(dim)];
  x_st[size_t(dim)] = 0;
  a.w = make_walk<3>(id, {contiguous_strides(id), strides_of(index), x_st});
  a.out = out.data_ptr();
  a.x = x.data_ptr();
  a.idx = index.data_ptr();
  a.idx64 = index.dtype() == DType::Int64;
  a.lim = lim;
  launch_gather(a, x.element_size());
}

void scatter_add_cuda(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  const Tensor &x = inputs[0], &index = inputs[1], &src = inputs[2];
  const char* op = "scatter_add";
  DeviceGuard guard(out.device().index);
  const int64_t dim = wrap_dim(attrs.get<int64_t>("dim"), std::max<int64_t>(x.dim(), 1), op);
  const Shape xs = sizes_of(x);
  const int64_t lim = xs[size_t(dim)];
  check_indices(op, index_walk(index), index.data_ptr(), index.dtype(), dim, lim, out.device());
  DUET_ASSERT(out.is_contiguous(), "scatter_add writes a contiguous output");
  copy_into(out, x);
  if (index.numel() == 0) return;

  Shape lines = sizes_of(index);
  const int64_t n = lines[size_t(dim)];
  lines[size_t(dim)] = 1;
  const Shape out_st = contiguous_strides(xs), idx_st = strides_of(index), src_st = strides_of(src);
  ScatterArgs a{};
  a.w = make_walk<3>(lines, {out_st, idx_st, src_st});
  a.out = out.data_ptr();
  a.idx = index.data_ptr();
  a.src = src.data_ptr();
  a.idx64 = index.dtype() == DType::Int64;
  a.n = n;
  a.lim = lim;
  a.out_dim_stride = out_st[size_t(dim)];
  a.idx_dim_stride = idx_st[size_t(dim)];
  a.src_dim_stride = src_st[size_t(dim)];
  DUET_ASSERT(src.dtype() == out.dtype(), "scatter_add: src has the output's dtype");
  const int grid = grid_for(a.w.numel);
  visit_cuda_dtype(out.dtype(), [&]<typename T>() {
    scatter_add_kernel<T><<<grid, kThreads, 0, current_stream()>>>(a);
  });
  DUET_CUDA_CHECK_LAUNCH();
}

void cat_cuda(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  DeviceGuard guard(out.device().index);
  const int64_t dim = wrap_dim(attrs.get<int64_t>("dim"), out.dim(), "cat");
  int64_t start = 0;  // position along dim where the current input starts
  for (const Tensor& t : inputs) {
    const int64_t len = t.size(dim);
    const int64_t offset = out.storage_offset() + start * out.stride(dim);
    start += len;
    if (t.numel() == 0) continue;
    Shape sizes = out.sizes();
    sizes[size_t(dim)] = len;
    // out's slice [start, start + len) along dim, as a view (no op, no autograd).
    Tensor slice(std::make_shared<TensorImpl>(out.storage(), sizes, out.strides(), offset, out.dtype(), out.device()));
    copy_into(slice, t);
  }
}

void one_hot_cuda(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  const Tensor& index = inputs[0];
  DeviceGuard guard(out.device().index);
  const int64_t classes = attrs.get<int64_t>("num_classes");
  const Walk<1> w = index_walk(index);
  BadIndex bad = find_bad_index(w, index.data_ptr(), index.dtype(), classes, out.device());
  if (bad.found)
    DUET_FAIL("one_hot: index ", bad.value, " is out of range for num_classes ", classes, " (expected 0 <= index < ",
              classes, ")");
  DUET_ASSERT(out.is_contiguous(), "one_hot writes a contiguous output");
  const int64_t n = out.numel();
  one_hot_kernel<<<grid_for(n), kThreads, 0, current_stream()>>>(w, index.data_ptr(),
                                                                  index.dtype() == DType::Int64, classes,
                                                                  out.data<int64_t>(), n);
  DUET_CUDA_CHECK_LAUNCH();
}

}  // namespace

void register_indexing_kernels() {
  register_kernel(OpKind::index_select, DeviceType::CUDA, index_select_cuda);
  register_kernel(OpKind::gather, DeviceType::CUDA, gather_cuda);
  register_kernel(OpKind::scatter_add, DeviceType::CUDA, scatter_add_cuda);
  register_kernel(OpKind::cat, DeviceType::CUDA, cat_cuda);
  register_kernel(OpKind::one_hot, DeviceType::CUDA, one_hot_cuda);
}

}  // namespace duet::cuda
