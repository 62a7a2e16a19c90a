// The CUDA backend against the CPU (label `cuda`). Every non-view op must have a CUDA
// kernel, and each runs the op table's cases (tests/reference/) with its inputs copied to the device in the SAME
// memory layout (transposed, strided, expanded views stay views), and is compared with
// the float64 reference and, for factories, bit for bit with the CPU kernel; elementwise
// ops are run again into a transposed device `out`. Random factories must give the CPU's
// bits for the same seed and offset.
//
// Without a GPU (or in a build without CUDA) the device tests print
//   skipped: no CUDA device (<why>)
// and pass; the tests of error messages and of the shared factory math run everywhere.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>

#include "core/dispatch.h"
#include "core/functions.h"
#include "core/generator.h"
#include "core/op_registry.h"
#include "kernels/cuda/cuda_api.h"
#include "kernels/factory_math.h"
#include "tests/cuda_test_support.h"
#include "tests/reference/op_cases.h"
#include "tests/test_support.h"

using namespace duet;
using namespace duet::cases;
using duet::testing::cpu;
using duet::testing::kGpu;
using duet::testing::skip_without_gpu;
using duet::testing::to_gpu_same_layout;

namespace {

std::string prefixed(const std::string& prefix, const std::string& err) { return err.empty() ? err : prefix + err; }

// One op-table case on the device; "" when it passes.
std::string run_gpu_case(const OpDef& def, const Case& c) {
  std::vector<Tensor> inputs;
  for (const Tensor& x : c.inputs) inputs.push_back(to_gpu_same_layout(x));
  Attrs attrs = c.attrs;
  if (attrs.has("device")) attrs.set("device", kGpu);
  Tensor got = apply(def.kind, inputs, attrs);
  if (got.device() != kGpu) return "the result is on " + got.device().str();
  std::string err = ref::compare(cpu(got), c.want, c.tol);
  if (err.empty() && c.view && got.storage() != inputs[0].storage())
    err = "expected a view sharing the input's storage, got a copy";
  if (err.empty() && def.has(kFactory)) {
    Tensor host = apply(def.kind, {}, c.attrs);
    if (!ref::bitwise_equal(host, cpu(got))) err = "the values differ from the CPU kernel's in some bits";
  }
  if (err.empty() && def.has(kElementwise) && c.want.dim() >= 2 && c.want.numel() > 0) {
    Shape base = c.want.shape;
    std::swap(base.front(), base.back());
    Tensor out = zeros(base, {c.want.dtype, kGpu}).transpose(0, int64_t(base.size()) - 1);
    apply_out(def.kind, inputs, attrs, out);
    err = prefixed("into a transposed out: ", ref::compare(cpu(out), c.want, c.tol));
  }
  return err;
}

Attrs factory_attrs(const Shape& shape, DType dt, Device d) {
  return Attrs().set("shape", shape).set("dtype", dt).set("device", d);
}

double ulp(double x) {
  x = std::fabs(x);
  return std::nextafter(x, INFINITY) - x;
}

}  // namespace

TEST_CASE("cuda: unusable devices give clear errors") {
  Tensor x = ones({2, 3});
  if (cuda::device_count() == 0) {
    std::string reason = cuda::unavailable_reason();
    CHECK(!reason.empty());
    if (!cuda::built_with_cuda()) CHECK(reason.find("this build of duet has no CUDA support") != std::string::npos);
    else CHECK(reason.rfind("no CUDA device: ", 0) == 0);
    EXPECT_ERROR(x.to(Device::cuda(0)), "to: cannot use cuda:0: ", reason);
    EXPECT_ERROR(zeros({2}, {DType::Float32, Device::cuda(0)}), "cannot use cuda:0", reason);
    EXPECT_ERROR(memory_stats(Device::cuda(0)), "cannot use cuda:0");
    EXPECT_ERROR(cuda::synchronize(Device::cuda(0)), "cuda:0");
    CHECK_FALSE(cuda::is_available());
  } else {
    int n = cuda::device_count();
    EXPECT_ERROR(x.to(Device::cuda(n)), "to: cannot use cuda:", "this machine has ");
    EXPECT_ERROR(add(x, x.to(kGpu)), "add: expected all tensors on one device");
  }
  EXPECT_ERROR(zeros({2}, {DType::Float32, Device::cuda(99)}), "cuda:99", "device indices 0 to 15");
  cuda::empty_cache();  // nothing to do, never an error
}

