#!/usr/bin/env bash
# slabfs mount benchmark: slabfs (by default, and with
# --passthrough off, --coherence timeouts and --readdir-cache off) against a
# plain directory, libfuse's passthrough_ll and bindfs (and passthrough_hp, if
# given) on real mounts, with large-file fio rows, a slabfs-only large round, the reclaim comparison of slabfs's
# eviction policies (and, in a separate run, what a reader process feels
# during the budget cut), slabfs under real memory pressure (a cgroup-v1 memory limit), and the
# freshness of each mount: how soon changes made
# directly in the backing directory show through it. Writes a table (or
# --json), SVG charts into mount-tests/bench/out/, and PASS/MISS lines for the
# targets. A benchmark: a MISS never fails it.
#
#   mount-tests/bench.sh [--quick] [--json] [--repetitions R] [--large N]
#                        [--files N] [--stats N] [--rm-files N]
#                        [--reclaim-reader-rate N] [--pressure-files N]
#                        [--pressure-headroom SIZE] [--pressure-psi-us N]
#                        [--freshness-changes N] [--passthrough-hp PATH]
#                        [--io-size SIZE] [--io-runtime S]
#                        [--only main|large|reclaim|pressure|freshness]
#                        [--skip PART]
#                        [--backing tmpfs|ext4-image | --dir DIR]
#                        [--update-readme-charts] ...
#   mount-tests/bench.sh --help
#
# --reclaim-reader-rate N: after each policy's reclaim comparison, a latency
#   run of its own (its own mount of the same tree, filled the same way, the
#   same Zipf run, the same budget cut; the comparison's figures never see
#   it) in which a separate reader process lstats files of cold/ (made in the
#   backing directory before that mount, looked up by nothing else, each
#   lstat a LOOKUP and a miss of the daemon's cache) at N a second (default
#   2000; 0: no latency run): its latency before, during (until resident
#   pages reach the new budget's low watermark: "pages back") and after the
#   cut.
# pressure: slabfs (lru, page, default) exec-ed in a memory cgroup of its own
#   under /sys/fs/cgroup/memory (cgroup v1), whose memory.limit_in_bytes is set
#   just above its usage (--pressure-headroom SIZE; default a quarter of the
#   growth, at most 8M) while lookups of new files grow the cache: OOM kill or
#   not, PSI stall, slabfs's PSI and cgroup events and pages given back, hit rate after.
#   --pressure-files N (default --files), --pressure-psi-us N (slabfs
#   --psi-threshold-us; default slabfs's own). Skipped where there is no
#   cgroup-v1 memory controller. Every cgroup it made is removed on exit.
#
# --rm-files N: the main part ends with a reader's stat latency through each
#   mount, idle and while rm -rf removes N files (default 100000) directly
#   in the backing directory; 0 skips it.
# --freshness-changes N: changes of each kind in the freshness part (default
#   1000; --quick 200).
# --io-size SIZE: the main comparison ends, in each column's mount, with fio
#   on one file of SIZE (default 1G, --quick 256M; 0 skips): sequential
#   write (1 MiB blocks, --end_fsync=1), sequential read (1 MiB, after
#   drop_caches), 4 KiB random reads (after drop_caches; psync, one job, at
#   most a quarter of the blocks or --io-runtime S seconds, default 10,
#   --quick 3); MB/s and IOPS against native, and slabfs's READ/WRITE
#   requests meanwhile (none with passthrough). slabfs-pt-off is slabfs
#   --passthrough off, left out (the table says so) if the slabfs binary has
#   no --passthrough.
# --passthrough-hp PATH: add libfuse's passthrough_hp as a column (main
#   comparison, rm -rf reader, freshness). PATH is a passthrough_hp binary, or
#   a directory holding libfuse's example/passthrough_hp.cc and cxxopts.hpp,
#   which is then built into the work directory with g++ and pkg-config fuse3.
#
# Needs root (mounts, /proc/sys/vm/drop_caches, memory cgroups). Builds slabfs in release
# mode (set SLABFS_BIN to use a binary you built), builds passthrough_ll from
# the examples libfuse3-dev installs (and passthrough_hp from --passthrough-hp
# PATH, a source directory), and installs bindfs and fio with apt-get if they
# are missing. Every mount and daemon is removed on exit, whatever the exit.
# KEEP_LOGS=1 keeps the daemons' logs; BENCH_DIR sets where the work
# directory goes (default $TMPDIR or /tmp).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BENCH="$HERE/bench"
OUT="$BENCH/out"
PYTHON=${PYTHON:-python3}
BASE=${BENCH_DIR:-${TMPDIR:-/tmp}}

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

