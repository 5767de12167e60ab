#!/usr/bin/env bash
# This box's own identity and secrets: the ones a Raspberry Pi image, copied to many boxes, must not carry.
# Each is made only when it is missing, never replaced, so running it again changes nothing. install.sh runs
# it on a box installed in place; on a box made from the image (image_build/pi-gen/), whose build withheld
# them, safety-firstboot.service runs it at the first boot (image_build/firstboot.sh). Run as root:
#     box-secrets.sh [--unique-id]
#   --unique-id   the appliance_id gets a random suffix (appliance-<hostname>-<6 hex digits>): the boxes of
#                 one image may all boot with the same hostname (raspberrypi)
# What it makes, in this order:
#   appliance_id in /etc/safety-appliance/appliance.toml, when the file still has the placeholder
#     "appliance-unset" that install.sh writes
#   /etc/safety-appliance/credentials/session_key: the key that signs the tablets' logins (root 0600,
#     handed to the service by LoadCredential=)
#   /etc/safety-appliance/secrets.env: the template for the sync endpoints' secrets (root 0600)
#   the database (init-db), as the service user, after check-config
#   the HTTPS CA and server certificate in <data_dir>/tls/ (`safety-appliance tls`), as the service user;
#     it prints the CA's fingerprint and the setup URLs
#   /etc/safety-appliance/kiosk.env with a new device token, when safety-kiosk.service is installed
set -euo pipefail
umask 022

ETC=/etc/safety-appliance
USER_NAME=safety
UNIT_DIR=/etc/systemd/system
APP=${SAFETY_APP:-/opt/safety-appliance/current/bin/safety-appliance}
PLACEHOLDER=appliance-unset

unique=0
die() { echo "box-secrets.sh: error: $*" >&2; exit 1; }
say() { echo "==> $*"; }
while [ $# -gt 0 ]; do
  case $1 in
    --unique-id) unique=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option: $1" ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || die "run it as root"
[ -x "$APP" ] || die "$APP is missing: run image_build/install.sh first"
[ -f $ETC/appliance.toml ] || die "$ETC/appliance.toml is missing: run image_build/install.sh first"
getent passwd $USER_NAME >/dev/null || die "no user $USER_NAME: run image_build/install.sh first"

# as the service runs (User=safety, UMask=0077), so that what it writes is the service's own
run_as_service() { (umask 0077; runuser -u $USER_NAME -- "$@"); }

# --- identity -------------------------------------------------------------------------------------------
if grep -q "^appliance_id = \"$PLACEHOLDER\"" $ETC/appliance.toml; then
  host=$(hostname -s 2>/dev/null | tr -c 'A-Za-z0-9_.\n-' '-' || true)
  appliance_id="appliance-${host:-box}"
  if [ $unique = 1 ]; then
    appliance_id="$appliance_id-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  fi
  appliance_id=${appliance_id:0:63}
  say "this box's appliance_id: $appliance_id"
  sed "s/^appliance_id = \"$PLACEHOLDER\"/appliance_id = \"$appliance_id\"/" $ETC/appliance.toml > $ETC/appliance.toml.new
  mv $ETC/appliance.toml.new $ETC/appliance.toml
fi
chown root:$USER_NAME $ETC/appliance.toml && chmod 0640 $ETC/appliance.toml

# --- secrets that systemd hands to the service -----------------------------------------------------------
# the session-signing key as a systemd credential (LoadCredential=session_key:...): root-only here, handed to
# the service in its private $CREDENTIALS_DIRECTORY; tablets stay logged in across reinstalls and updates
install -d -o root -g root -m 0700 $ETC/credentials
if [ ! -s $ETC/credentials/session_key ]; then
  (umask 077; python3 -c 'import secrets; print(secrets.token_hex(32))' > $ETC/credentials/session_key.new \
     && mv $ETC/credentials/session_key.new $ETC/credentials/session_key)
  say "made the session key ($ETC/credentials/session_key)"
fi
chown root:root $ETC/credentials/session_key && chmod 0600 $ETC/credentials/session_key
if [ ! -e $ETC/secrets.env ]; then
  (umask 077; cat > $ETC/secrets.env <<'EOT'
# Secrets for safety-appliance.service, one NAME=value per line (systemd EnvironmentFile=, read as root).
# The config names them with secret_env = "NAME" (sync endpoints). Keep this file root:root 0600.
# SAFETY_SYNC_HQ_SECRET=change-me-to-at-least-16-characters
EOT
  )
fi
chown root:root $ETC/secrets.env && chmod 0600 $ETC/secrets.env

# --- the database and the HTTPS CA, as the service user ------------------------------------------------------
say "checking the config and preparing the database"
run_as_service "$APP" check-config $ETC/appliance.toml >/dev/null || die "$ETC/appliance.toml is not valid (see above); fix it and run this again"
run_as_service "$APP" init-db --config $ETC/appliance.toml >/dev/null
# the same CA the service would make at its first start, made now so that its fingerprint can be shown
run_as_service "$APP" tls --config $ETC/appliance.toml | sed 's/^/    /'

# --- the wall board's device token ----------------------------------------------------------------------
if [ -f $UNIT_DIR/safety-kiosk.service ]; then
  if ! grep -qs '^KIOSK_URL=' $ETC/kiosk.env; then
    port=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb")).get("web", {}).get("port", 8080))' $ETC/appliance.toml)
    # named after the box; a screen of that name from before (its kiosk.env removed to make a new token, or a
    # database restored from another box) keeps its token: this one gets the time in its name
    name="kiosk-$(hostname -s 2>/dev/null || echo local)"
    token=$(run_as_service "$APP" create-token --config $ETC/appliance.toml --name "$name" 2>/dev/null) \
      || token=$(run_as_service "$APP" create-token --config $ETC/appliance.toml --name "$name-$(date -u +%Y%m%d%H%M%S)") \
      || die "could not make the kiosk's device token (see above)"
    (umask 077; echo "KIOSK_URL=http://127.0.0.1:$port/kiosk?token=$token" > $ETC/kiosk.env.new && mv $ETC/kiosk.env.new $ETC/kiosk.env)
    say "made the wall board's device token ($ETC/kiosk.env)"
  fi
  chown root:root $ETC/kiosk.env && chmod 0600 $ETC/kiosk.env
fi
