#!/bin/sh
# The OCI image's entry point (Dockerfile): makes a config from the example when the config volume has none
# (appliance_id from the container's hostname), then runs `safety-appliance COMMAND...` (default: run; the
# config comes from $SAFETY_APPLIANCE_CONFIG). Other commands: docker exec -it <container> safety-appliance ...
set -eu
config=${SAFETY_APPLIANCE_CONFIG:-/etc/safety-appliance/appliance.toml}
if [ ! -e "$config" ]; then
  id="appliance-$(hostname | tr -c 'A-Za-z0-9_.\n-' '-')"
  umask 027
  sed "s/^appliance_id = \"appliance-1\"/appliance_id = \"$id\"/" /opt/safety-appliance/appliance.example.toml > "$config.new"
  mv "$config.new" "$config"
  echo "entrypoint: wrote $config from the example (edit it, then restart the container)" >&2
fi
[ $# -gt 0 ] || set -- run
export SAFETY_APPLIANCE_CONFIG="$config"
exec /opt/safety-appliance/current/bin/safety-appliance "$@"