TEST_CASE("factory math: the private log and cos agree with libm") {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> xs = {1.0, 0.5, 0.25, std::ldexp(1.0, -53), 1.0 - std::ldexp(1.0, -53), 1.0 - 1e-10, 0.70710678,
                            0.7071067811865476, 0.75, 1e-300, 3.0, 1e300};
  for (int i = 0; i < 20000; ++i) xs.push_back(std::exp2(-53.0 * unit(rng)));
  int bad = 0;
  for (double x : xs) {
    double got = factory::log_positive(x), want = std::log(x);
    if (std::fabs(got - want) > 2 * ulp(want) && bad++ < 5) FAIL_CHECK("log_positive(" << x << ") = " << got << ", libm " << want);
  }
  std::vector<double> us = {0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0 - std::ldexp(1.0, -53), 1e-20};
  for (int i = 0; i < 20000; ++i) us.push_back(unit(rng));
  for (double u : us) {
    long double want = cosl(2.0L * 3.14159265358979323846264338327950288L * (long double)u);
    double got = factory::cos_two_pi(u);
    if (std::fabs((long double)got - want) > 3e-16L && bad++ < 10) FAIL_CHECK("cos_two_pi(" << u << ") = " << got);
  }
  // The normal draw is within rounding of the textbook formula.
  for (uint64_t i = 0; i < 5000; ++i) {
    Philox4 r = philox4x32_10(42, i);
    double u1 = 1.0 - uniform01_from_bits64(r.w[0], r.w[1]), u2 = uniform01_from_bits64(r.w[2], r.w[3]);
    double textbook = 0.5 + 2.0 * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    double got = factory::normal_double(42, i, 0.5, 2.0);
    if (std::fabs(got - textbook) > 1e-13 * (1 + std::fabs(textbook)) && bad++ < 15)
      FAIL_CHECK("normal draw " << i << ": " << got << " vs " << textbook);
  }
  CHECK(bad == 0);
}

TEST_CASE("cuda: every op has a CUDA kernel that matches the op table") {
  if (skip_without_gpu()) return;
  cuda::ensure_initialized(kGpu);
  int total = 0, failed_ops = 0;
  std::vector<std::string> without;
  for (const auto& [name, gen] : op_case_table()) {
    const OpDef& def = op_def(op_by_name(name));
    if (!def.view && !def.kernels[int(DeviceType::CUDA)]) {
      without.push_back(name);
      continue;
    }
    int cases = 0, failures = 0;
    gen(def.kind, [&](Case c) {
      if (c.property) return;  // random factories: the bitwise test below
      ++cases;
      std::string err;
      try {
        err = run_gpu_case(def, c);
      } catch (const std::exception& e) {
        err = std::string("threw: ") + e.what();
      }
      if (!err.empty() && failures++ < 6)
        FAIL_CHECK(name << " [" << c.desc << (c.attrs.items().empty() ? "" : ", attrs " + c.attrs.str()) << "]: " << err);
    });
    total += cases;
    failed_ops += failures > 0;
    MESSAGE(name << " on cuda: " << cases << " cases" << (failures ? ", " + std::to_string(failures) + " FAILED" : ""));
  }
  std::ostringstream list;
  for (const auto& n : without) list << " " << n;
  MESSAGE(total << " cases on cuda, " << failed_ops << " ops with failures");
  INFO("ops without a CUDA kernel:" << list.str());
  CHECK(without.empty());  // every op the CPU registry has, the CUDA backend has too
}

