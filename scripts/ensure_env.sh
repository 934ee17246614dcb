#!/usr/bin/env bash
# Create or refresh the project's virtual environment. Usage: scripts/ensure_env.sh VENV_DIR
# The environment is rebuilt only when pyproject.toml or the checkout's location changes.
set -euo pipefail
venv=${1:-.venv}
python=${PYTHON:-python3}
torch_spec=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $(pwd) ${torch_spec}"
if [ ! -f "$venv/.hicd-venv-complete" ]; then
  # Absent, or left half-made by an interrupted run: start again.
  echo "hicd: creating the virtual environment in $venv (first use; installing torch takes a few minutes)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  touch "$venv/.hicd-venv-complete"
fi
if [ "$(cat "$venv/.hicd-env" 2>/dev/null || true)" != "$want" ]; then
  echo "hicd: installing dependencies into $venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet $torch_spec
  "$venv/bin/pip" install --quiet -e ".[dev]"
  printf '%s' "$want" > "$venv/.hicd-env.tmp" && mv "$venv/.hicd-env.tmp" "$venv/.hicd-env"
fi
