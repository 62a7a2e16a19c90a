"""Shared pieces of the peer-framework benchmarks (torch_<workload>.py, tf_<workload>.py).

The recipes live in shared/WORKLOADS.md; this module holds what does not depend on the
framework, so PyTorch and TensorFlow read the same data, shuffle the same way, time steps
the same way and write the same JSON record as duet's example programs (`fashion_mlp
--json`, `fashion_lenet --json`, `fashion_resnet --json`):

- the command line (--mode --epochs --batch --lr --seed --threads --limit --data --json),
  with each workload's defaults (WORKLOADS);
- thread pinning through the environment (must happen before the framework is imported);
- Fashion-MNIST from the IDX gzip files, normalised to float32 and shaped per example as
  the model reads it ([N, 784] for fashion-mlp; [N, 1, 28, 28] or [N, 28, 28, 1] for a CNN);
- per-epoch shuffled batch indices (last partial batch kept);
- the training loop (train: epochs of shuffled batches, each step timed, the learning rate
  set before each step when the recipe has a schedule) and test accuracy (accuracy);
- a StepTimer that turns step times and losses into the record's fields;
- a fresh inductor cache for torch.compile (fresh_inductor_cache).

Nothing here imports torch or tensorflow at load time: start_torch / start_tensorflow
import the framework once threads are pinned, and the framework's pieces (gathering a
batch, the step, the prediction) come in as functions.
"""
import argparse
import gzip
import json
import math
import os
import resource
import struct
import time

import numpy as np

DATA_DIR = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530
CURVE_EVERY = 20  # loss_curve: one point per this many steps, loss = their mean
# Each workload's recipe defaults (shared/WORKLOADS.md), as duet's programs have them.
WORKLOADS = {
    "fashion-mlp": {"epochs": 5, "batch": 128, "lr": 1e-3},
    "fashion-lenet": {"epochs": 5, "batch": 64, "lr": 1e-3},
    "fashion-resnet": {"epochs": 5, "batch": 128, "lr": 0.1},
}


