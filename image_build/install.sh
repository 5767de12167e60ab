#!/usr/bin/env bash
# Installs the plant safety appliance on Debian 12 / Raspberry Pi OS Bookworm (arm64 or amd64) and leaves the
# service enabled and running. Run it as root from an unpacked release or a checkout:
#     sudo image_build/install.sh [options]
# Running it again is safe: it updates the program and the units and never overwrites the config, the
# secrets or the data. See docs/INSTALL.md.
#
#   --no-start          install and enable, but start nothing (image building, a chroot)
#   --wheelhouse DIR    install the Python packages from DIR only, without internet (image_build/wheelhouse.sh
#                       makes one on a machine with internet, same architecture and Debian release)
#   --station           this board is a satellite reader station: install and enable safety-station.service
#                       (config /etc/safety-appliance/station.toml) instead of the appliance
#   --kiosk             this box has a display: cage + Chromium in kiosk mode on tty1 showing the wall board
#   --admin LOGIN       create the first admin user LOGIN (password asked, or read from stdin when it is not a
#                       terminal); skipped when LOGIN exists
#   --no-apt            install no Debian packages (they are already there; tests, images)
#   --image             building an image copied to many boxes (image_build/pi-gen/): implies --no-start and
#                       makes no secrets, no appliance_id and no database; safety-firstboot.service makes them
#                       at the box's first boot (image_build/box-secrets.sh, which a plain install runs now)
#   --face              also install the optional face check at the contractors' gate (the `face` extra: dlib
#                       and its face models, ~130 MB); with --wheelhouse, make the wheelhouse with --face too.
#                       Then set [contractors] face_check = true in the config
#   --ntp-server HOST   the plant's NTP server: chrony takes the time from HOST
#                       (/etc/chrony/conf.d/safety-appliance.conf; a Pi 4 has no clock that runs without power)
#   -h, --help          this text
set -euo pipefail
# the program and the units must be readable by the service user whatever root's own umask is; the private
# files below are written under umask 077 of their own
umask 022

PREFIX=/opt/safety-appliance
ETC=/etc/safety-appliance
DATA=/var/lib/safety-appliance
USER_NAME=safety
KIOSK_USER=safety-kiosk
UNIT_DIR=/etc/systemd/system

start=1 wheelhouse="" station=0 kiosk=0 admin="" apt=1 image=0 ntp="" extras=pcsc
die() { echo "install.sh: error: $*" >&2; exit 1; }
say() { echo "==> $*"; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case $1 in
    --no-start) start=0 ;;
    --wheelhouse) [ $# -ge 2 ] || die "--wheelhouse needs a folder"; wheelhouse=$(realpath "$2"); shift ;;
    --wheelhouse=*) wheelhouse=$(realpath "${1#*=}") ;;
    --station) station=1 ;;
    --kiosk) kiosk=1 ;;
    --admin) [ $# -ge 2 ] || die "--admin needs a login name"; admin=$2; shift ;;
    --admin=*) admin=${1#*=} ;;
    --no-apt) apt=0 ;;
    --image) image=1 ;;
    --face) extras=pcsc,face ;;
    --ntp-server) [ $# -ge 2 ] || die "--ntp-server needs a host name or address"; ntp=$2; shift ;;
    --ntp-server=*) ntp=${1#*=} ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
  shift
done

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ "$(id -u)" = 0 ] || die "run it as root: sudo $0 $*"
[ -f "$SRC/pyproject.toml" ] && [ -f "$SRC/constraints.txt" ] || die "$SRC does not look like the appliance's source (no pyproject.toml / constraints.txt)"
[ -z "$wheelhouse" ] || [ -d "$wheelhouse" ] || die "--wheelhouse $wheelhouse is not a folder"
[ -z "$ntp" ] || [[ $ntp =~ ^[A-Za-z0-9][A-Za-z0-9.:-]*$ ]] || die "--ntp-server $ntp is not a host name or address"
if [ $image = 1 ]; then
  start=0
  # an admin's password or a station's key in an image would be the same on every box made from it
  [ -z "$admin" ] || die "--admin cannot go with --image: create the first admin on the box after its first boot"
  [ $station = 0 ] || die "--station cannot go with --image (a station's key comes from its appliance)"
  # a tree that already holds one box's secrets must not become an image
  for f in $ETC/credentials/session_key $DATA/tls/ca.key $ETC/kiosk.env; do
    [ ! -e $f ] || die "--image: $f exists: an image must not carry one box's secrets (build from a clean system)"
  done
