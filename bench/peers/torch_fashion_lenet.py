#!/usr/bin/env python3
"""fashion-lenet on PyTorch: the peer of duet's `fashion_lenet`, for bench/report.py.

    .venv/bin/python bench/peers/torch_fashion_lenet.py --mode eager|compile [--epochs 5]
        [--batch 64] [--lr 1e-3] [--seed 0] [--threads 2] [--limit N] [--json PATH]

The recipe of shared/WORKLOADS.md: LeNet-5 for 28x28 images [N, 1, 28, 28] (Conv2d(1,6,5,
padding 2) - ReLU - MaxPool2d(2) - Conv2d(6,16,5) - ReLU - MaxPool2d(2) - Flatten -
Linear(400,120) - ReLU - Linear(120,84) - ReLU - Linear(84,10)) with PyTorch's default
init, cross-entropy, Adam(1e-3, (0.9, 0.999), 1e-8), batch 64 reshuffled each epoch with
the last partial batch kept. Modes, timing and record as torch_fashion_mlp.py:
- eager:   the plain training step;
- compile: the same step under torch.compile (inductor, dynamic=False: the full batch and
           the last partial batch each get their own static specialisation).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

WORKLOAD = "fashion-lenet"
MODES = ["eager", "compile"]
EXAMPLE_SHAPE = (1, 28, 28)  # NCHW, as torch.nn.Conv2d reads it


def make_model(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),   # (N, 6, 14, 14)
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),             # (N, 16, 5, 5)
        nn.Flatten(),                                                # (N, 400)
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def main():
    args, torch, train, test = common.start_torch(MODES, WORKLOAD, EXAMPLE_SHAPE)
    model = make_model(torch)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)

    common.run_torch(args, torch, model, opt, train, test)


if __name__ == "__main__":
    main()
