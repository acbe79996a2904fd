#!/usr/bin/env bash
# Installs what ukdev and its tests need on Debian/Ubuntu when it is missing:
# QEMU (qemu-system-x86), a C toolchain and make for the example unikernel,
# tmux for the dashboard's end-to-end test, gdb for `ukdev gdb` and the
# dashboard's g key (and their test), and GRUB for BIOS (grub-pc-bin's
# i386-pc images and modules, grub-common's grub-mkimage) for the bootable
# disks of `ukdev disk`.
set -euo pipefail

missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v gcc >/dev/null || missing+=(gcc)
command -v ld >/dev/null || missing+=(binutils)
command -v make >/dev/null || missing+=(make)
command -v tmux >/dev/null || missing+=(tmux)
command -v gdb >/dev/null || missing+=(gdb)
[ -e /usr/lib/grub/i386-pc/boot.img ] || missing+=(grub-pc-bin)
command -v grub-mkimage >/dev/null || missing+=(grub-common)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
if ! command -v apt-get >/dev/null; then
	echo "ukdev needs: ${missing[*]} — install them with your package manager" >&2
	exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "ukdev needs: ${missing[*]} — run as root or install sudo" >&2; exit 1; }
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
