// Reference attention (reference_attention.h). Magnitudes for the tolerances are the sums
// of the absolute values of each result's terms.
#include "tests/reference/reference_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace duet::ref {
namespace {

struct Dims {
  int64_t batch = 1, L = 0, S = 0, E = 0, Ev = 0;
};
Dims dims_of(const RefTensor& q, const RefTensor& v) {
  Dims d;
  d.L = q.shape[q.shape.size() - 2], d.E = q.shape.back(), d.S = v.shape[v.shape.size() - 2], d.Ev = v.shape.back();
  for (size_t i = 0; i + 2 < q.shape.size(); ++i) d.batch *= q.shape[i];
  return d;
}

// The softmax weights of batch b: P [L, S] (masked entries 0).
std::vector<double> weights(const Dims& d, const RefTensor& q, const RefTensor& k, int64_t b, bool causal,
                            double scale) {
  std::vector<double> p(size_t(d.L * d.S), 0.0);
  for (int64_t i = 0; i < d.L; ++i) {
    const int64_t keys = causal ? std::min(d.S, i + 1) : d.S;
    double mx = -std::numeric_limits<double>::infinity(), sum = 0;
    for (int64_t j = 0; j < keys; ++j) {
      double s = 0;
      for (int64_t e = 0; e < d.E; ++e)
        s += q.v[size_t((b * d.L + i) * d.E + e)] * k.v[size_t((b * d.S + j) * d.E + e)];
      p[size_t(i * d.S + j)] = s * scale;
      mx = std::max(mx, s * scale);
    }
    for (int64_t j = 0; j < keys; ++j) sum += p[size_t(i * d.S + j)] = std::exp(p[size_t(i * d.S + j)] - mx);
    for (int64_t j = 0; j < keys; ++j) p[size_t(i * d.S + j)] /= sum;
  }
  return p;
}

}  // namespace

RefTensor attention(const RefTensor& q, const RefTensor& k, const RefTensor& v, bool causal, double scale) {
  const Dims d = dims_of(q, v);
  Shape shape = q.shape;
  shape.back() = d.Ev;
  RefTensor out = zeros_with_scale(shape, q.dtype);
  for (int64_t b = 0; b < d.batch; ++b) {
    const std::vector<double> p = weights(d, q, k, b, causal, scale);
    for (int64_t i = 0; i < d.L; ++i)
      for (int64_t e = 0; e < d.Ev; ++e) {
        const size_t at = size_t((b * d.L + i) * d.Ev + e);
        for (int64_t j = 0; j < d.S; ++j) {
          const double t = p[size_t(i * d.S + j)] * v.v[size_t((b * d.S + j) * d.Ev + e)];
          out.v[at] += t;
          out.scale[at] += std::abs(t);
        }
      }
  }
  return out;
}

RefTensor attention_backward(const RefTensor& dout, const RefTensor& q, const RefTensor& k, const RefTensor& v,
                             const RefTensor& out, bool causal, double scale) {
  const Dims d = dims_of(q, v);
  const int64_t nq = q.numel(), nk = k.numel();
  RefTensor g = zeros_with_scale({nq + nk + v.numel()}, q.dtype);
  auto add = [&](int64_t at, double t, double magnitude) {
    g.v[size_t(at)] += t;
    g.scale[size_t(at)] += magnitude;
  };
  for (int64_t b = 0; b < d.batch; ++b) {
    const std::vector<double> p = weights(d, q, k, b, causal, scale);
    for (int64_t i = 0; i < d.L; ++i) {
      double dsum = 0, dsum_mag = 0;  // D = rowsum(dout * out)
      for (int64_t e = 0; e < d.Ev; ++e) {
        const double t = dout.v[size_t((b * d.L + i) * d.Ev + e)] * out.v[size_t((b * d.L + i) * d.Ev + e)];
        dsum += t;
        dsum_mag += std::abs(t);
      }
      for (int64_t j = 0; j < d.S; ++j) {
        const double pij = p[size_t(i * d.S + j)];
        double dp = 0, dp_mag = 0;
        for (int64_t e = 0; e < d.Ev; ++e) {
          const double go = dout.v[size_t((b * d.L + i) * d.Ev + e)], vv = v.v[size_t((b * d.S + j) * d.Ev + e)];
          dp += go * vv;
          dp_mag += std::abs(go * vv);
          add(nq + nk + (b * d.S + j) * d.Ev + e, pij * go, std::abs(pij * go));  // dV = P^T dout
        }
        const double ds = pij * (dp - dsum) * scale, ds_mag = pij * (dp_mag + dsum_mag) * std::abs(scale);
        for (int64_t e = 0; e < d.E; ++e) {
          const double kv = k.v[size_t((b * d.S + j) * d.E + e)], qv = q.v[size_t((b * d.L + i) * d.E + e)];
          add((b * d.L + i) * d.E + e, ds * kv, ds_mag * std::abs(kv));       // dQ = dS K
          add(nq + (b * d.S + j) * d.E + e, ds * qv, ds_mag * std::abs(qv));  // dK = dS^T Q
        }
      }
    }
  }
  return g;
}

}  // namespace duet::ref
