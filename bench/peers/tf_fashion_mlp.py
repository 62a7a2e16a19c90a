#!/usr/bin/env python3
"""fashion-mlp on TensorFlow/Keras: the peer of duet's `fashion_mlp`, for bench/report.py.

    .venv/bin/python bench/peers/tf_fashion_mlp.py --mode eager|function|xla [--epochs 5]
        [--batch 128] [--lr 1e-3] [--seed 0] [--threads 2] [--limit N] [--json PATH]

The recipe of shared/WORKLOADS.md, with a custom training loop (GradientTape):
- eager:    the step runs op by op (no tf.function);
- function: the step under tf.function (one trace: the batch dimension is None);
- xla:      tf.function(jit_compile=True): XLA compiles the whole step, once per batch
            shape (the full batch and the last partial one).
PyTorch's nn.Linear init, done with Keras initializers: weights U(+-1/sqrt(fan_in)) (what
kaiming_uniform(a=sqrt(5)) gives: VarianceScaling(1/3, fan_in, uniform)), biases
U(+-1/sqrt(fan_in)). Adam is Keras's own, lr 1e-3, betas (0.9, 0.999), epsilon 1e-8; note
that Keras adds epsilon to sqrt(v) before bias correction and PyTorch after it, which only
changes the (negligible) epsilon term. Threads: intra-op 2, inter-op 1. Each step is timed
synchronously (loss.numpy() inside the timing); batch gathering is outside it.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

MODES = ["eager", "function", "xla"]


def make_model(keras, seed):
    """784-256-128-10 with ReLU, initialised as PyTorch's nn.Linear does."""
    layers = [keras.Input(shape=(784,))]
    for i, (fan_in, width) in enumerate([(784, 256), (256, 128), (128, 10)]):
        bound = fan_in ** -0.5
        layers.append(keras.layers.Dense(
            width, activation="relu" if width != 10 else None,
            kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3, "fan_in", "uniform", seed=seed * 10 + i),
            bias_initializer=keras.initializers.RandomUniform(-bound, bound, seed=seed * 10 + 5 + i)))
    return keras.Sequential(layers)


def main():
    args, tf, keras, train, test = common.start_tensorflow(MODES)

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

    common.run_tensorflow(args, tf, keras, model, train_step, train, test, (784,))


if __name__ == "__main__":
    main()
