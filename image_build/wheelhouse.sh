#!/usr/bin/env bash
# Builds a wheelhouse for `install.sh --wheelhouse DIR`: every Python package the appliance installs, at the
# versions of constraints.txt, as wheels (pyscard built here, so the box needs no compiler), plus pip and
# setuptools. Run it on a machine with internet and the SAME architecture and Python as the boxes
# (Debian 12 / Raspberry Pi OS Bookworm: Python 3.11; arm64 for a Pi). Building pyscard needs gcc,
# python3-dev and libpcsclite-dev here.
#     image_build/wheelhouse.sh DIR [PYTHON] [--face]
# --face adds the optional face check at the gate (the `face` extra: dlib-bin and face-recognition-models,
# ~130 MB) for `install.sh --face`.
set -euo pipefail
extras=pcsc
args=()
for a in "$@"; do if [ "$a" = --face ]; then extras=pcsc,face; else args+=("$a"); fi; done
[ ${#args[@]} -ge 1 ] || { echo "usage: $0 DIR [PYTHON] [--face]" >&2; exit 2; }
out=$(mkdir -p "${args[0]}" && cd "${args[0]}" && pwd)
py=${args[1]:-python3}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# pip builds in the source folder: build from a copy
mkdir "$tmp/src"
tar -C "$src" --exclude=./.git --exclude='./.venv*' --exclude=./var --exclude=./build --exclude='*.egg-info' \
  --exclude=__pycache__ --exclude=./training --exclude=./tests --exclude=./bench -cf - . | tar -C "$tmp/src" -xf -
"$py" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check -U pip -c "$src/constraints.txt"
"$tmp/venv/bin/python" -m pip wheel -q --disable-pip-version-check -c "$src/constraints.txt" -w "$out" \
  "$tmp/src[$extras]" pip "setuptools>=77"
rm -f "$out"/safety_appliance-*.whl
echo "wheelhouse: $out ($(ls "$out" | wc -l) wheels, $(du -sh "$out" | cut -f1)); install with: install.sh --wheelhouse $out"
