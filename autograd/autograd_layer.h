// The autograd dispatch layer: when grad mode is on and an input requires grad, it runs
// the op below and gives the result a grad_fn (an OpNode) so backward can reach it.
#pragma once

namespace duet {

// Installs the layer into core's dispatch stack (idempotent; done when the first tensor
// asks for gradients).
void ensure_autograd_layer();

}  // namespace duet
