// Op-table cases for convolution and pooling and their backward ops: strides, padding,
// dilation, groups (depthwise too), 1x1 convolutions, asymmetric kernels, ceil_mode and
// count_include_pad, empty batches and channels, transposed and strided inputs, float32
// and float64, and LeNet-sized cases large enough to be split across threads.
#include "core/ops/conv_geometry.h"
#include "tests/reference/op_cases.h"
#include "tests/reference/reference_conv.h"

namespace duet::cases {
namespace {

struct ConvShape {
  Shape x, w;
  bool bias;
  Shape stride, padding, dilation;
  int64_t groups;
  bool threads = false;
};

const std::vector<ConvShape> kConvShapes = {
    {{2, 3, 7, 6}, {4, 3, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 1},
    {{2, 3, 9, 8}, {4, 3, 3, 3}, false, {2, 2}, {0, 0}, {2, 2}, 1},
    {{2, 6, 5, 5}, {6, 2, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 3},   // groups
    {{1, 4, 6, 6}, {4, 1, 3, 3}, true, {2, 2}, {1, 1}, {1, 1}, 4},   // depthwise, one sample
    {{3, 5, 4, 4}, {3, 5, 1, 1}, false, {1, 1}, {0, 0}, {1, 1}, 1},  // 1x1: no unfolding
    {{2, 4, 5, 5}, {6, 4, 1, 1}, true, {2, 2}, {0, 0}, {1, 1}, 1},   // 1x1 with stride
    {{2, 2, 6, 7}, {3, 2, 2, 3}, true, {2, 1}, {1, 0}, {1, 2}, 1},   // asymmetric everything
    {{2, 3, 2, 2}, {2, 3, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 1},   // kernel larger than the input
    {{0, 3, 5, 5}, {2, 3, 3, 3}, true, {1, 1}, {0, 0}, {1, 1}, 1},   // empty batch
    {{2, 0, 5, 5}, {2, 0, 3, 3}, true, {1, 1}, {0, 0}, {1, 1}, 1},   // no input channels: the bias
    {{9, 1, 28, 28}, {6, 1, 5, 5}, true, {1, 1}, {2, 2}, {1, 1}, 1, true},   // LeNet conv1
    {{10, 6, 14, 14}, {16, 6, 5, 5}, true, {1, 1}, {0, 0}, {1, 1}, 1, true},  // LeNet conv2
    {{3, 16, 14, 14}, {32, 16, 3, 3}, false, {2, 2}, {1, 1}, {1, 1}, 1, true},
};

Attrs conv_attrs(const ConvShape& c) {
  return Attrs().set("stride", c.stride).set("padding", c.padding).set("dilation", c.dilation).set("groups", c.groups);
}
ref::ConvGeom conv_geom(const ConvShape& c) {
  return {c.stride[0], c.stride[1], c.padding[0], c.padding[1], c.dilation[0], c.dilation[1], c.groups};
}
Shape conv_out(const ConvShape& c) {
  Window2d g = Window2d::conv(conv_attrs(c), c.w[2], c.w[3]);
  return {c.x[0], c.w[0], g.out_h(c.x[2]), g.out_w(c.x[3])};
}
std::string conv_desc(const ConvShape& c, DType dt) {
  return describe(dt, c.x) + " * " + shape_str(c.w) + (c.bias ? " + bias" : "") + " stride " + shape_str(c.stride) +
         " pad " + shape_str(c.padding) + " dil " + shape_str(c.dilation) + " groups " + std::to_string(c.groups);
}

struct PoolShape {
  Shape x, kernel, stride, padding, dilation;
  bool ceil_mode, count_include_pad;
  bool threads = false;
};
const std::vector<PoolShape> kPoolShapes = {
    {{2, 3, 8, 8}, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false, true},
    {{2, 3, 7, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, false, true},
    {{2, 3, 7, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, false, false},  // padding not counted
    {{1, 2, 7, 7}, {2, 2}, {2, 2}, {0, 0}, {1, 1}, true, true},    // ceil_mode: a partial window
    {{1, 2, 6, 5}, {3, 2}, {2, 1}, {1, 1}, {1, 1}, true, false},
    {{2, 2, 9, 9}, {3, 3}, {1, 1}, {1, 1}, {2, 2}, false, true},   // dilation (max only)
    {{0, 3, 4, 4}, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false, true},   // empty batch
    {{16, 6, 28, 28}, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false, true, true},  // LeNet pool1
};

Attrs pool_attrs(const PoolShape& p, bool max) {
  Attrs a = Attrs().set("kernel", p.kernel).set("stride", p.stride).set("padding", p.padding).set("ceil_mode", p.ceil_mode);
  if (max) a.set("dilation", p.dilation);
  else a.set("count_include_pad", p.count_include_pad);
  return a;
}
ref::PoolGeom pool_geom(const PoolShape& p, bool max) {
  return {p.kernel[0], p.kernel[1], p.stride[0], p.stride[1], p.padding[0], p.padding[1],
          max ? p.dilation[0] : 1, max ? p.dilation[1] : 1, p.ceil_mode, p.count_include_pad};
}
Shape pool_out(const PoolShape& p, bool max) {
  Window2d g = Window2d::pool(pool_attrs(p, max));
  return {p.x[0], p.x[1], g.out_h(p.x[2]), g.out_w(p.x[3])};
}

constexpr DType kFloatTypes[] = {DType::Float32, DType::Float64};

// The layouts a case's tensor inputs take: all contiguous, then (float32) transposed and strided.
std::vector<Layout> layouts_for(DType dt, size_t i) {
  if (dt != DType::Float32 || i % 2) return {Layout::Contiguous};
  return {Layout::Contiguous, Layout::Transposed, Layout::Strided};
}

}  // namespace

void conv_cases(OpKind op, const CaseSink& sink) {
  Inputs in(601);
  for (DType dt : kFloatTypes)
    for (size_t i = 0; i < kConvShapes.size(); ++i)
      for (Layout l : layouts_for(dt, i)) {
        const ConvShape& c = kConvShapes[i];
        const ref::ConvGeom g = conv_geom(c);
        const ref::Tol tol = ref::scaled(ref::default_tol(dt), 4);
        const std::string desc = conv_desc(c, dt) + " " + layout_name(l);
        const Attrs attrs = conv_attrs(c);
        const Shape ys = conv_out(c);
        if (op == OpKind::conv2d) {
          Tensor x = in.make(dt, c.x, l), w = in.make(dt, c.w, l);
          const Tensor bias = c.bias ? in.make(dt, {c.w[0]}, l == Layout::Strided ? l : Layout::Contiguous) : Tensor();
          const RefTensor b = c.bias ? ref::read(bias) : RefTensor();
          std::vector<Tensor> inputs = c.bias ? std::vector<Tensor>{x, w, bias} : std::vector<Tensor>{x, w};
          sink({desc, inputs, attrs, ref::conv2d(ref::read(x), ref::read(w), c.bias ? &b : nullptr, g), tol, false, c.threads});
        } else if (op == OpKind::conv2d_input_grad) {
          Tensor dy = in.make(dt, ys, l), w = in.make(dt, c.w, l);
          sink({desc, {dy, w}, Attrs(attrs).set("input_shape", c.x),
                ref::conv2d_input_grad(ref::read(dy), ref::read(w), c.x, g), tol, false, c.threads});
        } else {
          Tensor dy = in.make(dt, ys, l), x = in.make(dt, c.x, l);
          sink({desc, {dy, x}, Attrs(attrs).set("weight_shape", c.w),
                ref::conv2d_weight_grad(ref::read(dy), ref::read(x), c.w, g), tol, false, c.threads});
        }
      }
}

void pool_cases(OpKind op, const CaseSink& sink) {
  Inputs in(602);
  const bool max = op == OpKind::max_pool2d || op == OpKind::max_pool2d_backward;
  for (DType dt : kFloatTypes)
    for (size_t i = 0; i < kPoolShapes.size(); ++i) {
      const PoolShape& p = kPoolShapes[i];
      if (!max && p.dilation != Shape{1, 1}) continue;
      for (Layout l : layouts_for(dt, i)) {
        const ref::PoolGeom g = pool_geom(p, max);
        const ref::Tol tol = ref::scaled(ref::default_tol(dt), 4);
        const std::string desc = describe(dt, p.x, l) + " attrs " + pool_attrs(p, max).str();
        Tensor x = in.make(dt, p.x, l), dy = in.make(dt, pool_out(p, max), l);
        switch (op) {
          case OpKind::max_pool2d:
            sink({desc, {x}, pool_attrs(p, true), ref::max_pool2d(ref::read(x), g), tol, false, p.threads});
            break;
          case OpKind::max_pool2d_backward:
            sink({desc, {dy, x}, pool_attrs(p, true), ref::max_pool2d_backward(ref::read(dy), ref::read(x), g), tol,
                  false, p.threads});
            break;
          case OpKind::avg_pool2d:
            sink({desc, {x}, pool_attrs(p, false), ref::avg_pool2d(ref::read(x), g), tol, false, p.threads});
            break;
          default:
            sink({desc, {dy}, pool_attrs(p, false).set("input_shape", p.x),
                  ref::avg_pool2d_backward(ref::read(dy), p.x, g), tol, false, p.threads});
        }
      }
    }
}

void adaptive_pool_cases(OpKind op, const CaseSink& sink) {
  Inputs in(603);
  struct A {
    Shape x, out;
  };
  const std::vector<A> shapes = {{{2, 3, 7, 7}, {1, 1}},  {{2, 3, 7, 5}, {3, 2}}, {{1, 2, 4, 4}, {4, 4}},
                                 {{1, 2, 3, 5}, {5, 7}},  // more outputs than inputs: windows overlap
                                 {{0, 2, 4, 4}, {2, 2}},  {{8, 64, 7, 7}, {1, 1}}};
  for (DType dt : kFloatTypes)
    for (size_t i = 0; i < shapes.size(); ++i)
      for (Layout l : layouts_for(dt, i)) {
        const A& a = shapes[i];
        const ref::Tol tol = ref::scaled(ref::default_tol(dt), 4);
        const Attrs attrs = Attrs().set("output_size", a.out);
        const std::string desc = describe(dt, a.x, l) + " to " + shape_str(a.out);
        if (op == OpKind::adaptive_avg_pool2d) {
          Tensor x = in.make(dt, a.x, l);
          sink({desc, {x}, attrs, ref::adaptive_avg_pool2d(ref::read(x), a.out[0], a.out[1]), tol});
        } else {
          Tensor dy = in.make(dt, {a.x[0], a.x[1], a.out[0], a.out[1]}, l);
          sink({desc, {dy}, Attrs(attrs).set("input_shape", a.x), ref::adaptive_avg_pool2d_backward(ref::read(dy), a.x),
                tol});
        }
      }
}

}  // namespace duet::cases
