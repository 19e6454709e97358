#!/usr/bin/env bash
# The README's first command: on a fresh Debian 12 machine with Swift 6.3,
# install what slabfs needs, build it, and mount it over a default backing
# directory. Run as root (FUSE mounts and apt-get need it).
#   BACKING=/path MOUNTPOINT=/path scripts/install-and-mount.sh   to choose.
set -euo pipefail
cd "$(dirname "$0")/.."

backing=${BACKING:-/var/lib/slabfs/backing}
mountpoint=${MOUNTPOINT:-/mnt/slabfs}

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq libfuse3-dev fuse3 attr >/dev/null

swift build -c release --product slabfs
binary="$(swift build -c release --show-bin-path)/slabfs"

mkdir -p "$backing" "$mountpoint"
if grep -q " $mountpoint fuse.slabfs " /proc/mounts; then
    echo "slabfs is already mounted on $mountpoint"
else
    "$binary" "$backing" "$mountpoint"
fi

cat <<EOT
slabfs is mounted on $mountpoint (backing directory: $backing).
  statistics:  $binary stats $mountpoint        (or: getfattr -n user.slabfs.stats $mountpoint)
  live view:   $binary top $mountpoint
  unmount:     fusermount3 -u $mountpoint
EOT
