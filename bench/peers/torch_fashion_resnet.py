#!/usr/bin/env python3
"""fashion-resnet on PyTorch: the peer of duet's `fashion_resnet`, for bench/report.py.

    .venv/bin/python bench/peers/torch_fashion_resnet.py --mode eager|compile [--epochs 5]
        [--batch 128] [--lr 0.1] [--seed 0] [--threads 2] [--limit N] [--json PATH]

The recipe of shared/WORKLOADS.md, as examples/workloads/fashion_resnet.cpp builds it: a
small ResNet for 28x28 images [N, 1, 28, 28]:
  stem Conv2d(1,16,3,padding 1,no bias) - BatchNorm2d - ReLU              (N, 16, 28, 28)
  three stages of two basic blocks (conv3x3-BN-ReLU-conv3x3-BN, + shortcut, ReLU), 16, 32
  and 64 channels; the first block of stages 2 and 3 has stride 2 and a Conv2d 1x1 stride 2
  + BatchNorm2d shortcut (the others the identity)                        (N, 64, 7, 7)
  AdaptiveAvgPool2d(1) - Flatten - Linear(64,10).
Every conv is bias-free with padding k/2, initialised Kaiming-normal (fan_out, relu); BN
weight 1, bias 0, eps 1e-5, momentum 0.1 (PyTorch's and duet's defaults); Linear has
PyTorch's default init (duet's nn::Linear is the same). Cross-entropy; SGD momentum 0.9,
weight decay 5e-4 on every parameter (torch.optim.SGD's coupled L2, as duet's optim::SGD);
lr 0.1 decayed per step by a cosine to 0 over the whole run (lr_t = 0.1 * (1 + cos(pi t /
T)) / 2, t the 0-based step, T = epochs x batches per epoch), set before each step outside
its timing, as duet does; batch 128 reshuffled each epoch with the last partial batch kept;
5 epochs. Test accuracy in eval mode (BN with its running statistics).
Modes, timing and record as torch_fashion_mlp.py:
- eager:   the plain training step;
- compile: the same step under torch.compile (inductor, dynamic=False: the full batch and
           the last partial batch each get their own static specialisation).
The learning rate is a tensor (filled in place each step) in both modes: PyTorch's way to
change the rate of a compiled optimizer step without a recompile per value.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

WORKLOAD = "fashion-resnet"
MODES = ["eager", "compile"]
EXAMPLE_SHAPE = (1, 28, 28)  # NCHW, as torch.nn.Conv2d reads it
MOMENTUM, WEIGHT_DECAY = 0.9, 5e-4


def make_model(torch):
    nn = torch.nn

    def conv(cin, cout, k, stride):
        c = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)
        nn.init.kaiming_normal_(c.weight, mode="fan_out", nonlinearity="relu")
        return c

    class BasicBlock(nn.Module):
        """conv3x3-BN-ReLU-conv3x3-BN plus the shortcut (the identity, or conv1x1-BN when the
        block changes the shape), then ReLU."""

        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1, self.bn1 = conv(cin, cout, 3, stride), nn.BatchNorm2d(cout)
            self.conv2, self.bn2 = conv(cout, cout, 3, 1), nn.BatchNorm2d(cout)
            self.shortcut = nn.Identity()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(conv(cin, cout, 1, stride), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return torch.relu(y + self.shortcut(x))

    layers = [conv(1, 16, 3, 1), nn.BatchNorm2d(16), nn.ReLU()]                  # (N, 16, 28, 28)
    cin = 16
    for cout in (16, 32, 64):                                                     # 28x28, 14x14, 7x7
        for block in range(2):
            layers.append(BasicBlock(cin, cout, 2 if block == 0 and cout != 16 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]           # (N, 64) -> (N, 10)
    return nn.Sequential(*layers)


def main():
    args, torch, train, test = common.start_torch(MODES, WORKLOAD, EXAMPLE_SHAPE)
    model = make_model(torch)
    lr = torch.tensor(args.lr)  # the schedule fills it in place (see the docstring)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)

    def set_lr(step, total_steps):
        lr.fill_(common.cosine_lr(args.lr, step, total_steps))

    common.run_torch(args, torch, model, opt, train, test, lr_note=" (cosine)", set_lr=set_lr)


if __name__ == "__main__":
    main()