TEST_CASE("cuda: random factories give the CPU's bits") {
  if (skip_without_gpu()) return;
  struct R {
    OpKind op;
    std::vector<DType> dtypes;
    double p, q;
  };
  const std::vector<R> rows = {
      {OpKind::rand_uniform, {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16}, -2.0, 3.0},
      {OpKind::rand_normal, {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16}, 0.5, 2.0},
      {OpKind::randint, {DType::Int64, DType::Int32, DType::Float32, DType::Float16}, -7, 1000003},
  };
  const std::vector<std::pair<int64_t, int64_t>> keys = {{0, 0}, {1234, 99}, {(int64_t(1) << 40) + 5, (int64_t(1) << 33) + 7}};
  for (const R& r : rows)
    for (DType dt : r.dtypes)
      for (const Shape& shape : std::vector<Shape>{{0}, {1}, {7}, {3, 5}, {100003}})
        for (auto [seed, offset] : keys) {
          auto attrs = [&](Device d) {
            Attrs a = factory_attrs(shape, dt, d).set("seed", seed).set("offset", offset);
            if (r.op == OpKind::rand_normal) return a.set("mean", r.p).set("std", r.q);
            if (r.op == OpKind::randint) return a.set("low", int64_t(r.p)).set("high", int64_t(r.q));
            return a.set("low", r.p).set("high", r.q);
          };
          Tensor host = apply(r.op, {}, attrs(Device::cpu()));
          Tensor dev = apply(r.op, {}, attrs(kGpu));
          CHECK_MESSAGE(ref::bitwise_equal(host, cpu(dev)),
                        op_name(r.op) << " " << describe(dt, shape) << " seed " << seed << " offset " << offset);
        }
  // Through the public API and the default generator: the same draws on either device.
  manual_seed(77);
  Tensor a = randn({1000});
  manual_seed(77);
  Tensor b = randn({1000}, {DType::Float32, kGpu});
  CHECK(ref::bitwise_equal(a, cpu(b)));
}

TEST_CASE("cuda: copies between host and device") {
  if (skip_without_gpu()) return;
  Tensor x = arange(0, 24, 1, DType::Float32).reshape({2, 3, 4});
  Tensor t = x.permute({2, 0, 1});
  Tensor g = t.to(kGpu);
  CHECK(g.device() == kGpu);
  CHECK(g.is_contiguous());
  CHECK(g.sizes() == t.sizes());
  CHECK(ref::bitwise_equal(cpu(g), t));
  // A strided device tensor goes back through a contiguous device copy.
  Tensor gs = to_gpu_same_layout(t);
  CHECK(ref::bitwise_equal(cpu(gs), t));
  CHECK(gs[1][2][3].item<float>() == t[1][2][3].item<float>());
  CHECK(g.to(DType::Int64).to_vector<int64_t>() == t.to(DType::Int64).to_vector<int64_t>());
  CHECK(g.str().find("device='cuda:0'") != std::string::npos);
  CHECK(g.str().find("23.") != std::string::npos);
  Tensor e = empty({0, 3}, {DType::Float16, kGpu});
  CHECK(cpu(e).sizes() == Shape{0, 3});
  for (DType dt : kAllDTypes) {
    Tensor h = from_values(dt, {5}, {0, 1, 0, 1, 1});
    CHECK(ref::bitwise_equal(cpu(h.to(kGpu)), h));
  }
  if (cuda::device_count() > 1) {
    Tensor g1 = g.to(Device::cuda(1));
    CHECK(g1.device() == Device::cuda(1));
    CHECK(ref::bitwise_equal(cpu(g1), t));
  }
}

TEST_CASE("cuda: the caching allocator counts and reuses device memory") {
  if (skip_without_gpu()) return;
  int64_t before = memory_stats(kGpu).current_bytes;
  {
    Tensor t = empty({1000}, {DType::Float32, kGpu});
    CHECK(memory_stats(kGpu).current_bytes == before + 4000);
  }
  CHECK(memory_stats(kGpu).current_bytes == before);
  reset_peak_memory(kGpu);
  for (int i = 0; i < 20; ++i) {
    Tensor a = rand({256, 256}, {DType::Float32, kGpu});
    Tensor b = (a * 2.0 + 1.0).relu();
    CHECK(b.device() == kGpu);
  }
  MemoryStats m = memory_stats(kGpu);
  CHECK(m.allocations >= 60);
  CHECK(m.system_allocations <= 2);  // the pool grows once, then blocks are reused
  CHECK(m.peak_bytes >= 3 * 256 * 256 * 4);
  int64_t reserved = m.reserved_bytes;
  cuda::empty_cache();
  CHECK(memory_stats(kGpu).reserved_bytes <= reserved);
}

