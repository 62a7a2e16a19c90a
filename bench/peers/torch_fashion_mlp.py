#!/usr/bin/env python3
"""fashion-mlp on PyTorch: the peer of duet's `fashion_mlp`, for bench/report.py.

    .venv/bin/python bench/peers/torch_fashion_mlp.py --mode eager|compile [--epochs 5]
        [--batch 128] [--lr 1e-3] [--seed 0] [--threads 2] [--limit N] [--json PATH]

The recipe of shared/WORKLOADS.md: MLP 784-256-128-10 with ReLU and nn.Linear's default
init, cross-entropy, Adam(1e-3, (0.9, 0.999), 1e-8), batch 128 reshuffled each epoch with
the last partial batch kept. Modes:
- eager:   the plain training step;
- compile: the same step under torch.compile (default inductor backend, which generates
           and compiles C++ with g++ at run time). dynamic=False: the full batch and the
           last partial batch each get their own static specialisation.
Each step is timed synchronously (loss.item() inside the timing); batch gathering is
outside it, as in duet's loop. The record's fields match duet's --json ones.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

MODES = ["eager", "compile"]


def main():
    args, torch, (x_train, y_train), (x_test, y_test) = common.start_torch(MODES)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)

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

    print(f"fashion-mlp: pytorch {torch.__version__}, mode {args.mode}, {args.epochs} epochs, "
          f"batch {args.batch}, lr {args.lr:g}, seed {args.seed}, threads {torch.get_num_threads()}", flush=True)
    timer = common.train(args, len(y_train), gather, lambda xb, yb: step_fn(xb, yb).item())

    # Evaluation in chunks of 1000, without autograd, on the trained (shared) parameters.
    model.eval()
    with torch.no_grad():
        accuracy = common.accuracy(lambda x: model(torch.from_numpy(x)).argmax(1).numpy(), x_test, y_test)
    rec = timer.record("pytorch", args.mode, args, compiled=args.mode == "compile")
    rec["framework_version"] = torch.__version__
    common.finish(rec, accuracy, args.json)


if __name__ == "__main__":
    main()
