// The thread's capture hooks pointer (see capture_hooks.h).
#include "core/capture_hooks.h"

namespace duet {
namespace {
thread_local CaptureHooks* t_hooks = nullptr;
}  // namespace

CaptureHooks* capture_hooks() { return t_hooks; }
void set_capture_hooks(CaptureHooks* hooks) { t_hooks = hooks; }

}  // namespace duet
