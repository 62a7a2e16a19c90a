#!/usr/bin/env python3
"""Turns training-benchmark records of one workload into one report: a markdown table,
issue 6's targets (fashion-mlp's) and PNG plots (duet eager/graph against PyTorch and
TensorFlow).

    python3 bench/report.py [--md OUT.md] [--plots DIR] [--combined OUT.json] INPUT...

Each INPUT is a JSON record (duet's `fashion_mlp --json` or another workload program's, a
peer script's --json), a JSON Lines file of records (`train_bench --json`), a JSON list of
records, or a combined file this script wrote ({"meta": {...}, "records": [...]}). Records
may also say a run is missing: {"framework", "mode", "absent": reason} or {...,
"failed": reason}. Records with "accuracy_only": true (runs at other seeds, not timed)
feed only the accuracy-by-seed table.
--combined writes all inputs as one combined file; --meta KEY=VALUE adds to its meta.
Fields a record lacks are shown as "-". Plots need matplotlib; without it (no .venv) the
table is still written and the report says the plots were skipped.
"""
import argparse
import json
import os
import statistics
import sys

DUET_GRAPH = ("duet", "graph")
ORDER = [("duet", "eager"), ("duet", "graph"), ("pytorch", "eager"), ("pytorch", "compile"),
         ("tensorflow", "eager"), ("tensorflow", "function"), ("tensorflow", "xla")]
LABELS = {("pytorch", "compile"): "PyTorch torch.compile", ("tensorflow", "function"): "TF tf.function",
          ("tensorflow", "xla"): "TF XLA (jit_compile)", ("tensorflow", "eager"): "TF eager",
          ("pytorch", "eager"): "PyTorch eager", ("duet", "eager"): "duet eager", ("duet", "graph"): "duet graph"}


# ---- reading -------------------------------------------------------------------------

def read_input(path):
    """(meta, records) from any of the accepted input shapes."""
    text = open(path).read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:  # JSON Lines
        data = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(data, dict) and "records" in data:
        return data.get("meta", {}), data["records"]
    return {}, data if isinstance(data, list) else [data]


def normalise(rec):
    """Fills what older duet records lack: framework, and compile_seconds from compile_ms."""
    rec = dict(rec)
    rec.setdefault("framework", "duet")
    if "compile_seconds" not in rec and rec.get("compile_ms") and rec.get("mode") == "graph":
        rec["compile_seconds"] = rec["compile_ms"] / 1e3
    return rec


def key(rec):
    return rec.get("framework", "duet"), rec.get("mode", "?")


def label(k):
    return LABELS.get(k, f"{k[0]} {k[1]}")


