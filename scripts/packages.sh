# shellcheck shell=bash
# The Debian packages slabfs needs, in one place, sourced by the README's two
# commands: scripts/install-and-mount.sh installs what building, installing
# and mounting need; scripts/test-all.sh what the tests need as well. So the
# two commands do all of the set-up on a fresh machine. .ci/run installs the
# same list itself (CI's own install step) before scripts/test-all.sh.

# Building (libfuse3's headers, found through pkg-config), mounting
# (fusermount3, mount.fuse3), the control attributes (getfattr, setfattr)
# and the man page (man).
SLABFS_PACKAGES=(libfuse3-dev pkg-config fuse3 attr man-db)

# The mount tests: the Python probes, fio (the data suite), stress-ng (the
# stress suite), prometheus_client (the metrics suite parses the exposition
# with it).
SLABFS_TEST_PACKAGES=(python3 fio stress-ng python3-prometheus-client)

# slabfs_need_packages PACKAGE...: installs those not installed yet with
# apt-get (as root); nothing to do, no apt-get at all.
slabfs_need_packages() {
    local package missing=()
    for package in "$@"; do
        dpkg-query -W -f '${db:Status-Abbrev}' "$package" 2>/dev/null | grep -q '^ii' || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "${0##*/}: missing Debian packages: ${missing[*]}; run as root, or: apt-get install -y ${missing[*]}" >&2
        return 1
    fi
    echo "installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}
