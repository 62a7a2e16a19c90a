// Storage lifetime: allocate from the device allocator, give back on destruction.
#include "core/storage.h"

#include "core/capture_hooks.h"
#include "core/dispatch.h"

namespace duet {

namespace {
// Graph capture keeps apart the real storages the captured code makes (Note [Constants
// made inside] in graph/capture.cpp).
void note_new(const Storage* s) {
  if (CaptureHooks* h = capture_hooks(); h && is_capturing()) h->on_new_storage(s);
}
}  // namespace

Storage::Storage(size_t nbytes, Device device)
    : nbytes_(nbytes), device_(device), allocator_(&allocator_for(device)) {
  data_ = allocator_->allocate(nbytes);
  note_new(this);
}

Storage::Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter)
    : data_(data), nbytes_(nbytes), device_(device), deleter_(std::move(deleter)) {
  note_new(this);
}

std::shared_ptr<Storage> Storage::symbolic(size_t nbytes, Device device) {
  auto s = std::make_shared<Storage>(nullptr, nbytes, device, nullptr);
  s->symbolic_ = true;
  return s;
}

Storage::~Storage() {
  if (CaptureHooks* h = capture_hooks()) h->on_storage_freed(this);
  if (allocator_) {
    allocator_->deallocate(data_, nbytes_);
  } else if (deleter_) {
    deleter_(data_);
  }
}

}  // namespace duet