fi
if [ -r /etc/os-release ]; then
  . /etc/os-release
  [ "${VERSION_CODENAME:-}" = bookworm ] || echo "install.sh: warning: made for Debian 12 / Raspberry Pi OS Bookworm, this is ${PRETTY_NAME:-unknown}" >&2
fi
# systemd is running (a booted box) or not (a chroot, an image being built): only then start, reload, trigger
running_systemd=0
[ -d /run/systemd/system ] && running_systemd=1
[ $running_systemd = 1 ] || start=0

# --- Debian packages ------------------------------------------------------------------------------------
# python3-venv: the venv; pcscd + libpcsclite1: PC/SC readers (ACR122U, ACR1252U); libusb-1.0-0: nfcpy's USB
# readers; fonts-noto-cjk: every page is Chinese first; systemd, udev, kmod: the units, the reader rules and
# the module blacklist (all on a stock system; named for a minimal one).
pkgs=(python3 python3-venv ca-certificates systemd udev kmod pcscd libpcsclite1 libusb-1.0-0 fonts-noto-cjk)
# pyscard has no Linux wheel on PyPI: it is built here unless the wheelhouse brings one
if ! compgen -G "${wheelhouse:-/nonexistent}/pyscard-*.whl" >/dev/null; then
  pkgs+=(gcc python3-dev libpcsclite-dev)
fi
[ $kiosk = 1 ] && pkgs+=(cage chromium libpam-systemd dbus)
[ -n "$ntp" ] && pkgs+=(chrony)
# a Raspberry Pi camera is streamed by rpicam-vid (systemd/safety-camera-csi.service), not through picamera2
if grep -qs "Raspberry Pi" /proc/device-tree/model && ! command -v rpicam-vid >/dev/null; then pkgs+=(rpicam-apps-lite); fi
if [ $apt = 1 ]; then
  command -v apt-get >/dev/null || die "apt-get not found: this installer is for Debian / Raspberry Pi OS"
  missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed: is the Debian mirror reachable? (or use --no-apt with the packages already there)"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || die "apt-get install ${missing[*]} failed"
  fi
fi
for c in python3 systemctl runuser useradd; do command -v $c >/dev/null || die "$c is missing (Debian package list: ${pkgs[*]})"; done
python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
  || die "python3 >= 3.11 with venv is needed (Debian packages python3 python3-venv)"

# --- users ---------------------------------------------------------------------------------------------
# dialout: RS-485/serial adapters; plugdev: USB NFC readers (udev rules below); video: cameras
for g in dialout plugdev video; do getent group $g >/dev/null || groupadd --system $g; done
if ! getent passwd $USER_NAME >/dev/null; then
  say "creating system user $USER_NAME"
  useradd --system --user-group --home-dir $DATA --no-create-home --shell /usr/sbin/nologin \
    --comment "plant safety appliance" $USER_NAME
fi
usermod -a -G dialout,plugdev,video $USER_NAME

