#!/usr/bin/env bash
# Validates deploy/ (Kubernetes manifests, the KEDA ScaledObject, docker-compose.yml, the Dockerfile) offline and
# against the Swift sources' defaults. Creates a Python virtualenv in .data/venv-deploy (git-ignored) with the pinned
# packages of deploy/tests/requirements.txt on first use, or when that file changes; later runs need no network.
#   bash deploy/tests/run.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
VENV="$REPO/.data/venv-deploy"
REQUIREMENTS="$REPO/deploy/tests/requirements.txt"
STAMP="$VENV/.requirements.sha256"

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

PYTHON=$(command -v python3 || true)
[ -n "$PYTHON" ] || die "python3 is not installed"
if [ ! -x "$VENV/bin/python" ]; then
  log "creating the virtualenv $VENV"
  mkdir -p "$REPO/.data"
  if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
    # Debian's python3 ships venv separately.
    rm -rf "$VENV"
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
      log "installing python3-venv"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
      "$PYTHON" -m venv "$VENV" || die "cannot create a virtualenv with $PYTHON"
    else
      die "cannot create a virtualenv with $PYTHON (install python3-venv)"
    fi
  fi
fi
wanted=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$wanted" ]; then
  log "installing deploy/tests/requirements.txt into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQUIREMENTS"
  echo "$wanted" > "$STAMP"
fi
exec "$VENV/bin/python" "$REPO/deploy/tests/validate_manifests.py" "$@"
