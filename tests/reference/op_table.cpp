// The table of case generators: op name -> generator, one row per line of core/ops.def.
// Shared by the table-driven op test and the graph-mode equivalence test.
#include "tests/reference/op_cases.h"

namespace duet::cases {

// The table: op name -> its case generator. Keep one row per line of core/ops.def.
const std::map<std::string, Generator>& op_case_table() {
  static const std::map<std::string, Generator> table = {
      // elementwise unary
      {"neg", unary_cases}, {"abs", unary_cases}, {"sign", unary_cases}, {"square", unary_cases},
      {"floor", unary_cases}, {"ceil", unary_cases}, {"round", unary_cases}, {"relu", unary_cases},
      {"exp", unary_cases}, {"expm1", unary_cases}, {"log", unary_cases}, {"log1p", unary_cases},
      {"sqrt", unary_cases}, {"rsqrt", unary_cases}, {"reciprocal", unary_cases}, {"sin", unary_cases},
      {"cos", unary_cases}, {"tanh", unary_cases}, {"sigmoid", unary_cases}, {"erf", unary_cases},
      {"gelu", unary_cases}, {"silu", unary_cases}, {"logical_not", unary_cases}, {"clamp", unary_cases},
      {"cast", unary_cases}, {"copy", unary_cases},
      // elementwise binary and where
      {"add", binary_cases}, {"sub", binary_cases}, {"mul", binary_cases}, {"div", binary_cases},
      {"pow", binary_cases}, {"maximum", binary_cases}, {"minimum", binary_cases}, {"eq", binary_cases},
      {"ne", binary_cases}, {"lt", binary_cases}, {"le", binary_cases}, {"gt", binary_cases},
      {"ge", binary_cases}, {"logical_and", binary_cases}, {"logical_or", binary_cases}, {"where", where_cases},
      // reductions and normalisation
      {"sum", reduce_cases}, {"mean", reduce_cases}, {"prod", reduce_cases}, {"amax", reduce_cases},
      {"amin", reduce_cases}, {"var", reduce_cases}, {"std", reduce_cases}, {"argmax", arg_reduce_cases},
      {"argmin", arg_reduce_cases}, {"topk_indices", topk_cases}, {"softmax", softmax_cases}, {"log_softmax", softmax_cases},
      // linear algebra, indexing and joining
      {"matmul", matmul_cases}, {"index_select", index_select_cases}, {"gather", gather_cases},
      {"scatter_add", scatter_add_cases}, {"cat", cat_cases}, {"one_hot", one_hot_cases},
      {"as_strided_scatter", strided_cases},
      // convolution and pooling
      {"conv2d", conv_cases}, {"conv2d_input_grad", conv_cases}, {"conv2d_weight_grad", conv_cases},
      {"max_pool2d", pool_cases}, {"max_pool2d_backward", pool_cases}, {"avg_pool2d", pool_cases},
      {"avg_pool2d_backward", pool_cases}, {"adaptive_avg_pool2d", adaptive_pool_cases},
      {"adaptive_avg_pool2d_backward", adaptive_pool_cases},
      // batch normalisation
      {"batch_norm_stats", batch_norm_cases}, {"batch_norm", batch_norm_cases},
      {"batch_norm_backward_reduce", batch_norm_cases}, {"batch_norm_backward", batch_norm_cases},
      // layer normalisation
      {"layer_norm", layer_norm_cases}, {"layer_norm_backward", layer_norm_cases},
      {"layer_norm_backward_affine", layer_norm_cases},
      // fused attention
      {"attention", attention_cases}, {"attention_backward", attention_cases},
      // factories
      {"full", full_cases}, {"arange", arange_cases}, {"linspace", linspace_cases}, {"eye", eye_cases},
      {"rand_uniform", random_cases}, {"rand_normal", random_cases}, {"randint", random_cases},
      // views
      {"reshape", view_cases}, {"permute", view_cases}, {"expand", view_cases}, {"slice", view_cases},
      {"as_strided", strided_cases},
  };
  return table;
}

}  // namespace duet::cases
