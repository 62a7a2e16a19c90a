#!/usr/bin/env python3
"""fashion-resnet on TensorFlow/Keras: the peer of duet's `fashion_resnet`, for bench/report.py.

    .venv/bin/python bench/peers/tf_fashion_resnet.py --mode eager|function|xla [--epochs 5]
        [--batch 128] [--lr 0.1] [--seed 0] [--threads 2] [--limit N] [--json PATH]

The recipe of shared/WORKLOADS.md as examples/workloads/fashion_resnet.cpp builds it (see
torch_fashion_resnet.py: stem conv3x3-BN-ReLU, three stages of two basic blocks with 16, 32,
64 channels, stride 2 and a conv1x1-BN shortcut at the start of stages 2 and 3, global
average pool, Linear(64,10); SGD momentum 0.9, weight decay 5e-4, lr 0.1 with a per-step
cosine decay to 0; batch 128; 5 epochs; test accuracy with BN's running statistics), with a
custom training loop (GradientTape); modes, timing and threads as tf_fashion_mlp.py:
- eager:    the step runs op by op (no tf.function);
- function: the step under tf.function (one trace: the batch dimension is None);
- xla:      tf.function(jit_compile=True), compiled once per batch shape.
How the Keras pieces are made to match duet's (and PyTorch's):
- Images are channels-last [N, 28, 28, 1] (Keras's layout; the same values).
- Convs are bias-free. Stride 1 uses "same" padding (1 on each side for 3x3). A 3x3 stride 2
  conv is ZeroPadding2D(1) then a "valid" conv, because "same" at stride 2 on an even size
  pads only the bottom/right (windows shifted one pixel from PyTorch's padding 1); the 1x1
  stride 2 shortcut is "valid" (padding 0).
- Conv kernels Kaiming-normal (fan_out, relu): VarianceScaling(2, fan_out,
  untruncated_normal) (Keras's fan_out of a conv kernel is kh x kw x out_channels, as
  PyTorch's; its "normal" would truncate). The Dense layer has PyTorch's nn.Linear init, as
  in tf_fashion_mlp.py.
- BatchNormalization(momentum 0.9, epsilon 1e-5): Keras's momentum is the running
  statistics' decay, so this is PyTorch's and duet's momentum 0.1; gamma 1, beta 0.
- The optimizer is written out (torch.optim.SGD's and duet's update): g = grad + 5e-4 p on
  every trainable variable, b = 0.9 b + g, p -= lr b. Keras's SGD differs in both parts: its
  weight_decay is decoupled (p -= lr wd p, not through the momentum) and its momentum buffer
  accumulates lr x grad, so a changing lr rescales past gradients differently. The rate is a
  tf.Variable assigned before each step (outside the timing), so no step retraces.
The one difference left: Keras updates the moving variance with the batch's biased variance,
where duet and PyTorch use the unbiased one (x M/(M-1), M = N x H x W values per channel:
128 x 7 x 7 = 6272 or more for a full batch, 96 x 7 x 7 = 4704 for the full training set's
last batch), so the eval-mode variances differ by about 2e-4 relative: not worth replacing
Keras's own BatchNormalization layer (what a TensorFlow user would run) with a custom one.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

WORKLOAD = "fashion-resnet"
MODES = ["eager", "function", "xla"]
EXAMPLE_SHAPE = (28, 28, 1)  # NHWC, Keras's default layout
MOMENTUM, WEIGHT_DECAY = 0.9, 5e-4


def make_model(keras, seed):
    """The ResNet of shared/WORKLOADS.md (Keras functional API), initialised as duet's."""
    layers = keras.layers
    seeds = iter(range(seed * 100, seed * 100 + 100))  # one per initializer, as the lenet peer does

    def conv(x, cout, k, stride):
        if stride != 1 and k > 1:
            x = layers.ZeroPadding2D(k // 2)(x)  # PyTorch's symmetric padding (see the docstring)
        return layers.Conv2D(cout, k, strides=stride, padding="same" if stride == 1 else "valid", use_bias=False,
                             kernel_initializer=keras.initializers.VarianceScaling(
                                 2.0, "fan_out", "untruncated_normal", seed=next(seeds)))(x)

    def bn(x):
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)  # = momentum 0.1 in PyTorch

    def basic_block(x, cout, stride):
        """conv3x3-BN-ReLU-conv3x3-BN plus the shortcut (the identity, or conv1x1-BN when the
        block changes the shape), then ReLU."""
        y = layers.ReLU()(bn(conv(x, cout, 3, stride)))
        y = bn(conv(y, cout, 3, 1))
        shortcut = bn(conv(x, cout, 1, stride)) if stride != 1 or x.shape[-1] != cout else x
        return layers.ReLU()(layers.Add()([y, shortcut]))

    inputs = keras.Input(shape=EXAMPLE_SHAPE)
    x = layers.ReLU()(bn(conv(inputs, 16, 3, 1)))                                  # (N, 28, 28, 16)
    for cout in (16, 32, 64):                                                       # 28x28, 14x14, 7x7
        for block in range(2):
            x = basic_block(x, cout, 2 if block == 0 and cout != 16 else 1)
    x = layers.GlobalAveragePooling2D()(x)                                          # (N, 64)
    bound = 64 ** -0.5
    outputs = layers.Dense(
        10, kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3, "fan_in", "uniform", seed=next(seeds)),
        bias_initializer=keras.initializers.RandomUniform(-bound, bound, seed=next(seeds)))(x)
    return keras.Model(inputs, outputs)


def main():
    args, tf, keras, train, test = common.start_tensorflow(MODES, WORKLOAD, EXAMPLE_SHAPE)

    model = make_model(keras, args.seed)
    params = model.trainable_variables  # conv kernels, BN gamma/beta, Dense kernel/bias
    # SGD as torch.optim.SGD (see the docstring): a momentum buffer per variable, the rate a
    # variable the schedule assigns (created before any tracing).
    buffers = [tf.Variable(tf.zeros(p.shape, p.dtype), trainable=False) for p in params]
    lr = tf.Variable(args.lr, dtype=tf.float32, trainable=False)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)  # also updates BN's moving statistics
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        grads = tape.gradient(loss, params)
        for p, g, b in zip(params, grads, buffers):
            b.assign(MOMENTUM * b + (g + WEIGHT_DECAY * p))
            p.assign_sub(lr * b)
        return loss

    def set_lr(step, total_steps):
        lr.assign(common.cosine_lr(args.lr, step, total_steps))

    common.run_tensorflow(args, tf, keras, model, train_step, train, test, EXAMPLE_SHAPE, lr_note=" (cosine)",
                          set_lr=set_lr)


if __name__ == "__main__":
    main()
