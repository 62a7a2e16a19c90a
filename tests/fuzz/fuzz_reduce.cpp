// Shrinks a failing fuzz program (see fuzz_reduce.h): greedy deletion of body instructions,
// outputs, host actions and calls, keeping each deletion that leaves the outcome as it was.
#include "tests/fuzz/fuzz_reduce.h"

namespace duet::fuzz {
namespace {

bool pushes_slot(const Instr& in) {
  switch (in.code) {
    case Code::InPlace: case Code::InPlaceScalar: case Code::InPlaceUnary: case Code::Copy:
    case Code::Backward: case Code::OptStep: case Code::ZeroGrad: case Code::SetGrad:
      return false;
    default:
      return true;
  }
}

// The slot each body instruction pushes (-1 when it pushes none).
std::vector<int> pushed_slots(const Program& p) {
  std::vector<int> out;
  int slot = int(p.slots_at_start());
  for (const Instr& in : p.body) out.push_back(pushes_slot(in) ? slot++ : -1);
  return out;
}

bool uses(const Instr& in, int slot) { return in.a == slot || in.b == slot || in.c == slot; }

// `p` without body instruction i, or nothing when a later instruction or output reads its slot.
std::optional<Program> without_instr(const Program& p, size_t i) {
  const int slot = pushed_slots(p)[i];
  Program q = p;
  q.body.erase(q.body.begin() + std::ptrdiff_t(i));
  if (slot < 0) return q;
  for (size_t j = i; j < q.body.size(); ++j)
    if (uses(q.body[j], slot)) return std::nullopt;
  for (int o : q.outputs)
    if (o == slot) return std::nullopt;
  for (auto [input, output] : q.feedback)
    if (q.outputs[size_t(output)] == slot) return std::nullopt;
  auto shift = [slot](int& s) { if (s > slot) --s; };
  for (size_t j = i; j < q.body.size(); ++j) shift(q.body[j].a), shift(q.body[j].b), shift(q.body[j].c);
  for (int& o : q.outputs) shift(o);
  return q;
}

std::optional<Program> without_output(const Program& p, size_t i) {
  for (auto [input, output] : p.feedback)
    if (size_t(output) >= i) return std::nullopt;
  Program q = p;
  q.outputs.erase(q.outputs.begin() + std::ptrdiff_t(i));
  return q;
}

}  // namespace

Program reduce(const Program& original, const Result& failure) {
  auto same = [&](const Program& q) {
    try {
      return run_differential(q).outcome == failure.outcome;
    } catch (const std::exception&) {
      return false;
    }
  };
  Program p = original;
  for (bool changed = true; changed;) {
    changed = false;
    while (p.calls > 1) {  // fewer calls first: every later try is cheaper
      Program q = p;
      --q.calls;
      if (!same(q)) break;
      p = std::move(q), changed = true;
    }
    for (size_t i = p.actions.size(); i-- > 0;) {
      Program q = p;
      q.actions.erase(q.actions.begin() + std::ptrdiff_t(i));
      if (same(q)) p = std::move(q), changed = true;
    }
    for (size_t i = p.body.size(); i-- > 0;) {
      std::optional<Program> q = without_instr(p, i);
      if (q && same(*q)) p = std::move(*q), changed = true;
    }
    for (size_t i = p.outputs.size(); i-- > 0;) {
      std::optional<Program> q = without_output(p, i);
      if (q && same(*q)) p = std::move(*q), changed = true;
    }
  }
  return p;
}

}  // namespace duet::fuzz
