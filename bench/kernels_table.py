#!/usr/bin/env python3
"""Turns duet_bench's Google Benchmark JSON into a markdown table.

    python3 bench/kernels_table.py bench/results/kernels-<date>.json > kernels-<date>.md

Uses the median aggregate of each benchmark (or the single run when there are no
repetitions). SGEMM rows: GFLOP/s of duet, OpenBLAS and Eigen, duet/OpenBLAS, and each
one's share of the zmm (AVX-512) FMA peak measured in the same run (the ymm one when the
CPU has no AVX-512). Bandwidth rows: GB/s and share of the STREAM triad of the same length
from the same run. Percentages use the medians of the peak/triad rows of this run.
"""
import json
import subprocess
import sys
from collections import OrderedDict


SUFFIXES = ("min_time:", "real_time", "iterations:", "repeats:", "manual_time", "process_time")


def base_name(name):
    """Drops Google Benchmark's option suffixes (/min_time:0.100/real_time, ...)."""
    return "/".join(p for p in name.split("/") if not p.startswith(SUFFIXES))


def load_medians(data):
    rows = OrderedDict()
    singles = OrderedDict()
    for b in data["benchmarks"]:
        name = base_name(b.get("run_name", b["name"]))
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                rows[name] = b
        else:
            singles.setdefault(name, b)
    for name, b in singles.items():
        rows.setdefault(name, b)
    return rows


