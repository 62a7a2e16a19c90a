// The differential test of eager against graph mode (see fuzz_diff.h).
#include "tests/fuzz/fuzz_diff.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "autograd/grad_mode.h"
#include "core/generator.h"
#include "graph/unsupported.h"

namespace duet::fuzz {
namespace {

struct Snapshot {
  std::vector<std::pair<std::string, Tensor>> tensors;
  uint64_t generator_offset = 0, generator_seed = 0;
};

Tensor keep(const Tensor& t) {
  if (!t.defined()) return {};
  NoGradGuard no_grad;
  return t.detach().clone();
}

Snapshot snapshot(const std::vector<Tensor>& outs, const std::vector<Tensor>& inputs, const World& w) {
  Snapshot s;
  auto add = [&](std::string name, const Tensor& t) { s.tensors.emplace_back(std::move(name), keep(t)); };
  for (size_t i = 0; i < outs.size(); ++i) add("output " + std::to_string(i), outs[i]);
  for (size_t i = 0; i < inputs.size(); ++i) {
    add("input " + std::to_string(i), inputs[i]);
    add("input " + std::to_string(i) + " .grad", inputs[i].grad());
  }
  for (size_t i = 0; i < w.closure.size(); ++i) add("closure " + std::to_string(i), w.closure[i]);
  for (size_t i = 0; i < w.params.size(); ++i) {
    add("param " + std::to_string(i), w.params[i]);
    add("param " + std::to_string(i) + " .grad", w.params[i].grad());
  }
  if (w.opt)
    for (const auto& [name, t] : w.opt->state_dict()) add("optimizer " + name, t);
  s.generator_offset = default_generator().offset();
  s.generator_seed = default_generator().seed();
  return s;
}

// Bitwise equality, except that any NaN equals any NaN.
bool same_values(const Tensor& a, const Tensor& b, std::string& why) {
  if (a.sizes() != b.sizes() || a.dtype() != b.dtype()) {
    why = "eager " + std::string(dtype_name(a.dtype())) + shape_str(a.sizes()) + " vs graph " +
          dtype_name(b.dtype()) + shape_str(b.sizes());
    return false;
  }
  const int64_t n = a.numel();
  const size_t es = a.element_size();
  const char* pa = static_cast<const char*>(a.data_ptr());
  const char* pb = static_cast<const char*>(b.data_ptr());
  int64_t differ = 0, first = -1;
  std::vector<double> va, vb;
  if (is_floating(a.dtype())) va = a.to_vector<double>(), vb = b.to_vector<double>();
  for (int64_t i = 0; i < n; ++i) {
    if (std::memcmp(pa + size_t(i) * es, pb + size_t(i) * es, es) == 0) continue;
    if (!va.empty() && std::isnan(va[size_t(i)]) && std::isnan(vb[size_t(i)])) continue;
    if (first < 0) first = i;
    ++differ;
  }
  if (differ == 0) return true;
  std::ostringstream os;
  os << differ << " of " << n << " elements differ; first at flat index " << first;
  if (!va.empty()) os.precision(17), os << ": eager " << va[size_t(first)] << ", graph " << vb[size_t(first)];
  why = os.str();
  return false;
}

std::string compare(const Snapshot& e, const Snapshot& g) {
  if (e.tensors.size() != g.tensors.size()) return "the snapshots have different entries";
  for (size_t i = 0; i < e.tensors.size(); ++i) {
    const auto& [name, te] = e.tensors[i];
    const Tensor& tg = g.tensors[i].second;
    if (name != g.tensors[i].first) return "entry " + name + " vs " + g.tensors[i].first;
    if (te.defined() != tg.defined())
      return name + ": " + (te.defined() ? "defined in eager, undefined in graph" : "undefined in eager, defined in graph");
    std::string why;
    if (te.defined() && !same_values(te, tg, why)) return name + ": " + why;
  }
  if (e.generator_offset != g.generator_offset || e.generator_seed != g.generator_seed)
    return "generator: eager (seed " + std::to_string(e.generator_seed) + ", offset " +
           std::to_string(e.generator_offset) + "), graph (seed " + std::to_string(g.generator_seed) + ", offset " +
           std::to_string(g.generator_offset) + ")";
  return "";
}

struct Run {
  std::vector<Snapshot> snapshots;
  int error_call = -1;
  std::string error;
  bool refusal = false;
};

template <typename Call>
Run run_mode(const Program& p, World& w, Call&& call) {
  Run r;
  std::vector<Tensor> previous;
  for (int c = 0; c < p.calls; ++c) {
    try {
      run_host_actions(p, w, c);
      std::vector<Tensor> in = make_inputs(p, c, w, previous);
      std::vector<Tensor> out = call(in);
      r.snapshots.push_back(snapshot(out, in, w));
      previous = out;
    } catch (const graph::Unsupported& e) {
      r.error_call = c, r.error = e.what(), r.refusal = true;
      break;
    } catch (const Error& e) {
      r.error_call = c, r.error = e.what();
      break;
    }
  }
  return r;
}

}  // namespace

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::Equal: return "equal";
    case Outcome::Refused: return "refused";
    case Outcome::Mismatch: return "MISMATCH";
    case Outcome::GraphOnlyError: return "GRAPH-ONLY ERROR";
    case Outcome::EagerOnlyError: return "EAGER-ONLY ERROR";
    case Outcome::HarnessError: return "HARNESS ERROR";
  }
  return "?";
}

Result run_differential(const Program& p) {
  manual_seed(p.seed);
  World we = make_world(p);
  Run eager = run_mode(p, we, [&](const std::vector<Tensor>& in) { return run_body(p, we, in); });

  manual_seed(p.seed);
  World wg = make_world(p);
  auto compiled = graph::compile([&](const std::vector<Tensor>& in) { return run_body(p, wg, in); }, p.options);
  Run graph = run_mode(p, wg, [&](const std::vector<Tensor>& in) { return compiled(in); });

  if (std::getenv("DUET_FUZZ_VERBOSE")) {  // every snapshot of both modes
    for (const auto& [mode, run] : {std::pair<const char*, const Run*>{"eager", &eager}, {"graph", &graph}}) {
      for (size_t c = 0; c < run->snapshots.size(); ++c)
        for (const auto& [name, t] : run->snapshots[c].tensors)
          std::fprintf(stderr, "%s call %zu %s: %s\n", mode, c, name.c_str(), t.defined() ? t.str().c_str() : "undefined");
      if (run->error_call >= 0) std::fprintf(stderr, "%s error at call %d: %s\n", mode, run->error_call, run->error.c_str());
    }
  }
  Result r;
  const size_t common = std::min(eager.snapshots.size(), graph.snapshots.size());
  for (size_t c = 0; c < common; ++c) {
    std::string diff = compare(eager.snapshots[c], graph.snapshots[c]);
    if (!diff.empty()) return {Outcome::Mismatch, int(c), diff};
  }
  if (eager.error_call == graph.error_call) return r;
  const bool graph_first = graph.error_call >= 0 && (eager.error_call < 0 || graph.error_call < eager.error_call);
  if (graph_first) return {graph.refusal ? Outcome::Refused : Outcome::GraphOnlyError, graph.error_call, graph.error};
  return {Outcome::EagerOnlyError, eager.error_call, eager.error};
}

Result run_seed(uint64_t seed) {
  try {
    return run_differential(generate(seed));
  } catch (const std::exception& e) {
    return {Outcome::HarnessError, -1, e.what()};
  }
}

}  // namespace duet::fuzz