def parse_args(framework, modes, argv=None, workload="fashion-mlp"):
    """The same flags as duet's programs (plus --data), with `workload`'s defaults; --mode
    picks the execution mode. The result's .workload names the workload."""
    defaults = WORKLOADS[workload]
    p = argparse.ArgumentParser(description=f"{workload} on {framework}")
    p.add_argument("--mode", default=modes[0], choices=modes)
    p.add_argument("--epochs", type=int, default=defaults["epochs"])
    p.add_argument("--batch", type=int, default=defaults["batch"])
    p.add_argument("--lr", type=float, default=defaults["lr"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit", type=int, default=-1, help="use only the first N train (and test) examples")
    p.add_argument("--data", default=DATA_DIR)
    p.add_argument("--json", default="", help="write the run's record here")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.batch < 1 or args.lr <= 0 or args.threads < 1:
        p.error("--epochs, --batch, --threads must be >= 1 and --lr > 0")
    args.workload = workload
    return args


def pin_threads(threads):
    """OpenMP/MKL/oneDNN read these at library load time, so call before importing torch/tf."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)


def fresh_inductor_cache():
    """A fresh inductor cache per run, so a torch peer's compile_seconds is a cold compile, as
    duet's is; removed at exit. Call before importing torch; an explicit
    TORCHINDUCTOR_CACHE_DIR is left alone."""
    if "TORCHINDUCTOR_CACHE_DIR" in os.environ:
        return
    import atexit
    import shutil
    import tempfile
    cache = tempfile.mkdtemp(prefix="duet-bench-inductor-")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
    atexit.register(shutil.rmtree, cache, ignore_errors=True)


def start_torch(modes, workload="fashion-mlp", example_shape=(784,)):
    """A PyTorch peer's start: its command line, threads pinned before torch loads (OpenMP
    reads OMP_NUM_THREADS then), a fresh inductor cache (compile_seconds is a cold compile,
    as duet's is), both splits (the training one as tensors) and the seed.
    Returns args, torch, (x_train, y_train), (x_test, y_test)."""
    args = parse_args("pytorch", modes, workload=workload)
    pin_threads(args.threads)
    fresh_inductor_cache()
    import torch

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    x_train, y_train = load_split(args.data, "train", args.limit, example_shape)
    x_test, y_test = load_split(args.data, "t10k", args.limit, example_shape)
    torch.manual_seed(args.seed)
    return args, torch, (torch.from_numpy(x_train), torch.from_numpy(y_train)), (x_test, y_test)


def start_tensorflow(modes, workload="fashion-mlp", example_shape=(784,)):
    """A TensorFlow peer's start: its command line, threads pinned before TensorFlow loads,
    no INFO/WARNING banners, Keras's seed and both splits.
    Returns args, tf, keras, (x_train, y_train), (x_test, y_test)."""
    args = parse_args("tensorflow", modes, workload=workload)
    pin_threads(args.threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import keras

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(args.seed)
    train = load_split(args.data, "train", args.limit, example_shape)
    test = load_split(args.data, "t10k", args.limit, example_shape)
    return args, tf, keras, train, test


def run_torch(args, torch, model, opt, train_split, test_split, lr_note="", set_lr=None):
    """A PyTorch peer's run after its model and optimizer: the cross-entropy training step
    (torch.compile'd in compile mode), the timed epochs, the test accuracy in eval mode
    without autograd, and the record."""
    x_train, y_train = train_split
    x_test, y_test = test_split

    def train_step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach()

    step_fn = torch.compile(train_step, dynamic=False) if args.mode == "compile" else train_step

    def gather(idx):
        idx = torch.from_numpy(idx)
        return x_train[idx], y_train[idx]

    print(f"{args.workload}: pytorch {torch.__version__}, mode {args.mode}, {args.epochs} epochs, "
          f"batch {args.batch}, lr {args.lr:g}{lr_note}, seed {args.seed}, threads {torch.get_num_threads()}",
          flush=True)
    timer = train(args, len(y_train), gather, lambda xb, yb: step_fn(xb, yb).item(), set_lr)
    model.eval()  # batch norm's running statistics, where there is batch norm
    with torch.no_grad():
        test_accuracy = accuracy(lambda x: model(torch.from_numpy(x)).argmax(1).numpy(), x_test, y_test)
    rec = timer.record("pytorch", args.mode, args, compiled=args.mode == "compile")
    rec["framework_version"] = torch.__version__
    finish(rec, test_accuracy, args.json)


def run_tensorflow(args, tf, keras, model, train_step, train_split, test_split, example_shape, lr_note="",
                   set_lr=None):
    """A TensorFlow peer's run after its model and training step (x, y) -> loss: the step as
    written (eager), in tf.function (function) or compiled by XLA (xla), the timed epochs,
    the test accuracy with training=False, and the record."""
    x_train, y_train = train_split
    x_test, y_test = test_split
    signature = [tf.TensorSpec([None, *example_shape], tf.float32), tf.TensorSpec([None], tf.int64)]
    if args.mode == "function":
        step_fn = tf.function(train_step, input_signature=signature)
    elif args.mode == "xla":
        step_fn = tf.function(train_step, input_signature=signature, jit_compile=True)
    else:
        step_fn = train_step
    print(f"{args.workload}: tensorflow {tf.__version__} (keras {keras.__version__}), mode {args.mode}, "
          f"{args.epochs} epochs, batch {args.batch}, lr {args.lr:g}{lr_note}, seed {args.seed}, "
          f"threads {args.threads}", flush=True)
    timer = train(args, len(y_train), lambda idx: (tf.constant(x_train[idx]), tf.constant(y_train[idx])),
                  lambda xb, yb: float(step_fn(xb, yb).numpy()), set_lr)
    test_accuracy = accuracy(lambda x: np.argmax(model(tf.constant(x), training=False).numpy(), axis=1),
                             x_test, y_test)
    rec = timer.record("tensorflow", args.mode, args, compiled=args.mode != "eager")
    rec["framework_version"] = tf.__version__
    finish(rec, test_accuracy, args.json)


def read_idx(path):
    """Reads one gzip'd IDX file (big-endian header: magic, then one uint32 per dimension)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = struct.unpack(">I", raw[:4])[0]
    assert magic >> 8 == 0x08, f"{path}: not an unsigned-byte IDX file (magic {magic:#x})"
    ndim = magic & 0xFF
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(root, prefix, limit, example_shape=(784,)):
    """(images float32 [N, *example_shape] normalised, labels int64 [N]) for prefix 'train'
    or 't10k'; example_shape holds 784 values: (784,), (1, 28, 28) or (28, 28, 1)."""
    x = read_idx(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz"))
    if limit >= 0:
        x, y = x[:limit], y[:limit]
    # In place after the one float32 copy, so no temporaries inflate peak RSS (the float
    # data, 188 MB for the training set, is what duet holds too).
    x = x.reshape(len(x), *example_shape).astype(np.float32)
    x /= 255.0
    x -= MEAN
    x /= STD
    return x, y.astype(np.int64)


def epoch_batches(n, batch, rng):
    """Index arrays for one epoch: a fresh permutation, cut into batches; the last may be short."""
    perm = rng.permutation(n)
    return [perm[i:i + batch] for i in range(0, n, batch)]


def cosine_lr(base, step, total):
    """The rate of step `step` (0-based) of `total`: cosine decay from base to 0 over the run,
    as duet's fashion_resnet lr_at_step computes it."""
    return base * 0.5 * (1 + math.cos(math.pi * step / max(1, total)))


def train(args, n, gather, step, set_lr=None):
    """The training loop every peer shares, as duet's: args.epochs epochs over the n training
    examples, each a fresh seeded permutation cut into batches of args.batch (the last may be
    short). Per batch, with idx its example indices (numpy int64):
      set_lr(global_step, total_steps)  optional: the step's learning rate, set before the
                                        timer starts (duet sets the optimizer's rate there too);
      gather(idx) -> tuple              the step's inputs, gathered outside the timing;
      step(*inputs) -> float            one synchronous training step, timed; its loss.
    Returns the StepTimer, ready for record()."""
    rng = np.random.default_rng(args.seed)
    timer = StepTimer()
    total_steps = args.epochs * ((n + args.batch - 1) // args.batch)
    global_step = 0
    timer.start()
    for epoch in range(args.epochs):
        batches = epoch_batches(n, args.batch, rng)
        for i, idx in enumerate(batches):
            if set_lr is not None:
                set_lr(global_step, total_steps)
            inputs = gather(idx)
            t0 = time.perf_counter()
            loss = step(*inputs)
            timer.step((time.perf_counter() - t0) * 1e3, loss, len(idx))
            global_step += 1
            progress(epoch, args.epochs, i + 1, len(batches), loss)
        timer.end_epoch()
    return timer


def accuracy(predict, x_test, y_test, chunk=1000):
    """Test accuracy, in chunks of 1000 as duet evaluates: predict(images) gives the predicted
    classes (numpy) of a chunk of numpy images. The caller puts the model in eval/no-grad mode."""
    correct = 0
    for s in range(0, len(y_test), chunk):
        correct += int((predict(x_test[s:s + chunk]) == y_test[s:s + chunk]).sum())
    return correct / max(1, len(y_test))


def percentile(values, q):
    """Linear interpolation between order statistics, as duet's examples/common/metrics.cpp does."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q * 100)) if values else 0.0


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


class StepTimer:
    """Collects per-step wall times and losses, and per-epoch times, for the record.

    Usage: start() before the first epoch; step(ms, loss, batch_size) after each step
    (time measured by the caller around the synchronous step); end_epoch() after each epoch.
    """

    def __init__(self):
        self.step_ms, self.losses, self.epoch_seconds = [], [], []
        self.curve, self.samples = [], 0
        self.first_ms_by_batch = {}  # batch size -> time of its first step (compiles happen there)

    def start(self):
        self.t_start = self.t_epoch = time.perf_counter()
        self.epoch_losses = []

    def step(self, ms, loss, batch_size):
        self.step_ms.append(ms)
        self.losses.append(loss)
        self.epoch_losses.append(loss)
        self.samples += batch_size
        self.first_ms_by_batch.setdefault(batch_size, ms)
        if len(self.losses) % CURVE_EVERY == 0:
            window = self.losses[-CURVE_EVERY:]
            self.curve.append([time.perf_counter() - self.t_start, sum(window) / len(window)])

    def end_epoch(self):
        now = time.perf_counter()
        self.epoch_seconds.append(now - self.t_epoch)
        self.final_train_loss = sum(self.epoch_losses) / max(1, len(self.epoch_losses))
        self.train_seconds = now - self.t_start
        self.t_epoch, self.epoch_losses = now, []

    def record(self, framework, mode, args, compiled):
        """The fields shared with duet's record. compile_seconds (compiled modes only) sums, over
        each distinct batch shape, its first step's time above the median step: the full batch
        and, when the data does not divide evenly, the last partial one (a second specialisation)."""
        median = percentile(self.step_ms, 0.5)
        rec = {
            "workload": args.workload, "framework": framework, "mode": mode, "device": "cpu",
            "threads": args.threads, "batch": args.batch, "epochs": args.epochs, "seed": args.seed,
            "lr": args.lr, "steps": len(self.step_ms),
            "epoch_seconds": self.epoch_seconds,
            "first_steps_ms": self.step_ms[:5],  # shows the warm-up
            "step_ms_median": median, "step_ms_p90": percentile(self.step_ms, 0.9),
            "samples_per_second": self.samples / self.train_seconds,
            "final_train_loss": self.final_train_loss,
            "loss_curve": self.curve,
        }
        if os.environ.get("DUET_BENCH_ALL_STEPS"):  # every step's time, for looking at warm-up
            rec["step_ms"] = self.step_ms
        if compiled:
            rec["compile_seconds"] = sum(max(0.0, ms - median) for ms in self.first_ms_by_batch.values()) / 1e3
            rec["first_step_ms"] = self.step_ms[0]
        return rec


def finish(rec, test_accuracy, json_path):
    """Adds accuracy and peak RSS, prints a summary like duet's, writes the JSON record."""
    rec["test_accuracy"] = test_accuracy
    rec["peak_rss_bytes"] = peak_rss_bytes()
    print(f"{rec['framework']} {rec['mode']}: threads {rec['threads']} | epoch time {rec['epoch_seconds'][-1]:.2f} s "
          f"(last) | step {rec['step_ms_median']:.2f} ms median, {rec['step_ms_p90']:.2f} ms p90 | "
          f"{rec['samples_per_second']:.0f} samples/s")
    extra = f" | compile {rec['compile_seconds']:.2f} s" if "compile_seconds" in rec else ""
    print(f"final train loss {rec['final_train_loss']:.4f} | test accuracy {test_accuracy:.4f} | "
          f"peak RSS {rec['peak_rss_bytes'] / 1e6:.1f} MB{extra}", flush=True)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(rec, f)
            f.write("\n")
        print(f"wrote {json_path}")


def progress(epoch, epochs, step, steps, loss):
    """One line every 100 steps and at each epoch's end (logs stay short)."""
    if step % 100 == 0 or step == steps:
        print(f"epoch {epoch + 1}/{epochs} {step}/{steps} loss {loss:.4f}", flush=True)
