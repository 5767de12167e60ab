#!/usr/bin/env bash
# Builds a release bundle that `safety-appliance update BUNDLE` installs without internet: a folder holding
# this checkout's wheel (safety_appliance-<version>-py3-none-any.whl), its constraints.txt, and every wheel
# it needs at those versions, pip's included (image_build/wheelhouse.sh). Copy the folder to the box (a USB
# stick), then: sudo /opt/safety-appliance/current/bin/safety-appliance update /media/usb/safety-appliance-<version>
#     image_build/bundle.sh [--wheelhouse DIR] [--python PYTHON] OUT
#   --wheelhouse DIR   take the dependencies' wheels from DIR (made by wheelhouse.sh for the same lock file)
#                      instead of building them: no internet needed
#   --python PYTHON    the Python of the boxes (default python3; Debian 12 / Pi OS Bookworm: 3.11, same
#                      architecture as the boxes, since some wheels are compiled)
set -euo pipefail
umask 022
wheelhouse="" py=python3
while [ $# -gt 1 ]; do
  case $1 in
    --wheelhouse) wheelhouse=$(realpath "$2"); shift 2 ;;
    --python) py=$2; shift 2 ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] && [ "${1#-}" = "$1" ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(sed -n 's/^__version__ = "\([^"]*\)"$/\1/p' "$src/appliance/__init__.py")
[ -n "$version" ] || { echo "bundle.sh: no __version__ in $src/appliance/__init__.py" >&2; exit 1; }
mkdir -p "$1"
out=$(cd "$1" && pwd)
[ -z "$(ls -A "$out")" ] || { echo "bundle.sh: $out is not empty" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "$wheelhouse" ]; then
  compgen -G "$wheelhouse/pip-*.whl" >/dev/null || { echo "bundle.sh: no pip wheel in $wheelhouse" >&2; exit 1; }
  # hard links where the wheelhouse is on the same filesystem (a bundle per release costs no space)
  for w in "$wheelhouse"/*.whl; do
    case ${w##*/} in safety_appliance-*) continue ;; esac
    ln "$w" "$out/" 2>/dev/null || cp "$w" "$out/"
  done
  pip_src=(--no-index --find-links "$wheelhouse")
else
  bash "$src/image_build/wheelhouse.sh" "$out" "$py" >/dev/null
  pip_src=()
fi
# the project's own wheel, built from a clean copy (pip builds in the source folder); setuptools for the
# build comes from the wheelhouse when there is one
mkdir "$tmp/src"
tar -C "$src" --exclude=./.git --exclude='./.venv*' --exclude=./var --exclude=./build --exclude='*.egg-info' \
  --exclude=__pycache__ --exclude=./training --exclude=./tests --exclude=./bench -cf - . | tar -C "$tmp/src" -xf -
"$py" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps "${pip_src[@]}" -w "$out" "$tmp/src"
install -m 0644 "$src/constraints.txt" "$out/constraints.txt"
[ -f "$out/safety_appliance-$version-py3-none-any.whl" ] || { echo "bundle.sh: the wheel for $version was not made" >&2; exit 1; }
echo "bundle: $out (safety-appliance $version, $(ls "$out"/*.whl | wc -l) wheels, $(du -sh "$out" | cut -f1))"
echo "on the box: sudo /opt/safety-appliance/current/bin/safety-appliance update $out && sudo systemctl restart safety-appliance"
