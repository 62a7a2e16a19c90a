// Test cases for the table-driven op test (tests/test_ops_table.cpp): for each op family a
// generator that builds random inputs and attrs and the expected result from the
// independent reference in reference_ops.h. Generators only describe cases; the test
// runs them (and runs elementwise ones again into a strided `out`).
//
//   void my_cases(OpKind op, const CaseSink& sink) {
//     Inputs in(1);
//     Tensor x = in.make(DType::Float32, {3, 4}, Layout::Transposed);
//     sink({"float32 [3, 4] transposed", {x}, {}, ref::unary(ref::read(x), ...)});
//   }
#pragma once

#include <map>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/attrs.h"
#include "core/op_registry.h"
#include "tests/reference/reference_ops.h"

namespace duet::cases {

using ref::RefTensor;

struct Case {
  std::string desc;
  std::vector<Tensor> inputs;
  Attrs attrs;
  RefTensor want;
  ref::Tol tol;
  bool view = false;     // the result must share input 0's storage
  bool threads = false;  // also run with 1 thread (large enough to be split across threads)
  // Instead of `want`: a self-contained check (random factories); "" when it passes.
  std::function<std::string()> property;
};
using CaseSink = std::function<void(Case)>;

// How a test input is laid out in memory; all give the same logical shape.
enum class Layout {
  Contiguous,
  Transposed,  // first and last dims swapped in memory
  Strided,     // every other element of the last dim, at an offset
  Expanded,    // the first dim of size > 1 is a 0-stride broadcast
};
const char* layout_name(Layout l);

// Where random values come from. Floating dtypes draw from [lo, hi] (quantised to `step`
// when step > 0, pushed out to |x| >= min_abs); integer dtypes from [int_lo, int_hi].
struct Domain {
  double lo = -3, hi = 3, step = 0, min_abs = 0;
  int64_t int_lo = -3, int_hi = 3;
};
Domain domain(double lo, double hi, double step = 0, double min_abs = 0);  // ints from ceil(lo)..floor(hi)

class Inputs {
 public:
  explicit Inputs(uint32_t seed) : rng_(seed) {}
  Tensor make(DType dt, const Shape& shape, Layout layout = Layout::Contiguous, const Domain& dom = {});
  // An index tensor with values in [0, limit).
  Tensor index(DType dt, const Shape& shape, int64_t limit, Layout layout = Layout::Contiguous);
  std::mt19937& rng() { return rng_; }

 private:
  Tensor lay_out(DType dt, const Shape& shape, Layout layout, const std::function<double()>& draw);
  std::mt19937 rng_;
};

// A contiguous tensor of dtype `dt` holding `values` (converted).
Tensor from_values(DType dt, const Shape& shape, const std::vector<double>& values);
// "float32 [3, 4] transposed"
std::string describe(DType dt, const Shape& shape, Layout layout = Layout::Contiguous);
std::string describe(const Tensor& t);

inline constexpr DType kAllDTypes[] = {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16,
                                       DType::Int32,   DType::Int64,   DType::Bool};

// ---- generators, one per family (op_cases_*.cpp)
void unary_cases(OpKind op, const CaseSink& sink);  // neg ... logical_not, clamp, cast, copy
void binary_cases(OpKind op, const CaseSink& sink);  // add ... logical_or
void where_cases(OpKind op, const CaseSink& sink);
void reduce_cases(OpKind op, const CaseSink& sink);  // sum ... std
void arg_reduce_cases(OpKind op, const CaseSink& sink);
void softmax_cases(OpKind op, const CaseSink& sink);
void matmul_cases(OpKind op, const CaseSink& sink);
void index_select_cases(OpKind op, const CaseSink& sink);
void gather_cases(OpKind op, const CaseSink& sink);
void scatter_add_cases(OpKind op, const CaseSink& sink);
void cat_cases(OpKind op, const CaseSink& sink);
void one_hot_cases(OpKind op, const CaseSink& sink);
void full_cases(OpKind op, const CaseSink& sink);
void arange_cases(OpKind op, const CaseSink& sink);
void linspace_cases(OpKind op, const CaseSink& sink);
void eye_cases(OpKind op, const CaseSink& sink);
void random_cases(OpKind op, const CaseSink& sink);  // rand_uniform, rand_normal, randint
void conv_cases(OpKind op, const CaseSink& sink);    // conv2d and its two gradients
void pool_cases(OpKind op, const CaseSink& sink);    // max_pool2d, avg_pool2d and their gradients
void adaptive_pool_cases(OpKind op, const CaseSink& sink);
void batch_norm_cases(OpKind op, const CaseSink& sink);
void layer_norm_cases(OpKind op, const CaseSink& sink);
void attention_cases(OpKind op, const CaseSink& sink);
void topk_cases(OpKind op, const CaseSink& sink);        // topk_indices  // layer_norm, _backward, _backward_affine  // batch_norm_stats ... batch_norm_backward
void view_cases(OpKind op, const CaseSink& sink);    // reshape, permute, expand, slice
void strided_cases(OpKind op, const CaseSink& sink);  // as_strided, as_strided_scatter

using Generator = void (*)(OpKind, const CaseSink&);
// Every op's generator by name (tests/reference/op_table.cpp).
const std::map<std::string, Generator>& op_case_table();

}  // namespace duet::cases
