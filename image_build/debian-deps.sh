#!/usr/bin/env bash
# Debian / Raspberry Pi OS packages the appliance needs, by purpose. Installs them with apt when run as
# root; otherwise prints exactly what to install and fails if a required one is missing.
#   image_build/debian-deps.sh run    what `make demo` and a box need
#   image_build/debian-deps.sh test   what `make test` needs (real peers: a browser, systemd-analyze)
set -euo pipefail
purpose=${1:-run}

# package:command-or-file-that-proves-it (a path starting with / is tested with -e)
run_required=(python3-venv:venv)
run_recommended=(fonts-noto-cjk:/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc chromium:chromium)
test_required=(python3-venv:venv chromium:chromium systemd:systemd-analyze socat:socat)
test_recommended=(fonts-noto-cjk:/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc)

have() {  # have PACKAGE:PROOF
  local proof=${1#*:}
  case $proof in
    venv) "${PYTHON:-python3}" -c 'import venv, ensurepip' 2>/dev/null ;;
    /*) [ -e "$proof" ] ;;
    *) command -v "$proof" >/dev/null 2>&1 ;;
  esac
}

missing_required=() missing_recommended=()
if [ "$purpose" = test ]; then req=("${test_required[@]}") rec=("${test_recommended[@]}")
else req=("${run_required[@]}") rec=("${run_recommended[@]}"); fi
for p in "${req[@]}"; do have "$p" || missing_required+=("${p%%:*}"); done
for p in "${rec[@]}"; do have "$p" || missing_recommended+=("${p%%:*}"); done
all=("${missing_required[@]}" "${missing_recommended[@]}")
[ ${#all[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${all[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${all[@]}" >/dev/null
  exit 0
fi

echo "Debian packages needed for '$purpose' are missing. Install them with:"
echo "    sudo apt-get install -y --no-install-recommends ${all[*]}"
if [ ${#missing_required[@]} -gt 0 ]; then
  echo "required: ${missing_required[*]}"
  exit 1
fi
echo "(recommended only: ${missing_recommended[*]}; continuing)"
