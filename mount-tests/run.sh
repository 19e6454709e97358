#!/usr/bin/env bash
# mount-tests/run.sh: mounts the release slabfs binary over fresh scratch
# directories and runs the mount-test suites. Each suite prints
# its own "NAME: N passed, M failed" line, the run a final one; the exit
# status is non-zero on any failure. Whatever happens (a failure, a crash,
# Ctrl-C, SIGTERM), every mount is unmounted, every daemon and helper stopped
# and the scratch directory removed.
#
#   mount-tests/run.sh                   every suite against slabfs
#   mount-tests/run.sh data reclaim      some suites
#   mount-tests/run.sh --list            the suites
#   mount-tests/run.sh --target native   the suites on a plain directory
#                                        (to check the suites themselves)
# Options:
#   --binary PATH   use this slabfs binary instead of building one
#                   (also SLABFS_BIN=PATH)
#   --keep          keep the scratch directory (logs, backing files)
# Environment:
#   SLABFS_SCRATCH=DIR   build with --scratch-path DIR
#   MT_OPS=N             exerciser operations per run (default 30000)
#   MT_SEED=N            base seed: replays every exerciser run of a suite
#                        (each run prints its seed; one run alone:
#                        python3 mount-tests/exerciser.py DIR --seed N)
#   STRESSORS="a b"      the stress suite's stressors; STRESS_SECONDS (3)
#   RECLAIM_CACHE_SIZE   the reclaim suite's --cache-size (256K)
set -euo pipefail

MT_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$MT_HOME/.." && pwd)
export MT_HOME
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$MT_HOME/lib.sh"

# ---------------------------------------------------------------- one suite
# run.sh starts itself with --suite-process NAME for each suite, in a
# process group of its own, so that a signal can take down the suite with
# everything it started (exerciser, stress-ng, loops) and nothing else.
if [ "${1:-}" = --suite-process ]; then
    name=$2
    file=$(compgen -G "$MT_HOME/suites/*-$name.sh" | head -n 1)
    # shellcheck source=/dev/null
    source "$file"
    mt_suite_begin "$name"
    cd "$MT_DIR"
    "suite_${name//-/_}"
    mt_suite_end
    exit 0
fi

# ---------------------------------------------------------------- the suites
# A suite is suites/X-NAME.sh defining suite_NAME; X orders them (the issue's
# letters: b data, c reclaim, d stress, g badinput). Its "# suite:" line is
# what --list shows.
suite_files() { compgen -G "$MT_HOME/suites/*-*.sh" | sort; }
suite_name() {
    local base
    base=$(basename "$1" .sh)
    printf '%s\n' "${base#*-}"
}

list_suites() {
    local file
    while read -r file; do
        printf '%-10s %s\n' "$(suite_name "$file")" "$(sed -n 's/^# suite: //p' "$file" | head -n 1)"
    done < <(suite_files)
}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    printf '\nSuites:\n'
    list_suites | sed 's/^/  /'
}

# ---------------------------------------------------------------- arguments
MT_TARGET=slabfs
keep=0
selected=()
while [ $# -gt 0 ]; do
    case $1 in
        --list) list_suites; exit 0 ;;
        --target) MT_TARGET=${2:?--target needs slabfs or native}; shift ;;
        --target=*) MT_TARGET=${1#*=} ;;
        --binary) SLABFS_BIN=${2:?--binary needs a path}; shift ;;
        --binary=*) SLABFS_BIN=${1#*=} ;;
        --keep) keep=1 ;;
        -h | --help) usage; exit 0 ;;
        -*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) selected+=("$1") ;;
    esac
    shift
done
case $MT_TARGET in
    slabfs | native) ;;
    *) echo "run.sh: --target must be slabfs or native, not '$MT_TARGET'" >&2; exit 2 ;;
esac

