// Device: where a tensor's memory lives. cpu, or cuda:N.
//   Device d = Device::parse("cuda:1");   // d.type == DeviceType::CUDA, d.index == 1
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace duet {

enum class DeviceType : uint8_t { CPU, CUDA };
inline constexpr int kNumDeviceTypes = 2;

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  // "cpu", "cuda", "cuda:N"; anything else is a duet::Error.
  static Device parse(const std::string& text);

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const;
  friend bool operator==(const Device&, const Device&) = default;
};

std::ostream& operator<<(std::ostream& os, const Device& d);

}  // namespace duet