ON_DIR=""
BACKING=ext4-image
HP=""
prev=""
for arg in "$@"; do
    case $arg in
        -h|--help) exec "$PYTHON" "$BENCH/driver.py" --help ;;
        --dir=*) ON_DIR=${arg#--dir=} ;;
        --backing=*) BACKING=${arg#--backing=} ;;
        --passthrough-hp=*) HP=${arg#--passthrough-hp=} ;;
    esac
    [[ $prev == --dir ]] && ON_DIR=$arg
    [[ $prev == --backing ]] && BACKING=$arg
    [[ $prev == --passthrough-hp ]] && HP=$arg
    prev=$arg
done
[[ -n $ON_DIR ]] && BACKING=dir
# Check the command line before building anything.
"$PYTHON" "$BENCH/driver.py" --parse-only "$@" --outdir "$OUT" --repo "$REPO" || exit 2

[[ $(id -u) -eq 0 ]] || die "run as root (mounts, drop_caches)"
[[ -c /dev/fuse ]] || die "/dev/fuse is missing"
command -v fusermount3 >/dev/null || die "fusermount3 is missing (apt-get install fuse3)"

WORK=""
DRIVER=""

# Is PID still the daemon we started on MNT? (Never signal a recycled PID.)
our_daemon() { [[ -r /proc/$1/cmdline ]] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -qF -- " $2"; }
is_mounted() { awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/mounts; }

# Unmount everything of this run and end every daemon the driver started,
# whatever the exit; then check that nothing is left.
cleanup() {
    local status=$? pid mnt type left="" alive="" i
    trap - EXIT INT TERM HUP
    if [[ -n $DRIVER ]] && kill -0 "$DRIVER" 2>/dev/null; then
        kill -TERM "$DRIVER" 2>/dev/null || true   # it unmounts what it mounted
        for i in $(seq 1 100); do kill -0 "$DRIVER" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$DRIVER" 2>/dev/null || true
    fi
    [[ -n $WORK && -d $WORK ]] || exit "$status"
    local -a pids=() mnts=()
    if [[ -f $WORK/daemons ]]; then
        while read -r pid mnt; do pids+=("$pid"); mnts+=("$mnt"); done < "$WORK/daemons"
    fi
    # FUSE mounts (each daemon's, then any under WORK), then the daemons.
    for i in "${!mnts[@]}"; do
        is_mounted "${mnts[i]}" && { fusermount3 -u "${mnts[i]}" 2>/dev/null || fusermount3 -u -z "${mnts[i]}" 2>/dev/null || true; }
    done
    while read -r mnt type; do
        [[ $type == fuse* ]] && { fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" 2>/dev/null || true; }
    done < <(awk -v w="$WORK/" 'index($2, w) == 1 { print $2, $3 }' /proc/mounts | sort -r)
    for i in "${!pids[@]}"; do
        pid=${pids[i]}; mnt=${mnts[i]}
        our_daemon "$pid" "$mnt" || continue
        for _ in $(seq 1 25); do our_daemon "$pid" "$mnt" || break; sleep 0.2; done
        our_daemon "$pid" "$mnt" && kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 1 25); do our_daemon "$pid" "$mnt" || break; sleep 0.2; done
        our_daemon "$pid" "$mnt" && kill -KILL "$pid" 2>/dev/null
    done
    # The memory cgroups of the pressure part (listed in WORK/cgroups; only
    # ours, slabfs-bench-*): any process still in one goes back to the root
    # cgroup, then the cgroup goes (rmdir of an empty cgroup).
    local -a cgs=()
    local cg
    if [[ -f $WORK/cgroups ]]; then
        while read -r cg; do
            [[ $cg == /sys/fs/cgroup/memory/slabfs-bench-* ]] && cgs+=("$cg")
        done < "$WORK/cgroups"
    fi
    for cg in "${cgs[@]}"; do
        for i in $(seq 1 25); do
            [[ -d $cg ]] || break
            while read -r pid; do
                echo "$pid" > /sys/fs/cgroup/memory/cgroup.procs 2>/dev/null || true
            done < "$cg/cgroup.procs"
            rmdir "$cg" 2>/dev/null && break
            sleep 0.2
        done
    done
    # Then the tmpfs or loop-mounted image (or the tree under --dir).
    if is_mounted "$WORK/fs"; then
        umount "$WORK/fs" 2>/dev/null || { sleep 1; umount "$WORK/fs" 2>/dev/null; } || umount -l "$WORK/fs" 2>/dev/null || true
    fi
    # The kernel lets go of the loop device (autoclear) after the unmount,
    # asynchronously: after the fio rows' large writes that took seconds.
    # Detach it (again) and wait for it, up to 30 s.
    if [[ -f $WORK/ext4.img ]] && losetup -j "$WORK/ext4.img" | grep -q .; then
        for i in $(seq 1 60); do
            losetup -j "$WORK/ext4.img" | grep -q . || break
            (( i % 10 == 1 )) && { losetup -j "$WORK/ext4.img" | cut -d: -f1 | xargs -r -n1 losetup -d 2>/dev/null || true; }
            sleep 0.5
        done
    fi
    local tree=""
    [[ -f $WORK/rmdir ]] && tree=$(cat "$WORK/rmdir")
    # The check: no mount of this run (grep fuse /proc/mounts), no daemon, no loop device.
    for i in "${!mnts[@]}"; do
        grep fuse /proc/mounts | awk -v m="${mnts[i]}" '$2 == m' | grep -q . && left+="still mounted: ${mnts[i]}"$'\n'
        our_daemon "${pids[i]}" "${mnts[i]}" && alive+=" ${pids[i]}"
    done
    left+=$(awk -v w="$WORK/" 'index($2, w) == 1' /proc/mounts)
    [[ -n $tree ]] && left+=$(awk -v w="$tree/" 'index($2, w) == 1' /proc/mounts)
    if [[ -f $WORK/ext4.img ]] && losetup -j "$WORK/ext4.img" | grep -q .; then
        left+="loop device still attached: $(losetup -j "$WORK/ext4.img")"
    fi
    [[ -n $alive ]] && left+="daemons still alive:$alive"
    for cg in "${cgs[@]}"; do [[ -d $cg ]] && left+="cgroup still there: $cg"$'\n'; done
    if [[ -n $left ]]; then
        say "check: LEFT BEHIND (not removing $WORK):"; printf '%s\n' "$left" >&2
        exit 1
    fi
    [[ -n $tree ]] && rm -rf "$tree"
    if [[ -n ${KEEP_LOGS:-} ]]; then
        find "$WORK" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
        say "logs kept in $WORK/logs"
    else
        rm -rf "$WORK"
    fi
    say "check: no mount, daemon, loop device or cgroup of this run left (grep fuse /proc/mounts: $(grep -c fuse /proc/mounts || true) FUSE mount(s), none ours; $(find /sys/fs/cgroup/memory -maxdepth 1 -name 'slabfs-bench-*' 2>/dev/null | wc -l) slabfs-bench memory cgroup(s))"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

WORK=$(mktemp -d "$BASE/slabfs-bench.XXXXXX")
mkdir -p "$WORK/bin" "$WORK/logs" "$OUT"
: > "$WORK/daemons"

# Where the trees go (native's, and every daemon's backing directory).
# By default a fresh loop-mounted ext4 image: a real on-disk filesystem,
# where "stat, cold" means what it says (drop_caches empties the backing
# filesystem's dentry and inode caches too, so a daemon that asks the backing
# directory pays for it), without the root filesystem's history (it has no
# journal, so ext4 skips inodes deleted in the last minutes when it
# allocates, and create times there vary 10-600 us with the order of runs).
# --backing tmpfs: a tmpfs mounted here for this run (creates in RAM, ~4 us:
# the daemons' own costs, nothing of the disk's; but tmpfs keeps its dentries
# through drop_caches, so a cold stat costs the backing nothing).
# --dir DIR: DIR's filesystem as it is (a plain disk directory).
case $BACKING in
dir)
    [[ -d $ON_DIR ]] || die "--dir $ON_DIR is not a directory"
    FS=$(mktemp -d "$ON_DIR/slabfs-bench.XXXXXX")
    echo "$FS" > "$WORK/rmdir"
    ;;
tmpfs)
    # Inodes: the large round (200,000 files) plus slack; size: the 4 KiB
    # files and directories need far less, tmpfs takes pages only as used.
    mkdir "$WORK/fs"
    mount -t tmpfs -o size=4G,nr_inodes=2000000,mode=0755 slabfs-bench "$WORK/fs" \
        || die "cannot mount a tmpfs on $WORK/fs (use --dir DIR)"
    FS="$WORK/fs"
    ;;
