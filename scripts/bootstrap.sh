#!/usr/bin/env bash
# Installs what duet needs from Debian's packages, and nothing when all is there
# (seconds). As root it runs apt-get; otherwise it prints the exact command to run.
#   scripts/bootstrap.sh
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  doctest-dev          # tests
  libbenchmark-dev     # bench/
  libopenblas-dev      # reference GEMM backend and test oracle
  libeigen3-dev        # reference GEMM backend and test oracle
  libdnnl-dev          # oneDNN: reference convolution backend (DUET_CONV=onednn)
  zlib1g-dev           # gzip-compressed datasets
  libcli11-dev         # examples/: the workload programs' command line
  nlohmann-json3-dev   # examples/: the workload programs' JSON records
  dataset-fashion-mnist  # the default training data (/usr/share/datasets/fashion-mnist)
  fortunes             # char-gpt's text (/usr/share/games/fortunes, data/char_corpus.h)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all dependencies present"
  exit 0
fi

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap: missing packages: ${missing[*]}"
  echo "bootstrap: run as root:  $cmd"
  exit 1
fi
echo "bootstrap: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
