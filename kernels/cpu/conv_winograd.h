// Winograd F(2x2, 3x3) convolution (float32, AVX-512) for the 3x3, stride-1 layers where it
// beats the direct kernels, on the same padded grid (conv_grid.h). conv_direct.cpp's forward
// (and so the stride-1 input gradient, itself a forward) calls it where winograd_applies
// says so; conv_winograd.cpp says how it works and where it wins.
#pragma once

#include "kernels/cpu/conv_grid.h"

namespace duet::cpu {

// Whether the forward of plan p (a stride-1 grid plan, conv_grid.h) runs on Winograd tiles:
// 3x3 taps, stride and dilation 1, one group, at least 8 input and output channels, tiles
// that cover the output without wasting much of the grid (the 7 x 7 layers do not), and
// Winograd enabled (set_conv_winograd).
bool winograd_applies(const conv_grid::Plan& p);

// out: contiguous [N, OC, OH, OW]; w: contiguous [OC, C, 3, 3], as the forward reads it
// (the input gradient passes its flipped, transposed weights). epilogue as in conv_direct.h.
void winograd_forward(const conv_grid::Plan& p, const ImageView& x, const float* w, float* out,
                      const ConvBlockEpilogue* epilogue);

// Whether the weight gradient of plan p runs on Winograd tiles: winograd_applies(p), 16,
// 32, 48 or 64 output channels (they are the vector lanes; conv_winograd.cpp, Note
// [Winograd weight gradient]) and a sample's transformed operands within 4 MB.
bool winograd_weight_grad_applies(const conv_grid::Plan& p);

// dw: contiguous [OC, C, 3, 3] (overwritten); samples summed in chunks of `chunk`, the
// chunks added in order, as conv_direct_weight_grad.
void winograd_weight_grad(const conv_grid::Plan& p, const ImageView& dy, const ImageView& x, float* dw,
                          int64_t chunk);

// On by default; off makes every layer take the direct tiles (benchmarks and tests compare).
void set_conv_winograd(bool on);
bool conv_winograd();

// Winograd on or off for one scope, then back to what it was.
class ConvWinogradScope {
 public:
  explicit ConvWinogradScope(bool on) : was_(conv_winograd()) { set_conv_winograd(on); }
  ~ConvWinogradScope() { set_conv_winograd(was_); }
  ConvWinogradScope(const ConvWinogradScope&) = delete;
  ConvWinogradScope& operator=(const ConvWinogradScope&) = delete;

 private:
  bool was_;
};

}  // namespace duet::cpu