ext4-image)
    command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 is missing (apt-get install e2fsprogs), or use --dir DIR"
    truncate -s 16G "$WORK/ext4.img"
    mkfs.ext4 -q -F -N 2000000 -E lazy_itable_init=0,lazy_journal_init=0 "$WORK/ext4.img" \
        || die "mkfs.ext4 failed"
    mkdir "$WORK/fs"
    mount -o loop "$WORK/ext4.img" "$WORK/fs" || die "cannot loop-mount the ext4 image (use --dir DIR)"
    FS="$WORK/fs"
    ;;
*) die "--backing $BACKING: tmpfs or ext4-image (or --dir DIR)" ;;
esac

# slabfs
if [[ -n ${SLABFS_BIN:-} ]]; then
    SLABFS=$SLABFS_BIN
else
    say "building slabfs (swift build -c release --product slabfs)"
    (cd "$REPO" && swift build -c release --product slabfs >"$WORK/logs/swift-build.log" 2>&1) \
        || { tail -30 "$WORK/logs/swift-build.log" >&2; die "swift build failed"; }
    SLABFS="$(cd "$REPO" && swift build -c release --show-bin-path)/slabfs"
fi
[[ -x $SLABFS ]] || die "no slabfs binary at $SLABFS"

# passthrough_ll, from the examples Debian's libfuse3-dev installs
EX=/usr/share/doc/libfuse3-dev/examples
[[ -d $EX ]] || die "$EX is missing (apt-get install libfuse3-dev)"
mkdir -p "$WORK/pll"
for f in passthrough_ll.c passthrough_helpers.h; do
    if [[ -f $EX/$f ]]; then cp "$EX/$f" "$WORK/pll/"
    elif [[ -f $EX/$f.gz ]]; then gunzip -c "$EX/$f.gz" > "$WORK/pll/$f"
    elif [[ $f == passthrough_ll.c ]]; then die "no $f in $EX"
    fi
