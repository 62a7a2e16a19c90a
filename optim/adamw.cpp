// AdamW: Adam's update with decoupled weight decay (see adamw.h and adam.cpp).
#include "optim/adamw.h"

namespace duet::optim {

AdamW::AdamW(std::vector<Tensor> params, double lr, AdamWOptions options)
    : Adam(std::move(params), lr,
           AdamOptions{.beta1 = options.beta1,
                       .beta2 = options.beta2,
                       .eps = options.eps,
                       .weight_decay = options.weight_decay,
                       .amsgrad = options.amsgrad},
           "AdamW", /*decoupled=*/true),
      options_(options) {}

}  // namespace duet::optim
