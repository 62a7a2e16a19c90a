#!/usr/bin/env bash
# Installs the peer frameworks for scripts/bench.sh into a virtualenv (default: .venv at the
# repo root, gitignored): PyTorch, TensorFlow (CPU), matplotlib, numpy, at versions verified
# with bench/peers/*.py. Idempotent: what already imports at the pinned version is kept.
#   bench/peers/setup.sh                 # DUET_VENV=/path to put the venv elsewhere
#   DUET_TORCH_FULL=1 bench/peers/setup.sh   # skip the lean torch install (see below)
#
# Only PyPI is reachable, and PyPI has no CPU-only torch wheel: `pip install torch` pulls
# the CUDA 13 build (a 539 MB wheel) plus nvidia-*/cuda-*/triton wheels (3.0 GB of nvidia
# libraries and 1.0 GB of triton once installed) that a CPU run never uses. `import torch`
# does need the libraries libtorch_cuda.so links against (cudart, cuBLAS, cuDNN, NCCL,
# cuFFT, cuSPARSE, NVRTC, cuFile, cuSPARSELt, NVSHMEM), but when the machine has a system
# CUDA 13 toolkit (this project's machines do: /usr/local/cuda, found through ldconfig)
# most of them are already there, so the lean install is
#   torch --no-deps + its pure-Python deps (sympy, networkx, jinja2, fsspec, filelock, ...)
#   + the four CUDA wheels the toolkit lacks or has too old: nvidia-cufile (1.4 MB),
#     nvidia-cusparselt-cu13 (170 MB), nvidia-nvshmem-cu13 (135 MB), nvidia-nccl-cu13
#     (216 MB; the toolkit's NCCL lacks ncclCommResume, which libtorch_cuda.so needs),
# and no triton (inductor's CPU backend generates C++ and compiles it with g++; triton is
# for GPUs). The lean install is kept only if `import torch` and a torch.compile'd training
# step then work; otherwise (no toolkit, or a symbol mismatch) the script falls back to the
# plain `pip install torch==$TORCH`.
# Measured on the 2-core VM (2026-11-25, machine shared with other jobs), from an empty venv:
#   lean: 2 min 50 s, venv 3.6 GB (torch 1.2 GB, tensorflow 1.3 GB, nvidia 0.66 GB);
#   full (DUET_TORCH_FULL=1): 8 min 41 s, venv 6.9 GB (nvidia 3.0 GB, triton 1.0 GB).
# Both give the same torch 2.15.0+cu132, and CPU runs do not touch the CUDA libraries.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=${DUET_VENV:-$PWD/.venv}
PYTHON=${PYTHON:-python3}
# Versions verified together (Python 3.11, x86-64 Linux).
TORCH=2.15.0
TF=2.21.0
MATPLOTLIB=3.11.2
NUMPY=2.4.6
TORCH_PURE_DEPS=(filelock==4.3.1 typing_extensions==4.16.0 "setuptools==84.2.1" sympy==1.14.0 mpmath==1.3.0
                 networkx==3.6.1 jinja2==3.1.6 MarkupSafe==3.0.4 fsspec==2026.9.0)
TORCH_LEAN_CUDA=(nvidia-cufile==1.17.1.22 nvidia-cusparselt-cu13==0.8.1 nvidia-nvshmem-cu13==3.7.2
                 nvidia-nccl-cu13==2.30.7)

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "== creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
py="$VENV/bin/python"
pip=("$py" -m pip install --disable-pip-version-check -q)

# True when module $1 imports and its __version__ starts with $2.
has() { "$py" -c "import sys, $1; sys.exit(0 if $1.__version__.startswith('$2') else 1)" 2>/dev/null; }

# torch works: imports, and torch.compile builds and runs a tiny training step (g++ at run time).
torch_works() {
  "$py" - <<'EOF' 2>/dev/null
import atexit, os, shutil, tempfile
cache = tempfile.mkdtemp(prefix="duet-setup-inductor-")
atexit.register(shutil.rmtree, cache, ignore_errors=True)
os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
import torch
lin = torch.nn.Linear(8, 2)
opt = torch.optim.Adam(lin.parameters())
def step(x):
    opt.zero_grad()
    loss = lin(x).square().mean()
    loss.backward()
    opt.step()
    return loss
torch.compile(step)(torch.randn(4, 8)).item()
EOF
}

if has numpy "$NUMPY" && has matplotlib "$MATPLOTLIB" && has tensorflow "$TF"; then
  echo "== numpy $NUMPY, matplotlib $MATPLOTLIB, tensorflow-cpu $TF: already installed"
else
  echo "== installing numpy $NUMPY, matplotlib $MATPLOTLIB, tensorflow-cpu $TF"
  "${pip[@]}" "numpy==$NUMPY" "matplotlib==$MATPLOTLIB" "tensorflow-cpu==$TF"
fi

if has torch "$TORCH" && torch_works; then
  echo "== torch $TORCH: already installed and working"
else
  lean=0
  if [[ -z "${DUET_TORCH_FULL:-}" ]] && /sbin/ldconfig -p 2>/dev/null | grep -q 'libcublas\.so\.13'; then
    echo "== installing torch $TORCH, lean: no-deps + pure-Python deps + 4 CUDA wheels (system CUDA 13 toolkit found)"
    "${pip[@]}" "${TORCH_PURE_DEPS[@]}"
    "${pip[@]}" --no-deps "torch==$TORCH" "${TORCH_LEAN_CUDA[@]}"
    if torch_works; then lean=1; else echo "   lean torch does not work here; falling back to the full install"; fi
  fi
  if [[ $lean == 0 ]]; then
    echo "== installing torch $TORCH with all its dependencies (about 4 GB of wheels)"
    "${pip[@]}" "torch==$TORCH"
    torch_works || { echo "error: torch $TORCH installed but torch.compile does not run" >&2; exit 1; }
  fi
fi

"$py" - <<'EOF'
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy, matplotlib, torch, tensorflow
print(f"== ready: torch {torch.__version__}, tensorflow {tensorflow.__version__}, "
      f"numpy {numpy.__version__}, matplotlib {matplotlib.__version__}")
EOF
echo "   venv: $VENV ($(du -sh "$VENV" | cut -f1))"
