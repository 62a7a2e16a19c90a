#!/usr/bin/env python3
"""fashion-lenet on TensorFlow/Keras: the peer of duet's `fashion_lenet`, for bench/report.py.

    .venv/bin/python bench/peers/tf_fashion_lenet.py --mode eager|function|xla [--epochs 5]
        [--batch 64] [--lr 1e-3] [--seed 0] [--threads 2] [--limit N] [--json PATH]

The recipe of shared/WORKLOADS.md (LeNet-5 for 28x28 images, cross-entropy, Adam 1e-3,
batch 64) with a custom training loop (GradientTape); modes, timing, threads and Adam as in
tf_fashion_mlp.py:
- eager:    the step runs op by op (no tf.function);
- function: the step under tf.function (one trace: the batch dimension is None);
- xla:      tf.function(jit_compile=True), compiled once per batch shape.
Keras convolutions read channels-last images, so examples are [N, 28, 28, 1] (the same
values as duet's and PyTorch's [N, 1, 28, 28]); Flatten therefore orders the 400 features
(h, w, c) rather than (c, h, w), a fixed permutation of Linear(400,120)'s inputs that
changes nothing for a model trained from scratch. "same" padding is padding 2 for a 5x5
kernel at stride 1. PyTorch's init with Keras initializers: kernels U(+-1/sqrt(fan_in))
(VarianceScaling(1/3, fan_in, uniform), what kaiming_uniform(a=sqrt(5)) gives; Keras's
fan_in of a conv kernel is in_channels x kh x kw, as PyTorch's), biases U(+-1/sqrt(fan_in)).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

WORKLOAD = "fashion-lenet"
MODES = ["eager", "function", "xla"]
EXAMPLE_SHAPE = (28, 28, 1)  # NHWC, Keras's default layout


def make_model(keras, seed):
    """LeNet-5 as in shared/WORKLOADS.md, initialised as PyTorch's Conv2d and Linear are."""
    def init(fan_in, i):
        bound = fan_in ** -0.5
        return dict(
            kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3, "fan_in", "uniform", seed=seed * 10 + i),
            bias_initializer=keras.initializers.RandomUniform(-bound, bound, seed=seed * 10 + 5 + i))

    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=EXAMPLE_SHAPE),
        layers.Conv2D(6, 5, padding="same", activation="relu", **init(1 * 5 * 5, 0)),   # (N, 28, 28, 6)
        layers.MaxPooling2D(2),                                                          # (N, 14, 14, 6)
        layers.Conv2D(16, 5, padding="valid", activation="relu", **init(6 * 5 * 5, 1)),  # (N, 10, 10, 16)
        layers.MaxPooling2D(2),                                                          # (N, 5, 5, 16)
        layers.Flatten(),                                                                # (N, 400)
        layers.Dense(120, activation="relu", **init(400, 2)),
        layers.Dense(84, activation="relu", **init(120, 3)),
        layers.Dense(10, **init(84, 4)),
    ])


def main():
    args, tf, keras, train, test = common.start_tensorflow(MODES, WORKLOAD, EXAMPLE_SHAPE)

    model = make_model(keras, args.seed)
    opt = keras.optimizers.Adam(learning_rate=args.lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    opt.build(model.trainable_variables)  # create slots before any tracing

    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    common.run_tensorflow(args, tf, keras, model, train_step, train, test, EXAMPLE_SHAPE)


if __name__ == "__main__":
    main()