all=()
while read -r file; do all+=("$(suite_name "$file")"); done < <(suite_files)
if [ ${#selected[@]} -eq 0 ]; then
    selected=("${all[@]}")
fi
for name in "${selected[@]}"; do
    if ! printf '%s\n' "${all[@]}" | grep -qx -- "$name"; then
        echo "run.sh: no suite '$name'; suites: ${all[*]}" >&2
        exit 2
    fi
done

# ---------------------------------------------------------------- prerequisites
missing=()
for tool in python3 getfattr setfattr; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ "$MT_TARGET" = slabfs ]; then
    command -v fusermount3 >/dev/null || missing+=(fusermount3)
    [ -c /dev/fuse ] || missing+=(/dev/fuse)
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "run.sh: missing ${missing[*]} (apt-get install -y fuse3 attr python3 fio stress-ng)" >&2
    echo "total: 0 passed, 1 failed"
    exit 1
fi

if [ "$MT_TARGET" = slabfs ] && [ -z "${SLABFS_BIN:-}" ]; then
    # The release build, as it should be: what users run is what we test.
    build=(swift build -c release --product slabfs)
    [ -n "${SLABFS_SCRATCH:-}" ] && build+=(--scratch-path "$SLABFS_SCRATCH")
    mt_log "building: ${build[*]}"
    if ! (cd "$REPO" && "${build[@]}" >"${TMPDIR:-/tmp}/slabfs-mt-build.$$.log" 2>&1); then
        tail -n 40 "${TMPDIR:-/tmp}/slabfs-mt-build.$$.log"
        rm -f "${TMPDIR:-/tmp}/slabfs-mt-build.$$.log"
        echo "total: 0 passed, 1 failed"
        exit 1
    fi
    rm -f "${TMPDIR:-/tmp}/slabfs-mt-build.$$.log"
    bindir=(swift build -c release --show-bin-path)
    [ -n "${SLABFS_SCRATCH:-}" ] && bindir+=(--scratch-path "$SLABFS_SCRATCH")
    SLABFS_BIN=$(cd "$REPO" && "${bindir[@]}" 2>/dev/null | tail -n 1)/slabfs
fi
if [ "$MT_TARGET" = slabfs ]; then
    [ -x "${SLABFS_BIN:-}" ] || { echo "run.sh: no slabfs binary at '${SLABFS_BIN:-}'" >&2; exit 1; }
    SLABFS_BIN=$(cd "$(dirname "$SLABFS_BIN")" && pwd)/$(basename "$SLABFS_BIN")
fi
export MT_TARGET SLABFS_BIN="${SLABFS_BIN:-}"

# ---------------------------------------------------------------- scratch and cleanup
MT_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/slabfs-mt.XXXXXX")
export MT_ROOT
case $MT_ROOT in
    *[[:space:]\\]*) echo "run.sh: scratch path '$MT_ROOT' has whitespace or a backslash" >&2; exit 2 ;;
esac
suite_pid=
suite_name=
cleaned=0
reported=0
passed=0
failed=0
skipped=0

# Adds a finished (or killed) suite's counts to the run's.
collect() {
    local name=$1 status=$2 p f s
    if [ -f "$MT_ROOT/$name/result" ]; then
        read -r p f s <"$MT_ROOT/$name/result"
    else
        # The suite died without its EXIT trap (SIGKILL): count it failed.
        p=0 f=1 s=0
        echo "$name: died with status $status before reporting"
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
}

report_total() {
    local extra=""
    [ "$reported" = 1 ] && return
    reported=1
    [ "$skipped" -gt 0 ] && extra=", $skipped skipped"
    printf '\n'
    echo "total: $passed passed, $failed failed$extra"
}

# Runs on every exit. Order: stop the running suite's process group (its
# own EXIT trap unmounts what it can), then go over every suite's registry,
# then make sure no mount is left under the scratch root before removing it:
# rm -rf through a live mount would descend into it.
cleanup() {
    local status=$? dir left
    [ "$cleaned" = 1 ] && return
    cleaned=1
    trap - EXIT INT TERM
    if [ -n "$suite_pid" ] && kill -0 "$suite_pid" 2>/dev/null; then
        kill -TERM -- "-$suite_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$suite_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$suite_pid" 2>/dev/null || true
        wait "$suite_pid" 2>/dev/null || true
        mt_cleanup_dir "$MT_ROOT/$suite_name"
        collect "$suite_name" "$status"
    fi
    for dir in "$MT_ROOT"/*/; do
        [ -d "$dir" ] && mt_cleanup_dir "${dir%/}"
    done
    left=$(mt_mounts_under "$MT_ROOT")
    if [ -n "$left" ]; then
        printf '%s\n' "$left" | while read -r m; do fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
        left=$(mt_mounts_under "$MT_ROOT")
    fi
    # An interrupted run still ends with its counts (and is a failure).
    if [ "$reported" != 1 ]; then
        [ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
        report_total
    fi
    if [ -n "$left" ]; then
        echo "run.sh: still mounted, scratch kept: $left" >&2
        status=1
    elif [ "$keep" = 1 ]; then
        echo "run.sh: scratch kept in $MT_ROOT"
    else
        rm -rf "$MT_ROOT"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT
trap 'echo "run.sh: terminated" >&2; exit 143' TERM

mt_log "target $MT_TARGET${SLABFS_BIN:+ ($SLABFS_BIN)}, scratch $MT_ROOT"
mt_log "suites: ${selected[*]}"

# ---------------------------------------------------------------- run
for name in "${selected[@]}"; do
    printf '\n'
    # set -m: the suite gets a process group of its own (see above). It runs
    # in the background and we wait for its pid: a trapped signal interrupts
    # `wait` at once, where a foreground child would delay the trap.
    set -m
    bash "$0" --suite-process "$name" </dev/null &
    suite_pid=$!
    suite_name=$name
    set +m
    status=0
    wait "$suite_pid" || status=$?
    suite_pid=
    # A suite that died by SIGKILL did not clean up after itself.
    mt_cleanup_dir "$MT_ROOT/$name"
    collect "$name" "$status"
done

report_total
[ "$failed" -eq 0 ]
