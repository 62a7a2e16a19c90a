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

// The scaled scores of batch b: s [L, S] (entries of masked keys unused) and each
// score's magnitude, sum |q k| |scale|.
struct Scores {
  std::vector<double> s, mag;
};
Scores scores(const Dims& d, const RefTensor& q, const RefTensor& k, int64_t b, double scale) {
  Scores r{std::vector<double>(size_t(d.L * d.S), 0.0), std::vector<double>(size_t(d.L * d.S), 0.0)};
  for (int64_t i = 0; i < d.L; ++i)
    for (int64_t j = 0; j < d.S; ++j) {
      double t = 0, m = 0;
      for (int64_t e = 0; e < d.E; ++e) {
        const double x = q.v[size_t((b * d.L + i) * d.E + e)] * k.v[size_t((b * d.S + j) * d.E + e)];
        t += x;
        m += std::abs(x);
      }
      r.s[size_t(i * d.S + j)] = t * scale;
      r.mag[size_t(i * d.S + j)] = m * std::abs(scale);
    }
  return r;
}

int64_t visible(const Dims& d, int64_t i, bool causal) { return causal ? std::min(d.S, i + 1) : d.S; }

// Row i's log-sum-exp of its visible scores (-inf when it sees none).
double row_lse(const Dims& d, const std::vector<double>& s, int64_t i, bool causal) {
  const int64_t keys = visible(d, i, causal);
  double mx = -std::numeric_limits<double>::infinity(), sum = 0;
  for (int64_t j = 0; j < keys; ++j) mx = std::max(mx, s[size_t(i * d.S + j)]);
  for (int64_t j = 0; j < keys; ++j) sum += std::exp(s[size_t(i * d.S + j)] - mx);
  return keys ? mx + std::log(sum) : -std::numeric_limits<double>::infinity();
}

}  // namespace

RefTensor attention(const RefTensor& q, const RefTensor& k, const RefTensor& v, bool causal, double scale) {
  const Dims d = dims_of(q, v);
  const int64_t n_out = d.batch * d.L * d.Ev;
  RefTensor out = zeros_with_scale({n_out + d.batch * d.L}, q.dtype);
  for (int64_t b = 0; b < d.batch; ++b) {
    const Scores sc = scores(d, q, k, b, scale);
    for (int64_t i = 0; i < d.L; ++i) {
      const double lse = row_lse(d, sc.s, i, causal);
      const size_t at_lse = size_t(n_out + b * d.L + i);
      out.v[at_lse] = lse;
      for (int64_t j = 0; j < visible(d, i, causal); ++j)
        out.scale[at_lse] = std::max(out.scale[at_lse], sc.mag[size_t(i * d.S + j)] + 1.0);
      for (int64_t j = 0; j < visible(d, i, causal); ++j) {
        const double p = std::exp(sc.s[size_t(i * d.S + j)] - lse);
        for (int64_t e = 0; e < d.Ev; ++e) {
          const size_t at = size_t((b * d.L + i) * d.Ev + e);
          const double t = p * v.v[size_t((b * d.S + j) * d.Ev + e)];
          out.v[at] += t;
          out.scale[at] += std::abs(t);
        }
      }
    }
  }
  return out;
}

RefTensor attention_backward(const RefTensor& dout, const RefTensor& q, const RefTensor& k, const RefTensor& v,
                             const RefTensor& out, bool causal, double scale) {
  const Dims d = dims_of(q, v);
  const int64_t nq = q.numel(), nk = k.numel(), n_out = d.batch * d.L * d.Ev;
  RefTensor g = zeros_with_scale({nq + nk + v.numel()}, q.dtype);
  auto add = [&](int64_t at, double t, double magnitude) {
    g.v[size_t(at)] += t;
    g.scale[size_t(at)] += magnitude;
  };
  for (int64_t b = 0; b < d.batch; ++b) {
    const Scores sc = scores(d, q, k, b, scale);
    for (int64_t i = 0; i < d.L; ++i) {
      const int64_t row = b * d.L + i;
      const double lse = out.v[size_t(n_out + row)], dlse = dout.v[size_t(n_out + row)];
      double dsum = -dlse, dsum_mag = std::abs(dlse);  // D = rowsum(dout * out) - dlse
      for (int64_t e = 0; e < d.Ev; ++e) {
        const double t = dout.v[size_t(row * d.Ev + e)] * out.v[size_t(row * d.Ev + e)];
        dsum += t;
        dsum_mag += std::abs(t);
      }
      for (int64_t j = 0; j < visible(d, i, causal); ++j) {
        // P from the stored log-sum-exp, as the op reads it (its error grows with |s|).
        const double pij = lse == -std::numeric_limits<double>::infinity()
                               ? 0.0
                               : std::exp(sc.s[size_t(i * d.S + j)] - lse);
        const double p_mag = pij * (1.0 + sc.mag[size_t(i * d.S + j)] + std::abs(lse));
        double dp = 0, dp_mag = 0;
        for (int64_t e = 0; e < d.Ev; ++e) {
          const double go = dout.v[size_t(row * d.Ev + e)], vv = v.v[size_t((b * d.S + j) * d.Ev + e)];
          dp += go * vv;
          dp_mag += std::abs(go * vv);
          add(nq + nk + (b * d.S + j) * d.Ev + e, pij * go, std::abs(p_mag * go));  // dV = P^T dout
        }
        const double ds = pij * (dp - dsum) * scale, ds_mag = p_mag * (dp_mag + dsum_mag) * std::abs(scale);
        for (int64_t e = 0; e < d.E; ++e) {
          const double kv = k.v[size_t((b * d.S + j) * d.E + e)], qv = q.v[size_t(row * d.E + e)];
          add(row * d.E + e, ds * kv, ds_mag * std::abs(kv));                // dQ = dS K
          add(nq + (b * d.S + j) * d.E + e, ds * qv, ds_mag * std::abs(qv));  // dK = dS^T Q
        }
      }
    }
  }
  return g;
}

}  // namespace duet::ref
