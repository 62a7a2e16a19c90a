"""PyTorch's float32 matmul on the GEMM shapes of bench/bench_gemm.cpp's char-gpt cases.

Prints one line per shape: name, median microseconds over --reps timed calls (after
warm-up), GFLOPS. Same naming as duet_bench's sgemm/<case>: <role>_m<M>_k<K>_n<N>_<ta><tb>,
A stored M x K (K x M when transposed), B stored K x N (N x K when transposed).

    .venv/bin/python bench/peers/torch_gemm.py --threads 2
"""
import argparse
import statistics
import time

import torch

CASES = [
    ("gpt_qkv", 768, 128, 384, False, True),
    ("gpt_proj", 768, 128, 128, False, True),
    ("gpt_fc", 768, 128, 512, False, True),
    ("gpt_fc2", 768, 512, 128, False, True),
    ("gpt_fc_dx", 768, 512, 128, False, False),
    ("gpt_fc2_dx", 768, 128, 512, False, False),
    ("gpt_fc_dw", 512, 768, 128, True, False),
    ("gpt_fc2_dw", 128, 768, 512, True, False),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for role, m, k, n, ta, tb in CASES:
        a = torch.rand(k, m).t() if ta else torch.rand(m, k)
        b = torch.rand(n, k).t() if tb else torch.rand(k, n)
        out = torch.empty(m, n)
        for _ in range(20):
            torch.matmul(a, b, out=out)
        times = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            torch.matmul(a, b, out=out)
            times.append(time.perf_counter() - t0)
        us = statistics.median(times) * 1e6
        name = f"{role}_m{m}_k{k}_n{n}_{'t' if ta else 'n'}{'t' if tb else 'n'}"
        print(f"{name:28s} {us:9.1f} us {2 * m * n * k / us / 1e3:8.1f} GFLOPS")


if __name__ == "__main__":
    main()
