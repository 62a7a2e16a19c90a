// Finite-difference gradient checking: f(x) = sum(fn(x) * v) for a random v, with
// analytic grads from autograd::grad and numeric ones from (f(x+e) - f(x-e)) / 2e.
#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "core/functions.h"

namespace duet {
namespace {

// Address of element `linear` (row-major order) of a float64 tensor, through its strides.
double* element(const Tensor& t, int64_t linear) {
  int64_t offset = 0;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    offset += (linear % t.size(d)) * t.stride(d);
    linear /= t.size(d);
  }
  return static_cast<double*>(t.data_ptr()) + offset;
}

double projected(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& inputs,
                 const Tensor& v) {
  return sum(fn(inputs).to(DType::Float64) * v).item<double>();
}

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, GradcheckOptions opt) {
  std::vector<Tensor> checked;
  for (const Tensor& t : inputs) {
    if (!t.requires_grad()) continue;
    DUET_CHECK(t.dtype() == DType::Float64, "gradcheck: inputs that require grad must be float64, got ",
               dtype_name(t.dtype()), shape_str(t.sizes()));
    checked.push_back(t);
  }
  DUET_CHECK(!checked.empty(), "gradcheck: no input requires grad");

  Tensor out = fn(inputs);
  DUET_CHECK(out.requires_grad(), "gradcheck: the output does not require grad");
  Tensor v = randn(out.sizes(), DType::Float64);
  Tensor f = sum(out.to(DType::Float64) * v);
  std::vector<Tensor> analytic = autograd::grad({f}, checked, {}, false, /*allow_unused=*/true);

  GradcheckResult result;
  NoGradGuard no_grad;
  for (size_t i = 0; i < checked.size(); ++i) {
    const Tensor& x = checked[i];
    std::vector<double> a = analytic[i].defined() ? analytic[i].to_vector<double>()
                                                  : std::vector<double>(size_t(x.numel()), 0.0);
    for (int64_t j = 0; j < x.numel(); ++j) {
      double* p = element(x, j);
      double saved = *p;
      *p = saved + opt.eps;
      double plus = projected(fn, inputs, v);
      *p = saved - opt.eps;
      double minus = projected(fn, inputs, v);
      *p = saved;
      double numeric = (plus - minus) / (2 * opt.eps);
      double err = std::fabs(a[size_t(j)] - numeric);
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (result.ok && !(err <= opt.atol + opt.rtol * std::fabs(numeric))) {
        std::ostringstream os;
        os << "gradcheck: input " << i << " " << shape_str(x.sizes()) << ", element " << j << ": analytic "
           << a[size_t(j)] << " vs numeric " << numeric << " (error " << err << ")";
        result.ok = false;
        result.message = os.str();
      }
    }
  }
  return result;
}

}  // namespace duet
