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
    args, torch, train, test = common.start_torch(MODES)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)

    common.run_torch(args, torch, model, opt, train, test)


if __name__ == "__main__":
    main()
