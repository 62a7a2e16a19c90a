// AdamW: Adam's update with decoupled weight decay (see adamw.h and adam.cpp).
#include "optim/adamw.h"

namespace duet::optim {

namespace {
AdamOptions adam_options(const AdamWOptions& o) {
  return {.beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = o.weight_decay, .amsgrad = o.amsgrad};
}
}  // namespace

AdamW::AdamW(std::vector<Tensor> params, double lr, AdamWOptions options)
    : AdamW(std::vector<ParamGroup>{{std::move(params), std::nullopt}}, lr, options) {}

AdamW::AdamW(std::vector<ParamGroup> groups, double lr, AdamWOptions options)
    : Adam(std::move(groups), lr, adam_options(options), "AdamW", /*decoupled=*/true), options_(options) {}

}  // namespace duet::optim
