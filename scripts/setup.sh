#!/usr/bin/env bash
# Create HoloLoom's environment from nothing: a virtualenv in .venv with every extra.
#
# CPU torch: set HOLOLOOM_TORCH_INDEX_URL to PyTorch's CPU-only wheel index and torch is taken
# from there first, so no multi-GB CUDA build is pulled on Linux. Where that index is not set or
# cannot be reached, torch comes from the default index (CPU-only on macOS/Windows; on Linux it
# brings CUDA libraries, which still run on CPU).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${HOLOLOOM_VENV:-.venv}"
EXTRAS="${HOLOLOOM_EXTRAS:-all}"
TORCH_VERSION="${HOLOLOOM_TORCH_VERSION:-2.13.0}"

"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"HoloLoom needs Python 3.11+, found {sys.version.split()[0]}")
PY

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --quiet)
"${PIP[@]}" install --upgrade pip

if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  installed=0
  if [ -n "${HOLOLOOM_TORCH_INDEX_URL:-}" ]; then
    echo "setup: torch==$TORCH_VERSION from the CPU wheel index"
    if "${PIP[@]}" install --timeout 60 --index-url "$HOLOLOOM_TORCH_INDEX_URL" "torch==$TORCH_VERSION"; then
      installed=1
    else
      echo "setup: CPU wheel index unavailable; falling back to the default index"
    fi
  fi
  if [ "$installed" = 0 ]; then
    echo "setup: torch==$TORCH_VERSION from the default index"
    "${PIP[@]}" install "torch==$TORCH_VERSION" || "${PIP[@]}" install torch
  fi
fi

echo "setup: HoloLoom[$EXTRAS]"
"${PIP[@]}" install -e ".[$EXTRAS]"
echo "setup: done ($("$VENV/bin/python" -c 'import torch, sentence_transformers as s; print("torch", torch.__version__, "sentence-transformers", s.__version__)'))"
