#!/bin/bash -e
# pi-gen sub-stage, run on the build host in this folder: ROOTFS_DIR is the image's root file system and
# on_chroot runs commands inside it (pi-gen's scripts/common). It copies the appliance's source and its
# offline bundle (files/, filled by image_build/pi-gen/prepare.sh) into the image and runs the installer there
# with --image: the program, units, rules and a config whose appliance_id is a placeholder; no session key, no
# HTTPS CA, no database, no kiosk token, no admin. An image is copied to many boxes: safety-firstboot.service
# makes those on each box at its first boot.
# Options, from pi-gen's config (exported there): SAFETY_KIOSK=1 (the wall board on the HDMI display: cage and
# Chromium), SAFETY_NTP_SERVER=HOST (chrony takes the time from the plant's NTP server).
SAFETY_KIOSK=${SAFETY_KIOSK:-0}
SAFETY_NTP_SERVER=${SAFETY_NTP_SERVER:-}

if [ ! -f files/safety-appliance/image_build/install.sh ] || ! compgen -G "files/bundle/safety_appliance-*.whl" >/dev/null; then
	echo "stage-safety: files/ has no appliance source or bundle: run image_build/pi-gen/prepare.sh BUNDLE PI_GEN_DIR" >&2
	exit 1
fi

options=(--image --no-apt --wheelhouse /root/safety-image-build/bundle)
packages=()
if [ "${SAFETY_KIOSK}" = "1" ]; then
	options+=(--kiosk)
	packages+=(cage chromium libpam-systemd dbus)
fi
if [ -n "${SAFETY_NTP_SERVER}" ]; then
	options+=(--ntp-server "${SAFETY_NTP_SERVER}")
	packages+=(chrony)
fi
if [ ${#packages[@]} -gt 0 ]; then
	on_chroot <<EOT
apt-get install -y --no-install-recommends ${packages[*]}
EOT
fi

# not under /tmp: some pi-gen versions mount a tmpfs there inside the chroot, which would hide the copy
build="${ROOTFS_DIR}/root/safety-image-build"
rm -rf "${build}"
mkdir -p "${build}"
cp -a files/safety-appliance "${build}/safety-appliance"
cp -a files/bundle "${build}/bundle"
on_chroot <<EOT
bash /root/safety-image-build/safety-appliance/image_build/install.sh ${options[*]}
EOT
rm -rf "${build}"

# what must not leave in the image, and what the first boot needs
for f in etc/safety-appliance/credentials/session_key etc/safety-appliance/kiosk.env \
         var/lib/safety-appliance/appliance.db var/lib/safety-appliance/tls/ca.key; do
	if [ -e "${ROOTFS_DIR}/$f" ]; then
		echo "stage-safety: /$f is in the image: an image must not carry one box's secrets" >&2
		exit 1
	fi
done
grep -q '^appliance_id = "appliance-unset"' "${ROOTFS_DIR}/etc/safety-appliance/appliance.toml"
test -e "${ROOTFS_DIR}/etc/safety-appliance/firstboot-pending"
test -L "${ROOTFS_DIR}/etc/systemd/system/multi-user.target.wants/safety-firstboot.service"
