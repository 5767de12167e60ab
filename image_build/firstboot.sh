#!/usr/bin/env bash
# The first boot of a box made from the Raspberry Pi image (image_build/pi-gen/): safety-firstboot.service
# runs it once, before the appliance starts, while /etc/safety-appliance/firstboot-pending exists (the image
# build leaves that file). It makes this box's identity and secrets with box-secrets.sh (the same script
# install.sh runs: appliance_id, session key, database, HTTPS CA, the kiosk's token), then shows how to reach
# the box: on the text console's login prompt (/etc/issue.d/safety-appliance.issue; agetty fills in the box's
# current address and prints the prompt again when the address changes) and on the console now.
#     firstboot.sh            the first boot (then removes the pending file)
#     firstboot.sh --issue    only write the console text again (after a changed port or a restored CA)
set -euo pipefail
umask 022

ETC=/etc/safety-appliance
APP=${SAFETY_APP:-/opt/safety-appliance/current/bin/safety-appliance}
USER_NAME=safety
PENDING=$ETC/firstboot-pending
ISSUE=${SAFETY_ISSUE:-/etc/issue.d/safety-appliance.issue}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

issue_only=0
case ${1:-} in
  --issue) issue_only=1 ;;
  "") ;;
  *) echo "firstboot.sh: error: unknown option: $1" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "firstboot.sh: error: run it as root" >&2; exit 1; }

if [ $issue_only = 0 ]; then
  echo "==> first boot of the safety appliance: making this box's secrets"
  bash "$HERE/box-secrets.sh" --unique-id
fi

# what the console shows: the ports and id from the config, the CA's fingerprint from the CA itself
read -r appliance_id port tls tls_port < <(python3 - $ETC/appliance.toml <<'PY'
import sys, tomllib
c = tomllib.load(open(sys.argv[1], "rb"))
web = c.get("web", {})
print(c.get("site", {}).get("appliance_id", "appliance-1"), web.get("port", 8080),
      int(web.get("tls", True)), web.get("tls_port", 8443))
PY
)
info=$(runuser -u $USER_NAME -- "$APP" tls --config $ETC/appliance.toml --json)
fingerprint=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["fingerprint"] or "-")' <<<"$info")
version=$("$APP" --version 2>/dev/null | awk '{print $NF}')

# agetty's escapes: \4 is the IPv4 address of the first interface that is up (\4{eth0}: of eth0); the
# console's font has no Chinese, so this text is English only
if [ "$tls" = 1 ]; then url="https://\\4:$tls_port/"; else url="http://\\4:$port/"; fi
install -d -m 0755 "$(dirname "$ISSUE")"
cat > "$ISSUE.new" <<EOT
Plant safety appliance $appliance_id (safety-appliance $version)
  Open on a tablet or PC on the LAN:  $url
  First install the CA from http://\\4:$port/ca.crt and compare its fingerprint:
  CA SHA-256 $fingerprint
  First admin (log in here or by SSH):
    sudo -u safety /opt/safety-appliance/current/bin/safety-appliance create-user --login admin --role admin

EOT
chmod 0644 "$ISSUE.new" && mv "$ISSUE.new" "$ISSUE"
# running gettys show the new text at their next prompt; --reload asks them now (no getty: nothing to do)
command -v agetty >/dev/null && agetty --reload 2>/dev/null || true

# the console now (the unit's output goes to the console and the journal)
echo "==> safety appliance $appliance_id is set up"
python3 -c 'import json, sys; [print("    setup URL:", u) for u in json.load(sys.stdin)["urls"]]' <<<"$info"
echo "    CA fingerprint (SHA-256): $fingerprint"
if [ $issue_only = 0 ]; then
  rm -f "$PENDING"
fi