def machine(ctx):
    model = ctx.get("cpu_model")
    cores = ctx.get("cpu_cores") or ctx.get("num_cpus")
    if not model:
        try:
            out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
            model = next(l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name"))
        except Exception:
            model = "unknown CPU"
    return model, cores


def gemm_case_key(case):
    # Repetitions run in random order (run_kernels.sh); the table keeps a fixed one:
    # squares by size, then the training shapes (forward, backward), then the rest.
    if case.startswith("square_"):
        return (0, int(case.split("_")[1]), case)
    dims = dict((p[0], int(p[1:])) for p in case.split("_")[1:4] if p[:1] in "mkn" and p[1:].isdigit())
    rank = {"fwd": 1, "bwd": 2}.get(case.split("_")[0], 3)
    return (rank, -dims.get("k", 0) * dims.get("n", 0), case)


BW_OP_ORDER = ["triad", "add", "mul", "exp", "relu", "sum", "amax", "softmax", "log_softmax", "cross_entropy", "adam"]


def bw_op_key(op):
    return (BW_OP_ORDER.index(op) if op in BW_OP_ORDER else len(BW_OP_ORDER), op)


def size_key(size):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(size[:-1]) * units[size[-1]] if size[-1:] in units and size[:-1].isdigit() else 0


def fmt(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"


def main(path):
    data = json.load(open(path))
    ctx = data.get("context", {})
    rows = load_medians(data)
    model, cores = machine(ctx)
    threads = ctx.get("duet_threads", "?")
    out = []
    out.append(f"# duet kernel benchmarks, {ctx.get('date', '?')}")
    out.append("")
    out.append(f"Machine: {model}, {cores} cores; {threads} threads (duet, OpenBLAS; Eigen runs 1 thread, "
               f"no OpenMP). duet GEMM micro-kernel: {ctx.get('duet_gemm_isa', '?')}. "
               f"Medians of {rows and next(iter(rows.values())).get('repetitions', 1)} repetitions; "
               "ratios and percentages are within this one run.")
    out.append("")

    peak = {}
    for name, b in rows.items():
        if name.startswith("peak/"):
            peak[name[len("peak/"):]] = b.get("GFLOPS")
    out.append("## FMA peak (register-only FMA loop) and the load-fed ceiling")
    out.append("")
    out.append("fma_*: FMAs on registers only. fed_zmm: the instruction mix of duet's AVX-512 micro-kernel "
               "(2 vector loads, 12 broadcast loads, 24 FMAs per step) over panels resident in L1, with no "
               "packing or C traffic: a ceiling for kernels fed from memory (Note [Load-fed ceiling] in "
               "bench/bench_peak.cpp).")
    out.append("")
    out.append("(On this shared VM the N-thread rows are lower than N x the 1-thread rows whenever other "
               "processes hold a core; SGEMM percentages use the N-thread row, as measured.)")
    out.append("")
    out.append("| loop | GFLOP/s |")
    out.append("|---|---:|")
    for k, v in sorted(peak.items(), key=lambda kv: (kv[0].split("/")[1], kv[0])):
        out.append(f"| {k} | {fmt(v)} |")
    out.append("")
    nt = threads
    ref_peak = peak.get(f"fma_zmm/threads:{nt}") or peak.get(f"fma_ymm/threads:{nt}")
    ref_name = "zmm" if peak.get(f"fma_zmm/threads:{nt}") else "ymm"
    fed = peak.get(f"fed_zmm/threads:{nt}")
    if fed and ref_peak:
        out.append(f"At {nt} threads the load-fed loop reaches {100 * fed / ref_peak:.1f}% of the "
                   f"register-only {ref_name} figure.")
        out.append("")

    cases = OrderedDict()
    for name, b in rows.items():
        if name.startswith("sgemm/"):
            _, case, backend = name.split("/")
            cases.setdefault(case, {})[backend] = b.get("GFLOPS")
    out.append(f"## SGEMM (GFLOP/s; % of the {threads}-thread {ref_name} FMA peak, {fmt(ref_peak)} GFLOP/s)")
    out.append("")
    out.append("Case names: M, K, N of C[M,N] = op(A)[M,K] op(B)[K,N]; suffix: A, B transposed (t) or not (n).")
    out.append("")
    out.append("| case | duet | OpenBLAS | Eigen | duet/OpenBLAS | duet % peak | OpenBLAS % peak | target |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---|")
    targets = []
    for case, by in sorted(cases.items(), key=lambda kv: gemm_case_key(kv[0])):
        d, o, e = by.get("duet"), by.get("openblas"), by.get("eigen")
        ratio = d / o if d and o else None
        pd = 100 * d / ref_peak if d and ref_peak else None
        po = 100 * o / ref_peak if o and ref_peak else None
        verdict = ""
        if case.startswith("square_") and int(case.split("_")[1]) >= 1024 and ratio and pd:
            ok_r, ok_p = ratio >= 0.95, pd >= 80
            verdict = f"ratio>=0.95 {'met' if ok_r else 'NOT met'}; >=80% peak {'met' if ok_p else 'NOT met'}"
            targets.append((case, ok_r and ok_p))
        elif case.startswith(("fwd_", "bwd_")) and ratio:
            verdict = f"ratio>=1.0 {'met' if ratio >= 1.0 else 'NOT met'}"
            targets.append((case, ratio >= 1.0))
        out.append(f"| {case} | {fmt(d)} | {fmt(o)} | {fmt(e)} | {fmt(ratio, 2)} | {fmt(pd)} | {fmt(po)} | {verdict} |")
    out.append("")
    out.append("Targets: square 1024-4096 duet >= 0.95x OpenBLAS and >= 80% of the FMA peak; training shapes "
               "(fwd_/bwd_) duet >= 1.0x OpenBLAS. The MLP trains with x @ W^T (the _nt forward rows); the _nn "
               "forward rows are the same products with W stored in x out.")
    out.append("")

    bw = OrderedDict()
    for name, b in rows.items():
        if name.startswith("bw/"):
            _, op, size = name.split("/")
            bw.setdefault(size, OrderedDict())[op] = b.get("GBps")
    out.append("## Memory-bound ops (GB/s of ideal traffic; % of the STREAM triad of the same length)")
    out.append("")
    out.append("softmax, log_softmax, cross_entropy work on [n/1024, 1024] rows; adam is optim::Adam::step "
               "(13 elementwise ops, 120 B/element counted).")
    out.append("")
    out.append("| op | n | GB/s | % of triad | target (>= 75% of triad) |")
    out.append("|---|---|---:|---:|---|")
    targeted = {"add", "mul", "exp", "relu", "sum", "amax", "softmax", "log_softmax"}
    for size, ops in sorted(bw.items(), key=lambda kv: size_key(kv[0])):
        triad = ops.get("triad")
        for op, v in sorted(ops.items(), key=lambda kv: bw_op_key(kv[0])):
            pct = 100 * v / triad if v and triad else None
            verdict = ("met" if pct >= 75 else "NOT met") if op in targeted and pct is not None else ""
            out.append(f"| {op} | {size} | {fmt(v)} | {fmt(pct)} | {verdict} |")
    out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
