#!/usr/bin/env bash
# Installs what ukdev and its tests need on Debian/Ubuntu when it is missing:
# QEMU (qemu-system-x86), a C toolchain and make for the example unikernel,
# tmux for the dashboard's end-to-end test, gdb for `ukdev gdb` and the
# dashboard's g key (and their test), GRUB for BIOS (grub-pc-bin's
# i386-pc images and modules, grub-common's grub-mkimage) for the bootable
# disks of `ukdev disk`, and for the libvirt backend's tests: the libvirt
# daemon with its QEMU driver (libvirtd, virtlogd, virt-ssh-helper), virsh,
# and OpenSSH's server (the qemu+ssh:// tests start their own sshd on the
# loopback, internal/sshdtest).
#
# Run as root, it also makes libvirt run QEMU as root (user and group
# "root" in qemu.conf, only when qemu.conf sets no user or group): CI
# containers have no libvirt-qemu user able to read the test's files.
# UKDEV_QEMU_CONF names another qemu.conf (to try this on a copy).
#
# It starts no daemon: .ci/run does, as a machine with systemd does itself.
set -euo pipefail

# have PATH...: one of the paths exists (globs allowed). Daemons live in
# /usr/sbin, often not in a user's PATH, so they are looked up by path.
have() {
	local p
	for p in "$@"; do
		[ -e "$p" ] && return 0
	done
	return 1
}

missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v gcc >/dev/null || missing+=(gcc)
command -v ld >/dev/null || missing+=(binutils)
command -v make >/dev/null || missing+=(make)
command -v tmux >/dev/null || missing+=(tmux)
command -v gdb >/dev/null || missing+=(gdb)
[ -e /usr/lib/grub/i386-pc/boot.img ] || missing+=(grub-pc-bin)
command -v grub-mkimage >/dev/null || missing+=(grub-common)
# libvirt-daemon-system brings libvirt-daemon (libvirtd, virtlogd,
# virt-ssh-helper), libvirt-clients and the users, groups and directories
# the daemon expects.
{ have /usr/sbin/libvirtd && have /etc/libvirt/qemu.conf; } || missing+=(libvirt-daemon-system)
have /usr/lib/*/libvirt/connection-driver/libvirt_driver_qemu.so /usr/lib*/libvirt/connection-driver/libvirt_driver_qemu.so ||
	missing+=(libvirt-daemon-driver-qemu)
command -v virsh >/dev/null || missing+=(libvirt-clients)
have /usr/sbin/sshd || missing+=(openssh-server)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)

sudo=()
if [ "$(id -u)" -ne 0 ] && [ ${#missing[@]} -gt 0 ]; then
	command -v sudo >/dev/null || { echo "ukdev needs: ${missing[*]} — run as root or install sudo" >&2; exit 1; }
	sudo=(sudo)
fi

if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}" >&2
	if ! command -v apt-get >/dev/null; then
		echo "ukdev needs: ${missing[*]} — install them with your package manager" >&2
		exit 1
	fi
	# Without a running init system (a container), the packages'
	# maintainer scripts must not try to start their services (libvirtd,
	# sshd, virtlogd): a policy-rc.d answering 101 ("action forbidden")
	# makes invoke-rc.d skip them, as Debian's container images do. It is
	# removed afterwards when this script put it there.
	policy=/usr/sbin/policy-rc.d
	if [ ! -d /run/systemd/system ] && [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# ukdev scripts/deps.sh: no service starts while packages install.\nexit 101\n' |
			"${sudo[@]}" tee "$policy" >/dev/null
		"${sudo[@]}" chmod 755 "$policy"
		trap '"${sudo[@]}" rm -f "$policy"' EXIT
	fi
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# QEMU as root under libvirt (see the top). Only a qemu.conf without an
# active user or group line is changed, so a host configured by hand
# stays as it is; running this twice changes nothing.
conf=${UKDEV_QEMU_CONF:-/etc/libvirt/qemu.conf}
if [ "$(id -u)" -eq 0 ] && [ -f "$conf" ]; then
	changed=()
	# A last line without its newline would run into ours.
	[ -z "$(tail -c1 "$conf")" ] || echo >>"$conf"
	for key in user group; do
		if ! grep -Eq "^[[:space:]]*${key}[[:space:]]*=" "$conf"; then
			printf '%s = "root"\n' "$key" >>"$conf"
			changed+=("$key")
		fi
	done
	if [ ${#changed[@]} -gt 0 ]; then
		echo "$conf: ${changed[*]} set to \"root\"" >&2
		if pgrep -x libvirtd >/dev/null; then
			echo "$conf: libvirtd already runs and reads it only when it starts: restart it" >&2
		fi
	fi
fi