done
# shellcheck disable=SC2046
gcc -O2 -o "$WORK/bin/passthrough_ll" "$WORK/pll/passthrough_ll.c" $(pkg-config --cflags --libs fuse3) \
    2>"$WORK/logs/gcc.log" || { cat "$WORK/logs/gcc.log" >&2; die "cannot build passthrough_ll"; }

# passthrough_hp (--passthrough-hp PATH): a binary, or libfuse's C++ example
# built here. The -D flags are what libfuse's own feature checks set on
# glibc; without them utimensat is compiled out (touch and mv end in EIO).
HP_OPT=()
if [[ -n $HP ]]; then
    if [[ -f $HP/passthrough_hp.cc ]]; then
        say "building passthrough_hp from $HP"
        # shellcheck disable=SC2046
        g++ -O2 -std=c++17 -DHAVE_UTIMENSAT -DHAVE_POSIX_FALLOCATE -DHAVE_SETXATTR "$HP/passthrough_hp.cc" \
            -o "$WORK/bin/passthrough_hp" $(pkg-config fuse3 --cflags --libs) 2>"$WORK/logs/g++.log" \
            || { tail -30 "$WORK/logs/g++.log" >&2; die "cannot build passthrough_hp from $HP"; }
        HP_OPT=(--passthrough-hp-bin "$WORK/bin/passthrough_hp")
    else
        HP_OPT=(--passthrough-hp-bin "$(realpath "$HP")")
    fi
fi

# bindfs
if ! command -v bindfs >/dev/null; then
    say "installing bindfs"
    apt-get install -y bindfs >"$WORK/logs/apt.log" 2>&1 \
        || { apt-get update >>"$WORK/logs/apt.log" 2>&1 && apt-get install -y bindfs >>"$WORK/logs/apt.log" 2>&1; } \
        || { tail -20 "$WORK/logs/apt.log" >&2; die "cannot install bindfs"; }
fi
BINDFS=$(command -v bindfs)

# fio (the main comparison's large-file rows)
if ! command -v fio >/dev/null; then
    say "installing fio"
    apt-get install -y fio >>"$WORK/logs/apt.log" 2>&1 \
        || { apt-get update >>"$WORK/logs/apt.log" 2>&1 && apt-get install -y fio >>"$WORK/logs/apt.log" 2>&1; } \
        || { tail -20 "$WORK/logs/apt.log" >&2; die "cannot install fio"; }
fi
FIO=$(command -v fio)

say "trees in $FS ($(findmnt -n -o FSTYPE,SOURCE --target "$FS"))"
# The driver runs in the background so that a signal reaches the trap at once;
# we wait on its PID only (a bare 'wait' would also wait for FUSE daemons).
"$PYTHON" "$BENCH/driver.py" "$@" --work "$FS" --daemons "$WORK/daemons" --logs "$WORK/logs" --slabfs "$SLABFS" \
    --passthrough-ll "$WORK/bin/passthrough_ll" "${HP_OPT[@]}" --bindfs "$BINDFS" --fio "$FIO" --outdir "$OUT" --repo "$REPO" &
DRIVER=$!
set +e
wait "$DRIVER"
rc=$?
set -e
DRIVER=""
exit "$rc"
