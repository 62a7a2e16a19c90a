#!/usr/bin/env python3
"""Prints a markdown table comparing --json records of a workload program (fashion_mlp,
fashion_lenet; one file per run).

    scripts/compare_runs.py eager.json graph.json
"""
import json
import sys


def main(paths):
    runs = [json.load(open(p)) for p in paths]
    base = runs[0]
    rows = [
        ("step time, median (ms)", lambda r: f"{r['step_ms_median']:.2f}"),
        ("step time vs " + base["mode"], lambda r: f"{r['step_ms_median'] / base['step_ms_median']:.2f}x"),
        ("epoch time, last (s)", lambda r: f"{r['epoch_seconds'][-1]:.2f}"),
        ("samples/s", lambda r: f"{r['samples_per_second']:.0f}"),
        ("test accuracy", lambda r: f"{r['test_accuracy']:.4f}"),
        ("final train loss", lambda r: f"{r['final_train_loss']:.4f}"),
        ("peak RSS (MB)", lambda r: f"{r['peak_rss_bytes'] / 1e6:.1f}"),
        ("peak allocator (MB)", lambda r: f"{r['peak_allocator_bytes'] / 1e6:.1f}"),
        ("allocations", lambda r: f"{r['allocations']}"),
        ("compile (ms)", lambda r: f"{r.get('compile_ms', 0):.1f}" if r["mode"] == "graph" else "-"),
        ("arena / lower bound (MB)",
         lambda r: f"{r['arena_bytes'] / 1e6:.2f} / {r['lower_bound_bytes'] / 1e6:.2f}" if r["mode"] == "graph" else "-"),
    ]
    print("| " + " | ".join([base.get("workload", "fashion-mlp")] + [f"duet {r['mode']}" for r in runs]) + " |")
    print("|" + "---|" * (len(runs) + 1))
    for name, fmt in rows:
        print("| " + " | ".join([name] + [fmt(r) for r in runs]) + " |")
    print(f"\n{base['epochs']} epochs, batch {base['batch']}, {base['threads']} threads, device {base['device']}")


if __name__ == "__main__":
    main(sys.argv[1:])
