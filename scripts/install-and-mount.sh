#!/usr/bin/env bash
# The README's first command: on a fresh Debian 12 machine with Swift 6.3,
# install what slabfs needs, build it, install it (scripts/install.sh: the
# binary in /usr/local/bin, where mount.fuse3 finds it, its man page and
# completions), and mount it over a default backing directory. Run as root
# (FUSE mounts, apt-get and /usr/local need it).
#   BACKING=/path MOUNTPOINT=/path scripts/install-and-mount.sh   to choose;
#   PREFIX=/path   to install elsewhere (scripts/install.sh).
# Undo: fusermount3 -u MOUNTPOINT; scripts/install.sh --uninstall.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=packages.sh
source scripts/packages.sh

backing=${BACKING:-/var/lib/slabfs/backing}
mountpoint=${MOUNTPOINT:-/mnt/slabfs}
prefix=${PREFIX:-/usr/local}
# A staged install (DESTDIR) cannot be mounted from: not here.
unset DESTDIR

slabfs_need_packages "${SLABFS_PACKAGES[@]}"
PREFIX=$prefix scripts/install.sh
slabfs=$prefix/bin/slabfs

mkdir -p "$backing" "$mountpoint"
if grep -q " $mountpoint fuse.slabfs " /proc/mounts; then
    echo "slabfs is already mounted on $mountpoint"
else
    "$slabfs" "$backing" "$mountpoint"
fi

case $prefix in
    /usr/local | /usr) ;;
    *) echo "note: mount -t fuse.slabfs and fstab lines look for slabfs in /usr/local/bin and /usr/bin, not $prefix/bin" ;;
esac
cat <<EOT
slabfs is installed in $prefix (man slabfs) and mounted on $mountpoint (backing directory: $backing).
  statistics:  slabfs stats $mountpoint        (or: getfattr -n user.slabfs.stats $mountpoint)
  live view:   slabfs top $mountpoint
  unmount:     fusermount3 -u $mountpoint
  uninstall:   scripts/install.sh --uninstall
EOT
