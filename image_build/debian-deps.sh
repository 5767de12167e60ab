#!/usr/bin/env bash
# Debian / Raspberry Pi OS packages the appliance needs, by purpose. As root it installs the required
# ones with apt; recommended ones are only named (a headless box does not need a browser). The CJK font is
# required: every page is Chinese first, and without it the kiosk shows tofu boxes.
# Without root it prints exactly what to install and fails if a required one is missing.
#   image_build/debian-deps.sh run    what `make demo` and a box need
#   image_build/debian-deps.sh test   what `make test` needs (real peers: a browser, socat, systemd-analyze,
#                                      pcscd with the vpcd virtual reader, libpcsclite-dev to build pyscard,
#                                      debootstrap and systemd-nspawn for the installer's test on a clean
#                                      Debian 12, buildah to build the OCI image, shellcheck for the shell scripts,
#                                      LibreOffice Calc and poppler's pdftotext/pdffonts to open the reports)
set -euo pipefail
purpose=${1:-run}

# package:proof — a command name, a path (tested with -e), "venv", or a|b for either command
run_required=(python3-venv:venv fonts-noto-cjk:/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc)
run_recommended=(chromium:chromium\|chromium-browser socat:socat)
# pcscd + vsmartcard-vpcd: the PC/SC reader tests' virtual reader; libpcsclite-dev + gcc: pyscard builds from source
test_required=(python3-venv:venv chromium:chromium\|chromium-browser systemd:systemd-analyze socat:socat
  pcscd:pcscd vsmartcard-vpcd:/usr/lib/pcsc/drivers/serial/libifdvpcd.so libpcsclite-dev:/usr/include/PCSC/winscard.h gcc:gcc
  fonts-noto-cjk:/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc debootstrap:/usr/sbin/debootstrap
  systemd-container:/usr/bin/systemd-nspawn buildah:buildah shellcheck:shellcheck
  libreoffice-calc-nogui:soffice poppler-utils:pdftotext)
test_recommended=()
# on a Raspberry Pi: picamera2 for a camera on the CSI connector (the driver finds apt's copy from the venv)
if grep -qs "Raspberry Pi" /proc/device-tree/model; then
  run_recommended+=(python3-picamera2:/usr/lib/python3/dist-packages/picamera2/__init__.py)
fi

have() {  # have PACKAGE:PROOF
  local proof=${1#*:} alt
  case $proof in
    venv) "${PYTHON:-python3}" -c 'import venv, ensurepip' 2>/dev/null ;;
    /*) [ -e "$proof" ] ;;
    *) for alt in ${proof//|/ }; do command -v "$alt" >/dev/null 2>&1 && return 0; done; return 1 ;;
  esac
}

missing_required=() missing_recommended=()
if [ "$purpose" = test ]; then req=("${test_required[@]}") rec=("${test_recommended[@]}")
else req=("${run_required[@]}") rec=("${run_recommended[@]}"); fi
for p in "${req[@]}"; do have "$p" || missing_required+=("${p%%:*}"); done
for p in "${rec[@]}"; do have "$p" || missing_recommended+=("${p%%:*}"); done

if [ ${#missing_required[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${missing_required[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing_required[@]}" >/dev/null
  else
    echo "Debian packages needed for '$purpose' are missing. Install them with:"
    echo "    sudo apt-get install -y --no-install-recommends ${missing_required[*]}"
    exit 1
  fi
fi
if [ ${#missing_recommended[@]} -gt 0 ]; then
  echo "recommended (the kiosk browser, socat for the demo's serial detectors): sudo apt-get install -y --no-install-recommends ${missing_recommended[*]}"
fi
exit 0
