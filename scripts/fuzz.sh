#!/usr/bin/env bash
# The differential fuzzer's long run: random programs run eagerly and compiled, compared
# bit for bit (tests/fuzz/). Runs batches in parallel processes (a crash loses one batch
# and is reported with its range), then adds up the totals and the refusals by reason.
#   scripts/fuzz.sh [programs=1000000] [first seed=0] [jobs=$(nproc)]
#   DUET_BUILD_DIR=build-nocuda scripts/fuzz.sh 100000
# Exit status 1 when any program gave a silent mismatch, an error in one mode only, or
# crashed; failing seeds replay with `<build>/tests/duet_fuzz --seed S`.
set -uo pipefail
cd "$(dirname "$0")/.."
total=${1:-1000000}
first=${2:-0}
jobs=${3:-$(nproc)}
build_dir=${DUET_BUILD_DIR:-build}
fuzz="$build_dir/tests/duet_fuzz"
if [ ! -x "$fuzz" ]; then
  scripts/build.sh -DDUET_BUILD_TESTS=ON >/dev/null || exit 1
fi
batch=${DUET_FUZZ_BATCH:-20000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start_time=$(date +%s)
seeds=()
for ((s = first; s < first + total; s += batch)); do seeds+=("$s"); done
printf '%s\n' "${seeds[@]}" | xargs -P "$jobs" -I{} sh -c \
  "n=$batch; end=\$(( $first + $total )); [ \$(( {} + n )) -gt \$end ] && n=\$(( end - {} )); \
   \"$fuzz\" --start {} --count \$n --show 50 > \"$out/{}.log\" 2>&1; echo \$? > \"$out/{}.rc\""
python3 - "$out" "$start_time" "$total" "$first" <<'PY'
import os, re, sys, time, collections
out, t0, total, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
totals = collections.Counter(); refusals = collections.Counter(); failing = []; crashed = []
for name in sorted(os.listdir(out), key=lambda n: (len(n), n)):
    if not name.endswith(".log"): continue
    start = name[:-4]
    text = open(os.path.join(out, name)).read()
    rc = open(os.path.join(out, start + ".rc")).read().strip() if os.path.exists(os.path.join(out, start + ".rc")) else "?"
    if rc not in ("0", "1"):
        crashed.append(f"batch from seed {start}: exit status {rc}\n{text[-500:]}")
        continue
    for line in text.splitlines():
        m = re.match(r"  (equal|refused|MISMATCH|GRAPH-ONLY ERROR|EAGER-ONLY ERROR|HARNESS ERROR) +(\d+)$", line)
        if m: totals[m.group(1)] += int(m.group(2))
        m = re.match(r"  refused +(\d+)  (.*)$", line)
        if m: refusals[re.sub(r"\w+\[[0-9, ]*\]", "T[...]", m.group(2))] += int(m.group(1))
        if line.startswith("seed "): failing.append(line)
secs = time.time() - t0
print(f"duet differential fuzzer: programs {first}..{first + total - 1} ({total}) in {secs:.0f} s")
for k in ["equal", "refused", "MISMATCH", "GRAPH-ONLY ERROR", "EAGER-ONLY ERROR", "HARNESS ERROR"]:
    print(f"  {k:18s} {totals[k]}")
n = sum(totals.values())
if n: print(f"  refused share      {100.0 * totals['refused'] / n:.3f}%")
for why, k in refusals.most_common(): print(f"  refused {k:7d}  {why}")
for f in failing[:200]: print(f)
for c in crashed: print("CRASH", c)
bad = totals["MISMATCH"] + totals["GRAPH-ONLY ERROR"] + totals["EAGER-ONLY ERROR"] + totals["HARNESS ERROR"] + len(crashed)
sys.exit(1 if bad else 0)
PY
