#!/usr/bin/env bash
# Set up storyaudio on a fresh Debian/Ubuntu machine: system packages, then .venv/ with the package.
#   scripts/setup.sh          the embedded offline backends (what `make demo` needs)
#   scripts/setup.sh --dev    also the writer, the neural backends (CPU torch), the studio, the exports (M4B,
#                             OTIO) and the test/bench tools
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
[ "${1:-}" = "--dev" ] && DEV=1

# 1. System packages: espeak-ng (second speech backend, and Piper's phonemes), a General MIDI SoundFont; for
#    --dev also Chromium, which the studio's browser test drives through Playwright (its own browser download
#    is not used).
APT_PACKAGES="espeak-ng fluid-soundfont-gm"
[ "$DEV" = 1 ] && APT_PACKAGES="$APT_PACKAGES chromium"
if command -v apt-get >/dev/null 2>&1; then
  missing=""
  for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" != 0 ] && SUDO="sudo"
    echo "installing system packages:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
else
  echo "note: no apt-get here; install these yourself if missing: $APT_PACKAGES" >&2
fi

# 2. The virtual environment and the package.
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# tinysoundfont (the composer's SoundFont synth) declares pyaudio, which it imports only for live playback and
# which needs portaudio headers to build: install it without its dependencies.
.venv/bin/python -m pip install -q --no-deps "tinysoundfont==0.3.7"
if [ "$DEV" = 1 ]; then
  # torch 2.13.0 first, by exact version: on these machines pip takes a CPU build from local disk
  # (a bare 'torch' would pull a multi-GB CUDA build).
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[embedded,writer,neural,studio,export,dev]"
else
  .venv/bin/python -m pip install -q -e ".[embedded]"
fi
echo "storyaudio is set up: .venv/bin/storyaudio"
