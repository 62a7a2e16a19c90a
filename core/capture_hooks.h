// What code above core may tell a graph capture running on its thread (graph/capture.h
// implements the interface; core only holds the pointer). Eager mode has no capture, and
// every call here is then a no-op, so code can call them unconditionally.
//
//   if (CaptureHooks* h = capture_hooks()) {
//     h->on_abort([saved = state_] { ... restore ... });         // capture failed
//     h->on_replay([] { ++host_counter; });                      // each later run
//     h->guard("Adam lr", [lr = lr_] { return lr == current(); });  // recapture when false
//   }
//
// Note [Host state under capture]: a captured step replays only tensor work. Host-side
// effects of the captured code (an optimizer's step counter), host values it reads (a
// learning rate, a module's training flag) and state it creates lazily are outside the
// graph; these hooks are how such code stays faithful: effects are undone if the
// capture fails and redone after every replay, values are guarded (a changed value
// recaptures), and lazily created state asks for one more eager call first.
#pragma once

#include <functional>
#include <string>

namespace duet {

class Storage;
class Tensor;

class CaptureHooks {
 public:
  virtual ~CaptureHooks() = default;
  // Runs `undo` (latest first) if the capture fails or is abandoned.
  virtual void on_abort(std::function<void()> undo) = 0;
  // Runs `redo` after every later run of the compiled step (not the one that captured).
  virtual void on_replay(std::function<void()> redo) = 0;
  // The compiled step is valid while `holds()`; when it turns false before a run, the
  // function is captured again. `what` names the value for reports.
  virtual void guard(std::string what, std::function<bool()> holds) = 0;
  // The captured code creates state on first use (an optimizer's moments): the capture is
  // abandoned, this call runs eagerly, and a later call captures.
  [[noreturn]] virtual void needs_eager_call(const std::string& why) = 0;
  // The values of `t` are being read on the host (item(), to_vector()).
  virtual void on_host_read(const Tensor& t) = 0;
  // `alias` aliases `t` without an op (detach()): the capture notes t's layout, since the
  // alias will not show whose memory it is, and that `alias` is a tensor made by the call.
  virtual void on_alias(const Tensor& t, const Tensor& alias) = 0;
  // The code refers to `t` itself without an op (an input of autograd::grad): the capture
  // treats it as read, so a caller's input sharing its memory is bound to it.
  virtual void on_identity_use(const Tensor& t) = 0;
  // Throws the capture's refusal error (graph::Unsupported) with this message.
  [[noreturn]] virtual void refuse(const std::string& why) = 0;
  // A real storage was made while the captured code ran (not suspended), or freed.
  virtual void on_new_storage(const Storage* s) = 0;
  virtual void on_storage_freed(const Storage* s) = 0;
};

// The capture running on this thread, or null (also while it is suspended: a
// CaptureSuspendGuard does not hide it).
CaptureHooks* capture_hooks();
void set_capture_hooks(CaptureHooks* hooks);

}  // namespace duet
