#!/usr/bin/env bash
# Puts the appliance's pi-gen stage into a pi-gen checkout with what it bakes into the image: this checkout's
# source (the files git tracks, as a release holds them) and an offline bundle of the boxes' architecture,
# arm64 (image_build/bundle.sh, made on an arm64 Debian 12 / Raspberry Pi OS Bookworm machine: pyscard and a
# few others are compiled wheels). Writes PI_GEN_DIR/config from config.example when there is none, and keeps
# pi-gen from exporting stage2's plain Lite image too (stage2/SKIP_IMAGES). Then, in PI_GEN_DIR:
# sudo ./build.sh (or ./build-docker.sh). See docs/INSTALL.md §16.
#     image_build/pi-gen/prepare.sh BUNDLE PI_GEN_DIR
set -euo pipefail
[ $# -eq 2 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
die() { echo "prepare.sh: error: $*" >&2; exit 1; }
bundle=$(realpath "$1")
pigen=$(realpath "$2")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
version=$(sed -n 's/^__version__ = "\([^"]*\)"$/\1/p' "$src/appliance/__init__.py")
[ -f "$pigen/build.sh" ] && [ -d "$pigen/stage2" ] || die "$pigen is not a pi-gen checkout (no build.sh, stage2/)"
[ -f "$bundle/safety_appliance-$version-py3-none-any.whl" ] \
  || die "$bundle has no safety_appliance-$version-py3-none-any.whl: make it with image_build/bundle.sh from this checkout"
[ -f "$bundle/constraints.txt" ] && compgen -G "$bundle/pip-*.whl" >/dev/null || die "$bundle is not a bundle (constraints.txt, pip)"
# compiled wheels must be for the Pi (aarch64); pure-Python ones (py3-none-any) go anywhere
for w in "$bundle"/*.whl; do
  case ${w##*/} in
    *-any.whl|*aarch64*.whl) ;;
    *) die "${w##*/} is not for arm64: make the bundle on an arm64 Debian 12 / Pi OS Bookworm machine" ;;
  esac
done

stage=$pigen/stage-safety
rm -rf "$stage"
cp -a "$here/stage-safety" "$stage"
mkdir -p "$stage/00-install/files/safety-appliance"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  # tracked and new files, not what git ignores; a .venv link to another checkout's virtualenv is left out
  git -C "$src" ls-files -co --exclude-standard -z | grep -zv '^\.venv' \
    | tar -C "$src" --null -T - -cf - | tar -C "$stage/00-install/files/safety-appliance" -xf -
else
  tar -C "$src" --exclude=./.git --exclude='./.venv*' --exclude=./var --exclude=./build --exclude='*.egg-info' \
    --exclude=__pycache__ -cf - . | tar -C "$stage/00-install/files/safety-appliance" -xf -
fi
cp -a "$bundle" "$stage/00-install/files/bundle"
[ -e "$pigen/config" ] || install -m 0644 "$here/config.example" "$pigen/config"
touch "$pigen/stage2/SKIP_IMAGES"
echo "pi-gen stage ready: $stage (safety-appliance $version, $(find "$stage/00-install/files/bundle" -name '*.whl' | wc -l) wheels)"
echo "next: cd $pigen && sudo ./build.sh     # the image: deploy/*-safety-appliance-safety.img.xz"