def pick_runs(records):
    """Splits records into the timed run per (framework, mode) at the main seed, the
    accuracy of every seed per (framework, mode), and the absent/failed notes."""
    runs = [r for r in records if "absent" not in r and "failed" not in r]
    missing = list({key(r): r for r in records if "absent" in r or "failed" in r}.values())  # once per mode
    seeds = [r.get("seed", 0) for r in runs]
    main_seed = 0 if 0 in seeds or not seeds else statistics.mode(seeds)
    groups = {}
    for r in runs:  # accuracy_only: runs made for the seed table, not timed (not locked)
        if r.get("seed", 0) == main_seed and not r.get("accuracy_only"):
            groups.setdefault(key(r), []).append(r)
    # Several runs of one mode: the one with the median step time stands for them.
    table = {}
    for k, rs in groups.items():
        rs = sorted(rs, key=lambda r: r.get("step_ms_median", 0))
        table[k] = dict(rs[(len(rs) - 1) // 2], n_runs=len(rs))
    repeats = {k: sorted(r.get("step_ms_median", 0) for r in rs) for k, rs in groups.items() if len(rs) > 1}
    accuracy = {}  # a classifier's test accuracy, or a language model's validation loss
    for r in runs:
        q = quality(r)
        if q is not None:  # runs of one seed agree (same data order and init)
            accuracy.setdefault(key(r), {}).setdefault(r.get("seed", 0), q)
    return table, accuracy, missing, main_seed, repeats, groups


def quality(r):
    """How good the trained model is: a classifier's test accuracy, a language model's
    validation loss (char-gpt), or None."""
    return r.get("test_accuracy", r.get("val_loss"))


def repeats_md(repeats):
    """Every run's median step time, for the modes run more than once."""
    if not repeats:
        return []
    lines = ["", "### Step time of every run (ms, median over its steps; sorted)", "", "| run | runs | spread |",
             "|---|---|---|"]
    for k in sorted_keys(repeats):
        v = repeats[k]
        lines.append(f"| {label(k)} | {', '.join(f'{x:.3f}' for x in v)} | {(v[-1] - v[0]) / v[0] * 100:.0f}% |")
    return lines


# ---- the table -----------------------------------------------------------------------

def fmt(value, spec, scale=1.0):
    return "-" if value is None else format(value * scale, spec)


def sorted_keys(keys):
    return sorted(keys, key=lambda k: ORDER.index(k) if k in ORDER else len(ORDER))


def table_md(table):
    base = table.get(DUET_GRAPH, {}).get("step_ms_median")
    head = ["run", "step ms p50", "step ms p90", "step / duet graph", "samples/s", "epoch s (last)",
            "test acc / val loss", "peak RSS MB", "duet alloc MB", "arena MB", "compile s", "load before"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for k in sorted_keys(table):
        r = table[k]
        step = r.get("step_ms_median")
        epochs = r.get("epoch_seconds") or [None]
        name = label(k) + (f" (median of {r['n_runs']} runs)" if r["n_runs"] > 1 else "")
        lines.append("| " + " | ".join([
            name, fmt(step, ".2f"), fmt(r.get("step_ms_p90"), ".2f"),
            fmt(step / base if step and base else None, ".2f") + ("x" if step and base else ""),
            fmt(r.get("samples_per_second"), ".0f"), fmt(epochs[-1], ".2f"),
            fmt(quality(r), ".4f"), fmt(r.get("peak_rss_bytes"), ".1f", 1e-6),
            fmt(r.get("peak_allocator_bytes"), ".2f", 1e-6), fmt(r.get("arena_bytes") or None, ".2f", 1e-6),
            fmt(r.get("compile_seconds"), ".3f"), fmt(r.get("loadavg_1m_before"), ".2f")]) + " |")
    return lines


def seeds_md(accuracy):
    """Accuracy per seed, for the modes run at more than one seed."""
    multi = {k: v for k, v in accuracy.items() if len(v) > 1}
    if not multi:
        return []
    all_seeds = sorted({s for v in multi.values() for s in v})
    lines = ["", "### Test accuracy (or validation loss) by seed", "",
             "| run | " + " | ".join(f"seed {s}" for s in all_seeds) + " | mean | std |",
             "|" + "---|" * (len(all_seeds) + 3)]
    for k in sorted_keys(multi):
        v = multi[k]
        accs = list(v.values())
        lines.append("| " + " | ".join([label(k)] + [fmt(v.get(s), ".4f") for s in all_seeds] +
                                       [f"{statistics.mean(accs):.4f}", f"{statistics.stdev(accs):.4f}"]) + " |")
    return lines


# ---- issue 6's targets ---------------------------------------------------------------

def round_ratios(groups, a, b, field):
    """a/b for each round (scripts/bench.sh's DUET_BENCH_REPEAT) that ran both: runs of one
    round are minutes apart, so their ratio shares the machine's load of the moment."""
    by_round = {k: {r["round"]: r.get(field) for r in groups.get(k, []) if "round" in r} for k in (a, b)}
    common = sorted(set(by_round[a]) & set(by_round[b]))
    return [by_round[a][n] / by_round[b][n] for n in common if by_round[a][n] and by_round[b][n]]


def target_helpers(table, missing, groups):
    """get(k, field), why_absent(k) and ratio_line(name, duet_k, peer_k, field, limit): a
    target's row, met / NOT met / peer absent (or duet absent), with the figures. With
    several rounds, a speed target is judged on the median of the per-round ratios."""
    absent = {key(r): r.get("absent") or r.get("failed") for r in missing}

    def get(k, field):
        return table.get(k, {}).get(field)

    def why_absent(k):
        return f"{label(k)} absent" + (f": {absent[k]}" if absent.get(k) else "")

    def ratio_line(name, duet_k, peer_k, field, limit):
        d, p = get(duet_k, field), get(peer_k, field)
        if d is None:
            return f"| {name} | - | {why_absent(duet_k)} |"
        if p is None:
            return f"| {name} | peer absent | {why_absent(peer_k)} |"
        ratio = d / p
        unit = "ms" if field.startswith("step") else "MB"
        scale = 1 if unit == "ms" else 1e-6
        figures = f"{label(duet_k)} {d * scale:.2f} {unit} vs {label(peer_k)} {p * scale:.2f} {unit}"
        per_round = round_ratios(groups, duet_k, peer_k, field) if unit == "ms" else []
        if len(per_round) > 1:
            figures = (f"per round: {', '.join(f'{x:.2f}x' for x in per_round)}; table rows: {ratio:.2f}x, "
                       + figures)
            ratio = statistics.median(per_round)
        verdict = "met" if ratio <= limit else "NOT met"
        return f"| {name} | {verdict} | {ratio:.2f}x ({figures}; limit {limit}x) |"

    return get, why_absent, ratio_line


def char_gpt_targets_md(table, accuracy, missing, groups):
    """Issue 16's targets for char-gpt: step-time ratios, and the validation loss (mean
    over the seeds run) within 0.03 of PyTorch eager's, for each duet mode."""
    get, why_absent, ratio_line = target_helpers(table, missing, groups)
    lines = ["", "## Targets (issue 16)", "", "| target | verdict | figures |", "|---|---|---|"]
    pt_e, pt_c, step = ("pytorch", "eager"), ("pytorch", "compile"), "step_ms_median"
    lines.append(ratio_line("duet graph step <= 0.5x PyTorch eager", DUET_GRAPH, pt_e, step, 0.5))
    lines.append(ratio_line("duet graph step <= 0.8x torch.compile", DUET_GRAPH, pt_c, step, 0.8))
    lines.append(ratio_line("duet eager step <= 1.0x PyTorch eager", ("duet", "eager"), pt_e, step, 1.0))
    p_seeds = accuracy.get(pt_e, {})
    for dk in (("duet", "eager"), DUET_GRAPH):
        name = f"{label(dk)} validation loss, mean over seeds, within 0.03 of PyTorch eager's"
        d_seeds = accuracy.get(dk, {})
        if not d_seeds:
            lines.append(f"| {name} | - | {why_absent(dk)} |")
        elif not p_seeds:
            lines.append(f"| {name} | peer absent | {why_absent(pt_e)} |")
        else:
            dm, pm = statistics.mean(d_seeds.values()), statistics.mean(p_seeds.values())
            verdict = "met" if abs(dm - pm) <= 0.03 else "NOT met"
            lines.append(f"| {name} | {verdict} | {dm:.4f} ({len(d_seeds)} seeds) vs {pm:.4f} ({len(p_seeds)} seeds), "
                         f"{dm - pm:+.4f} |")
    return lines


def targets_md(table, accuracy, missing, groups):
    """Issue 6's targets for fashion-mlp (target_helpers says how a row is judged)."""
    get, why_absent, ratio_line = target_helpers(table, missing, groups)
    lines = ["", "## Targets (issue 6)", "", "| target | verdict | figures |", "|---|---|---|"]
    pt_e, pt_c, tf_f = ("pytorch", "eager"), ("pytorch", "compile"), ("tensorflow", "function")
    step = "step_ms_median"
    lines.append(ratio_line("duet graph step <= 0.4x PyTorch eager", DUET_GRAPH, pt_e, step, 0.4))
    lines.append(ratio_line("duet graph step <= 0.8x torch.compile", DUET_GRAPH, pt_c, step, 0.8))
    lines.append(ratio_line("duet graph step <= 0.7x TF tf.function", DUET_GRAPH, tf_f, step, 0.7))
    lines.append(ratio_line("duet eager step <= 1.0x PyTorch eager", ("duet", "eager"), pt_e, step, 1.0))
    # RSS: the larger of duet's two modes, against PyTorch eager.
    duet_rss = [(get(k, "peak_rss_bytes"), k) for k in (("duet", "eager"), DUET_GRAPH) if get(k, "peak_rss_bytes")]
    worst = max(duet_rss)[1] if duet_rss else DUET_GRAPH
    lines.append(ratio_line("duet peak RSS <= 0.5x PyTorch's", worst, pt_e, "peak_rss_bytes", 0.5))
    # Accuracy: each duet mode against PyTorch eager at the main seed; the seed means too.
    p_acc = get(pt_e, "test_accuracy")
    for dk in (("duet", "eager"), DUET_GRAPH):
        name = f"{label(dk)} accuracy within 0.5 points of PyTorch's"
        d_acc = get(dk, "test_accuracy")
        if d_acc is None:
            lines.append(f"| {name} | - | {why_absent(dk)} |")
        elif p_acc is None:
            lines.append(f"| {name} | peer absent | {why_absent(pt_e)} |")
        else:
            diff = (d_acc - p_acc) * 100
            verdict = "met" if abs(diff) <= 0.5 else "NOT met"
            lines.append(f"| {name} | {verdict} | {d_acc:.4f} vs {p_acc:.4f} ({diff:+.2f} points) |")
    d_seeds, p_seeds = accuracy.get(("duet", "eager"), {}), accuracy.get(pt_e, {})
    if len(d_seeds) > 1 and len(p_seeds) > 1:
        dm, pm = statistics.mean(d_seeds.values()), statistics.mean(p_seeds.values())
        diff = (dm - pm) * 100
        lines.append(f"| duet eager accuracy, mean over seeds, within 0.5 points of PyTorch eager's | "
                     f"{'met' if abs(diff) <= 0.5 else 'NOT met'} | {dm:.4f} ({len(d_seeds)} seeds) vs "
                     f"{pm:.4f} ({len(p_seeds)} seeds), {diff:+.2f} points |")
    return lines


# ---- plots ---------------------------------------------------------------------------

def plots(table, plot_dir, workload):
    """Writes the PNGs; returns their file names, or None when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    os.makedirs(plot_dir, exist_ok=True)
    keys = sorted_keys(table)
    names = [label(k) for k in keys]
    colors = ["tab:blue" if k[0] == "duet" else "tab:orange" if k[0] == "pytorch" else "tab:green" for k in keys]
    written = []

    def bars(field, scale, ylabel, title, fname, fmt_spec):
        vals = [(table[k].get(field) or 0) * scale for k in keys]
        fig, ax = plt.subplots(figsize=(9, 4.5))
        ax.bar(names, vals, color=colors)
        tops = vals
        if field == "step_ms_median":  # p90 as a tick above each bar; the value goes above both
            p90 = [(table[k].get("step_ms_p90") or 0) for k in keys]
            ax.scatter(names, p90, marker="_", s=400, color="black", label="p90", zorder=3)
            ax.legend()
            tops = [max(v, q) for v, q in zip(vals, p90)]
        for x, (v, top) in enumerate(zip(vals, tops)):
            ax.annotate(format(v, fmt_spec), (x, top), xytext=(0, 4), textcoords="offset points",
                        ha="center", fontsize=8)
        if field == "test_accuracy":
            lo = min(v for v in vals if v) if any(vals) else 0
            ax.set_ylim(max(0, lo - 0.02), min(1, max(vals) + 0.01))
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
        fig.tight_layout()
        fig.savefig(os.path.join(plot_dir, fname), dpi=110)
        plt.close(fig)
        written.append(fname)

    bars("step_ms_median", 1, "ms per step (median; bar) / p90 (tick)", f"{workload} step time", "step_ms.png", ".2f")
    bars("peak_rss_bytes", 1e-6, "MB", "peak RSS (whole process)", "peak_rss.png", ".0f")
    if any("val_loss" in table[k] for k in keys):
        bars("val_loss", 1, "loss", "validation loss after training", "val_loss.png", ".4f")
    else:
        bars("test_accuracy", 1, "accuracy", "test accuracy after training", "accuracy.png", ".4f")

    if not any(table[k].get("loss_curve") for k in keys):
        return written  # short runs (under 20 steps) and older duet records have no curve
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for k in keys:
        curve = table[k].get("loss_curve")
        if curve:
            style = "-" if k[1] in ("graph", "compile", "function", "xla") else "--"
            ax.plot([p[0] for p in curve], [p[1] for p in curve], style, label=label(k), linewidth=1)
    ax.set_xlabel("seconds since training start")
    ax.set_ylabel("training loss (mean of 20 steps)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title("loss against wall time")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(plot_dir, "loss_vs_time.png"), dpi=110)
    plt.close(fig)
    written.append("loss_vs_time.png")
    return written


# ---- the report ----------------------------------------------------------------------

def report(meta, records, md_path, plot_dir):
    table, accuracy, missing, main_seed, repeats, groups = pick_runs([normalise(r) for r in records])
    any_rec = next(iter(table.values()), {})
    workload = meta.get("workload") or any_rec.get("workload", "fashion-mlp")
    lines = [f"# {workload}: duet against PyTorch and TensorFlow", ""]
    about = [f"{any_rec.get('epochs', '?')} epochs", f"batch {any_rec.get('batch', '?')}",
             f"{any_rec.get('threads', '?')} threads", f"seed {main_seed}", "device cpu"]
    lines.append(", ".join(about) + ".")
    if meta:
        lines.append("")
        lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines += [""] + table_md(table)
    lines += ["", "Step times are medians over every step (warm-up and compiles included in the epoch time, "
              "not in the median; compile s = the first step of each batch shape above the median, or duet's "
              "own compile time). Peak RSS is the whole process (data, libraries, model). duet alloc MB: the "
              "steady-state allocator peak above data and model; arena MB: graph mode's planned arena. "
              "load before: the 1-minute load average when the run started (the machine may be shared). "
              "With several runs of a mode, the row is the run with the median step time (the faster "
              "middle one for an even count)."]
    for r in sorted(missing, key=lambda r: sorted_keys(list({key(x) for x in missing})).index(key(r))):
        state = "absent" if "absent" in r else "failed"
        lines.append(f"- {label(key(r))}: {state} ({r.get('absent') or r.get('failed')})")
    lines += repeats_md(repeats)
    lines += seeds_md(accuracy)
    if workload == "fashion-mlp":
        lines += targets_md(table, accuracy, missing, groups)
    elif workload == "char-gpt":
        lines += char_gpt_targets_md(table, accuracy, missing, groups)
    else:
        lines += ["", f"Issue 6's targets are set for fashion-mlp only; none are checked for {workload}."]
    written = plots(table, plot_dir, workload) if plot_dir and table else None
    lines.append("")
    if written is None:
        lines.append("Plots skipped: matplotlib is not installed (run bench/peers/setup.sh)."
                     if plot_dir and table else "No plots requested.")
    else:
        rel = os.path.relpath(plot_dir, os.path.dirname(os.path.abspath(md_path)) if md_path else ".")
        lines += ["## Plots", ""] + [f"![{f[:-4]}]({rel}/{f})" for f in written]
    text = "\n".join(lines) + "\n"
    if md_path:
        with open(md_path, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("inputs", nargs="+")
    p.add_argument("--md", help="write the markdown here (default: stdout)")
    p.add_argument("--plots", help="write the PNGs into this folder")
    p.add_argument("--combined", help="also write all records as one combined JSON file")
    p.add_argument("--meta", action="append", default=[], help="KEY=VALUE for the combined file's meta")
    args = p.parse_args()
    meta, records = {}, []
    for path in args.inputs:
        m, rs = read_input(path)
        meta.update(m)
        records += rs
    meta.update(kv.split("=", 1) for kv in args.meta)
    for out in (args.md, args.combined):
        if out:
            os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    if args.combined:
        with open(args.combined, "w") as f:
            json.dump({"meta": meta, "records": records}, f, indent=1)
            f.write("\n")
    report(meta, records, args.md, args.plots)


if __name__ == "__main__":
    main()
