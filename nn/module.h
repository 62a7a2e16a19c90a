// Module: the base of every layer and model, as torch::nn::Module. It owns named
// parameters, buffers and child modules, and gives recursive access to them.
//
//   struct Mlp : nn::Module {
//     std::shared_ptr<nn::Linear> fc1, fc2;
//     Mlp() : Module("Mlp") {
//       fc1 = register_module("fc1", std::make_shared<nn::Linear>(784, 256));
//       fc2 = register_module("fc2", std::make_shared<nn::Linear>(256, 10));
//     }
//     Tensor forward(const Tensor& x) override { return fc2->forward(relu(fc1->forward(x))); }
//   };
//   Mlp model;  model.parameters();  model.state_dict();  std::cout << model;
#pragma once

#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/named_tensors.h"
#include "core/tensor.h"

namespace duet::nn {

class Module {
 public:
  explicit Module(std::string type_name = "Module") : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The single-tensor forward that Sequential chains. Modules with other signatures
  // define their own forward and leave this one to report the mismatch.
  virtual Tensor forward(const Tensor& input);
  Tensor operator()(const Tensor& input) { return forward(input); }

  const std::string& type_name() const { return type_name_; }
  // The text inside the parentheses when printed, e.g. "in_features=784, out_features=256".
  virtual std::string extra_repr() const { return ""; }

  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_parameters(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }

  void train(bool on = true);
  void eval() { train(false); }
  // Under graph capture, the compiled step is specialised to the mode it read: a later
  // train()/eval() captures again (Note [Host state under capture] in core/capture_hooks.h).
  bool is_training() const;
  // Clears (set_to_none) or zeroes every parameter's gradient.
  void zero_grad(bool set_to_none = true);
  // Moves/converts parameters and buffers in place, so optimizers holding them stay valid.
  void to(Device device);
  void to(DType dtype);

  // Parameters and buffers by dotted name ("fc1.weight").
  NamedTensors state_dict() const;
  // Copies values in; names and shapes must match (strict: no missing or extra keys).
  void load_state_dict(const NamedTensors& state, bool strict = true);

  std::string str() const;  // the module tree, as PyTorch prints it

 protected:
  Tensor register_parameter(const std::string& name, Tensor value, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor value);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name) const;
  void collect(NamedTensors& out, const std::string& prefix, bool params, bool recurse) const;
  void str_into(std::string& out, int indent) const;

  std::string type_name_;
  bool training_ = true;
  std::shared_ptr<bool> mode_ = std::make_shared<bool>(true);  // training_, for capture guards that outlive this
  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

std::ostream& operator<<(std::ostream& os, const Module& m);

// Replaces a tensor's contents (storage, shape, dtype, device) in place, keeping its
// identity — what Module::to and load paths use so that references stay valid.
void set_data(const Tensor& target, const Tensor& value);

}  // namespace duet::nn
