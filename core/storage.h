// Storage: one refcounted block of device memory that tensors (and their views) share.
// It also holds the version counter that in-place ops bump, shared by all views of it.
// A symbolic storage (graph capture) has a size but no memory: it gives the tensors of a
// value being captured, and their views, the identity and version counter a real one would.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "core/allocator.h"

namespace duet {

class Storage {
 public:
  // Owned memory from the device's allocator.
  Storage(size_t nbytes, Device device);
  // Borrowed memory: `deleter` (may be empty) runs when the last tensor lets go.
  Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter);
  // Symbolic: no memory (graph capture).
  static std::shared_ptr<Storage> symbolic(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }
  bool is_symbolic() const { return symbolic_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  Allocator* allocator_ = nullptr;  // null for borrowed memory
  std::function<void(void*)> deleter_;
  uint64_t version_ = 0;
  bool symbolic_ = false;
};

}  // namespace duet