# --- the program: a release venv with the locked versions -------------------------------------------------
# The layout `safety-appliance update` / `rollback` use (appliance/core/releases.py): one venv per release in
# $PREFIX/releases/<version>/, and $PREFIX/current -> releases/<version> (relative), which the units run.
VERSION=$(sed -n 's/^__version__ = "\([^"]*\)"$/\1/p' "$SRC/appliance/__init__.py")
[ -n "$VERSION" ] || die "no __version__ in $SRC/appliance/__init__.py"
REL=$PREFIX/releases/$VERSION
install -d -m 0755 $PREFIX $PREFIX/releases
current=$(readlink $PREFIX/current 2>/dev/null || true)
current_version=${current#releases/}
program=1
if [ -n "$current" ] && [ "$current_version" != "$VERSION" ] && [ -x $PREFIX/current/bin/safety-appliance ] \
   && python3 -c 'import json, sys; u = json.load(open(sys.argv[1])).get("updates") or [{}]; sys.exit(u[-1].get("version") != sys.argv[2])' \
        $PREFIX/releases.json "$current_version" 2>/dev/null; then
  # an `update` installed the running release: it stays (safety-appliance update / rollback move it)
  say "this box runs release $current_version (installed by 'safety-appliance update'): the program is left as it is; this installer's $VERSION is not installed"
  program=0
fi
if [ $program = 1 ]; then
  say "installing the appliance $VERSION into $REL"
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  # a clean copy of the source (pip builds in the source folder; the checkout stays untouched)
  tar -C "$SRC" --exclude=./.git --exclude=./.venv --exclude='./.venv*' --exclude=./var --exclude=./build \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude=./training --exclude=./tests --exclude=./bench \
    -cf - . | tar -C "$stage" -xf -
  pip_src=()
  if [ -n "$wheelhouse" ]; then pip_src=(--no-index --find-links "$wheelhouse"); fi
  [ -x $REL/bin/python ] && ! $REL/bin/python -c '' 2>/dev/null && rm -rf $REL  # Python upgraded under it
  [ -x $REL/bin/python ] || python3 -m venv $REL
  pip=("$REL/bin/python" -m pip --disable-pip-version-check --no-input -q)
  "${pip[@]}" install "${pip_src[@]}" -U pip -c "$stage/constraints.txt" \
    || die "pip could not install pip from ${wheelhouse:-PyPI} (no internet? use --wheelhouse DIR)"
  # the [pcsc] extra: PC/SC readers ([face]: the gate's face check, --face); a path requirement is always
  # rebuilt and reinstalled, so a rerun updates
  if [ "$extras" = pcsc,face ] && [ -n "$wheelhouse" ] && ! ls "$wheelhouse"/dlib_bin-*.whl >/dev/null 2>&1; then
    die "--face: the wheelhouse $wheelhouse has no dlib-bin wheel (the face check's packages): make it with image_build/wheelhouse.sh DIR --face"
  fi
  "${pip[@]}" install "${pip_src[@]}" -c "$stage/constraints.txt" "${stage}[$extras]" \
    || die "pip could not install the appliance from ${wheelhouse:-PyPI} (no internet? use --wheelhouse DIR)"
  said=$($REL/bin/safety-appliance --version 2>&1) && [ "${said##* }" = "$VERSION" ] \
    || die "the installed release does not answer --version $VERSION: $said"
  # switch in one rename, as `update` does: the service sees the old release or the new one, never none
  ln -sfn "releases/$VERSION" $PREFIX/current.switching && mv -T $PREFIX/current.switching $PREFIX/current
  # the layout before releases (one venv in $PREFIX/.venv): the units now run $PREFIX/current
  rm -rf $PREFIX/.venv
fi
install -m 0644 "$SRC/README.md" "$SRC/appliance.example.toml" "$SRC/station.example.toml" $PREFIX/
install -d -m 0755 $PREFIX/docs && install -m 0644 "$SRC"/docs/*.md $PREFIX/docs/
ln -sfn $PREFIX/current/bin/safety-appliance /usr/local/bin/safety-appliance
APP=$PREFIX/current/bin/safety-appliance

# --- config, secrets, data -------------------------------------------------------------------------------
# The config is readable by the service (root:safety 0640), never overwritten; secrets live in a root-only
# file that systemd reads for the unit (EnvironmentFile=).
install -d -o root -g $USER_NAME -m 0750 $ETC
if [ ! -e $ETC/appliance.toml ]; then
  say "writing $ETC/appliance.toml from the example (edit it, then: safety-appliance check-config $ETC/appliance.toml)"
  # the box's own appliance_id replaces this placeholder in box-secrets.sh (now, or at an image's first boot)
  sed 's/^appliance_id = "appliance-1"/appliance_id = "appliance-unset"/' "$SRC/appliance.example.toml" > $ETC/appliance.toml.new
  mv $ETC/appliance.toml.new $ETC/appliance.toml
fi
chown root:$USER_NAME $ETC/appliance.toml && chmod 0640 $ETC/appliance.toml
# the session key, secrets.env, the database and the HTTPS CA: image_build/box-secrets.sh, below
install -d -o $USER_NAME -g $USER_NAME -m 0750 $DATA
# a data folder left root-owned by an earlier manual run ("readonly database"): give it back to the service
find $DATA -xdev \! -user $USER_NAME -exec chown $USER_NAME:$USER_NAME {} +

# --- devices: udev rules, kernel modules, journald --------------------------------------------------------
install -d -m 0755 /etc/udev/rules.d /etc/modprobe.d /etc/modules-load.d /etc/systemd/journald.conf.d
install -m 0644 "$SRC/systemd/60-safety-appliance-readers.rules" /etc/udev/rules.d/
install -m 0644 "$SRC/systemd/safety-appliance-blacklist.conf" /etc/modprobe.d/
install -m 0644 "$SRC/systemd/safety-appliance-modules.conf" /etc/modules-load.d/safety-appliance.conf
install -m 0644 "$SRC/systemd/journald-safety-appliance.conf" /etc/systemd/journald.conf.d/safety-appliance.conf
if [ -n "$ntp" ]; then
  # Debian's chrony.conf reads conf.d first and keeps its own pool (harmless offline) and its `makestep 1 3`
  install -d -m 0755 /etc/chrony/conf.d
  cat > /etc/chrony/conf.d/safety-appliance.conf.new <<EOF
# Written by image_build/install.sh --ntp-server (docs/INSTALL.md §16): the plant's NTP server.
server $ntp iburst prefer
# A Raspberry Pi 4 has no clock that runs without power: after a power cut it starts at the time it was shut
# down (fake-hwclock). Step the clock at once instead of slewing it for hours: any offset over 1 s in the
# first three updates, which come when the server is first reached, however long after boot that is.
makestep 1 3
EOF
  mv /etc/chrony/conf.d/safety-appliance.conf.new /etc/chrony/conf.d/safety-appliance.conf
  chmod 0644 /etc/chrony/conf.d/safety-appliance.conf
  say "chrony takes the time from $ntp (/etc/chrony/conf.d/safety-appliance.conf)"
fi
if [ $running_systemd = 1 ]; then
  if [ -n "$ntp" ] && systemctl cat chrony.service >/dev/null 2>&1; then
    systemctl restart chrony.service || echo "install.sh: warning: chrony did not restart: systemctl status chrony" >&2
  fi
  # the NFC modules may already hold a reader: let them go so that nfcpy can open it
  for m in port100 pn533_usb pn533; do modprobe -r $m 2>/dev/null || true; done
  systemctl restart systemd-modules-load.service || echo "install.sh: warning: loading usbserial/cdc_acm/videodev failed; they load when a device is plugged" >&2
  udevadm control --reload-rules && udevadm trigger --subsystem-match=usb --action=change || true
  systemctl restart systemd-journald.service || true
fi

# --- units ---------------------------------------------------------------------------------------------
install -m 0644 "$SRC/systemd/safety-appliance.service" "$SRC/systemd/safety-station.service" \
  "$SRC/systemd/safety-camera-csi.service" "$SRC/systemd/safety-firstboot.service" $UNIT_DIR/
# the box's own secrets (made below, or at an image's first boot by safety-firstboot.service)
install -d -m 0755 /usr/local/lib/safety-appliance
install -m 0755 "$SRC/image_build/box-secrets.sh" "$SRC/image_build/firstboot.sh" /usr/local/lib/safety-appliance/
systemctl enable pcscd.socket >/dev/null 2>&1 || systemctl enable pcscd.service >/dev/null 2>&1 \
  || echo "install.sh: warning: could not enable pcscd" >&2

# as the service runs (its unit: User=safety, UMask=0077), so that what it writes is the service's own
run_as_service() { (umask 0077; runuser -u $USER_NAME -- "$@"); }

if [ $station = 1 ]; then
  if [ ! -e $ETC/station.toml ]; then
    say "writing $ETC/station.toml from the example: set [station] name, the readers and appliance_id"
    install -o root -g $USER_NAME -m 0640 "$SRC/station.example.toml" $ETC/station.toml
  fi
  chown root:$USER_NAME $ETC/station.toml && chmod 0640 $ETC/station.toml
  if [ ! -e $ETC/station.env ]; then
    (umask 077; printf '%s\n' "# the key printed by 'safety-appliance create-station' on the appliance (64 hex digits)" \
      "SA_STATION_KEY=" > $ETC/station.env)
  fi
  chown root:root $ETC/station.env && chmod 0600 $ETC/station.env
  systemctl disable safety-appliance.service >/dev/null 2>&1 || true
  systemctl enable safety-station.service
  [ $start = 1 ] && systemctl daemon-reload
  if ! grep -Eq '^SA_STATION_KEY=[0-9a-fA-F]{64}$' $ETC/station.env; then
    say "station installed; not started: put its key in $ETC/station.env, then: systemctl restart safety-station"
  elif [ $start = 1 ]; then
    systemctl restart safety-station.service
  fi
  say "done (satellite reader station)"
  exit 0
fi

systemctl enable safety-appliance.service

if [ $kiosk = 1 ]; then
  getent passwd $KIOSK_USER >/dev/null || useradd --system --user-group --create-home --home-dir /var/lib/$KIOSK_USER \
    --shell /usr/sbin/nologin --comment "wall board kiosk" $KIOSK_USER
  usermod -a -G video,input,render $KIOSK_USER 2>/dev/null || usermod -a -G video,input $KIOSK_USER
  install -m 0644 "$SRC/systemd/pam-safety-kiosk" /etc/pam.d/safety-kiosk
  install -m 0644 "$SRC/systemd/safety-kiosk.service" $UNIT_DIR/
  systemctl disable getty@tty1.service >/dev/null 2>&1 || true
  systemctl enable safety-kiosk.service
  systemctl set-default graphical.target >/dev/null
fi

if [ $image = 1 ]; then
  # no secrets, no appliance_id, no database in an image: each box makes its own at its first boot
  systemctl enable safety-firstboot.service
  : > $ETC/firstboot-pending
  say "image: this box's secrets, appliance_id and database are made at its first boot (safety-firstboot.service)"
else
  # the session key, secrets.env, the appliance_id, the database (as the service user, so never root-owned),
  # the HTTPS CA and the kiosk's token: each made only when missing; the same script as an image's first boot
  bash "$SRC/image_build/box-secrets.sh"
fi

if [ -n "$admin" ]; then
  if run_as_service $APP export users --config $ETC/appliance.toml --format csv 2>/dev/null \
      | python3 -c 'import csv, sys; sys.exit(sys.argv[1] not in {r.get("login") for r in csv.DictReader(sys.stdin)})' "$admin"; then
    say "admin user $admin exists: left as it is"
  elif [ -t 0 ]; then
    run_as_service $APP create-user --config $ETC/appliance.toml --login "$admin" --role admin
  else
    run_as_service $APP create-user --config $ETC/appliance.toml --login "$admin" --role admin --password-stdin
  fi
fi

port=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb")).get("web", {}).get("port", 8080))' $ETC/appliance.toml)
if [ $start = 1 ]; then
  systemctl daemon-reload
  systemctl restart safety-appliance.service || die "the service did not start: journalctl -u safety-appliance -n 50"
  [ $kiosk = 1 ] && systemctl restart safety-kiosk.service
  say "running: http://$(hostname -I 2>/dev/null | cut -d' ' -f1 || echo '<this box>'):$port/admin   (status: systemctl status safety-appliance)"
else
  say "installed and enabled, not started (--no-start, or systemd is not running here)"
fi
[ -n "$admin" ] || say "no admin user yet: sudo runuser -u $USER_NAME -- safety-appliance create-user --config $ETC/appliance.toml --login admin --role admin"
say "done"