TEST_CASE("cuda: elementwise paths: float4, misaligned, broadcast, in place, mixed dtypes") {
  if (skip_without_gpu()) return;
  manual_seed(3);
  Tensor x = randn({100003});
  Tensor y = randn({100003});
  Tensor gx = x.to(kGpu), gy = y.to(kGpu);
  auto close = [](const Tensor& got, const Tensor& want, double tol) {
    return ref::compare(cpu(got), ref::read(want), {tol, tol});
  };
  CHECK(close(exp(gx), exp(x), 1e-5) == "");
  CHECK(close(gelu(gx), gelu(x), 1e-5) == "");
  CHECK(close(gx + gy, x + y, 1e-6) == "");
  CHECK(close(gx * 3.0, x * 3.0, 1e-6) == "");
  CHECK(close(2.0 - gx, 2.0 - x, 1e-6) == "");
  // Off by one element: not 16-byte aligned, so the float4 path must not run.
  CHECK(close(gx.slice(0, 1, 100003) + gy.slice(0, 0, 100002), x.slice(0, 1, 100003) + y.slice(0, 0, 100002), 1e-6) ==
        "");
  // Bias add [B, N] + [N], and a column broadcast [B, 1].
  Tensor m = randn({37, 129}), bias = randn({129}), col = randn({37, 1});
  Tensor gm = m.to(kGpu);
  CHECK(close(gm + bias.to(kGpu), m + bias, 1e-6) == "");
  CHECK(close(gm * col.to(kGpu), m * col, 1e-6) == "");
  CHECK(close(gm.t() - bias.to(kGpu).unsqueeze(1), m.t() - bias.unsqueeze(1), 1e-6) == "");
  // In place into views.
  Tensor h = m.clone(), gh = gm.clone();
  h.slice(1, 3, 100, 2).mul_(2.0);
  gh.slice(1, 3, 100, 2).mul_(2.0);
  h.t().add_(1.0);
  gh.t().add_(1.0);
  gh.clamp_(-1.0, 1.5);
  h.clamp_(-1.0, 1.5);
  CHECK(ref::bitwise_equal(cpu(gh), h));
  // Mixed dtypes round through the result dtype exactly as the CPU does.
  Tensor big_ints = tensor<int64_t>({2049, 4097, -65519, 3, 70000}, {5});
  Tensor halves = from_values(DType::Float16, {5}, {0.5, 0.25, -1.5, 0.1, 1.0});
  CHECK(ref::bitwise_equal(cpu(add(big_ints.to(kGpu), halves.to(kGpu))), add(big_ints, halves)));
  CHECK(ref::bitwise_equal(cpu(lt(big_ints.to(kGpu), x.slice(0, 0, 5).to(kGpu))), lt(big_ints, x.slice(0, 0, 5))));
  // Integer semantics: wrapping, pow, round half to even, NaN-propagating maximum.
  Tensor ints = tensor<int32_t>({2147483647, -3, 0, 5, -1}, {5});
  Tensor pw = tensor<int32_t>({2, 3, -1, 31, -2}, {5});
  CHECK(ref::bitwise_equal(cpu(add(ints.to(kGpu), ints.to(kGpu))), add(ints, ints)));
  CHECK(ref::bitwise_equal(cpu(pow(ints.to(kGpu), pw.to(kGpu))), pow(ints, pw)));
  Tensor halfway = tensor<float>({0.5f, 1.5f, 2.5f, -0.5f, -2.5f, NAN}, {6});
  CHECK(ref::bitwise_equal(cpu(round(halfway.to(kGpu))), round(halfway)));
  std::vector<float> mx = cpu(maximum(halfway.to(kGpu), zeros({6}, {DType::Float32, kGpu}))).to_vector<float>();
  CHECK(mx[0] == 0.5f);
  CHECK(mx[3] == 0.0f);
  CHECK(std::isnan(mx[5]));
  CHECK(ref::bitwise_equal(cpu(halfway.to(kGpu).to(DType::Int32)), halfway.to(DType::Int32)));
  CHECK(ref::bitwise_equal(cpu(halfway.to(kGpu).to(DType::BFloat16)), halfway.to(DType::BFloat16)));
  CHECK(ref::bitwise_equal(cpu(halfway.to(kGpu).to(DType::Float16)), halfway.to(DType::Float16)));
}
