# shellcheck shell=bash
# suite: scripts/install.sh into a DESTDIR and a PREFIX, the man page (man -l, every mount option and -o key), completions, uninstall, mount -t fuse.slabfs and an fstab line with mount -a
#
# Everything is installed under the suite's scratch directory, never in a
# system path: a DESTDIR stage (PREFIX /usr/local) for the files, and a
# scratch PREFIX that a private mount namespace shows on /usr/local for the
# mount commands alone (install_mount_helper says why).

suite_install() {
    if [ "$MT_TARGET" = native ]; then
        mt_skip "install (native target)"
        return 0
    fi
    install_ci_packages
    install_staged
    install_mount_helper
    install_man_options
    install_uninstall
}

# The README's commands install the packages scripts/packages.sh lists; CI
# installs its own (.ci/run): the same ones, or CI would pass where a
# newcomer's run fails.
install_ci_packages() {
    local missing=() package
    # shellcheck source=../../scripts/packages.sh
    source "$REPO/scripts/packages.sh"
    for package in "${SLABFS_PACKAGES[@]}" "${SLABFS_TEST_PACKAGES[@]}"; do
        grep -Eq "^apt-get install .*[[:space:]]$package([[:space:]]|\$)" "$REPO/.ci/run" || missing+=("$package")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        mt_pass ".ci/run installs every package scripts/packages.sh lists"
    else
        mt_fail ".ci/run does not install: ${missing[*]}"
    fi
}

# install_run LABEL ACTION ENV...: runs scripts/install.sh ACTION ("" to
# install, --uninstall) with ENV, from the repository, with the binary under
# test (no build of slabfs).
install_run() {
    local label=$1 action=$2 out
    shift 2
    out=$(mt_tmpfile install)
    if (cd "$REPO" && env SLABFS_BIN="$SLABFS_BIN" "$@" scripts/install.sh ${action:+"$action"}) >"$out" 2>&1; then
        mt_pass "$label"
    else
        mt_fail "$label: scripts/install.sh failed"
        mt_show "$out"
        return 1
    fi
}

install_staged() {
    INSTALL_STAGE=$MT_DIR/stage
    INSTALL_ROOT=$INSTALL_STAGE/usr/local
    install_run "install with DESTDIR=stage PREFIX=/usr/local" "" DESTDIR="$INSTALL_STAGE" PREFIX=/usr/local || return 0
    local file
    for file in bin/slabfs share/man/man1/slabfs.1 share/bash-completion/completions/slabfs \
        share/zsh/site-functions/_slabfs share/fish/vendor_completions.d/slabfs.fish; do
        mt_check "installed DESTDIR/usr/local/$file" test -s "$INSTALL_ROOT/$file"
    done
    mt_check "the installed binary is the one built, mode 755" \
        bash -c 'cmp -s "$1" "$2" && [ "$(stat -c %a "$2")" = 755 ]' _ "$SLABFS_BIN" "$INSTALL_ROOT/bin/slabfs"
    mt_check "nothing installed outside DESTDIR/usr/local" \
        bash -c '[ -z "$(find "$1" -mindepth 1 -maxdepth 1 ! -name usr)" ] && [ -z "$(find "$1/usr" -mindepth 1 -maxdepth 1 ! -name local)" ]' \
        _ "$INSTALL_STAGE"

    # man -l renders the page: in the C locale (plain ASCII hyphens), wide,
    # without hyphenation or justification, so that names stay whole.
    INSTALL_MAN_TEXT=$MT_DIR/man.txt
    local err=$MT_DIR/man.err
    if LC_ALL=C MANWIDTH=250 MAN_KEEP_FORMATTING= man --nh --nj -l "$INSTALL_ROOT/share/man/man1/slabfs.1" \
        >"$INSTALL_MAN_TEXT" 2>"$err" && [ ! -s "$err" ] && grep -q '^NAME' "$INSTALL_MAN_TEXT" &&
        grep -q 'slabfs' "$INSTALL_MAN_TEXT"; then
        mt_pass "man -l renders slabfs.1 ($(wc -l <"$INSTALL_MAN_TEXT") lines, no warnings)"
    else
        mt_fail "man -l slabfs.1: did not render cleanly"
        mt_show "$err"
        mt_show "$INSTALL_MAN_TEXT" 10
    fi

    local completions=$INSTALL_ROOT/share
    mt_check "bash completion: parses, registers slabfs, completes 'slabfs st' to stats" \
        bash -c 'source "$1" || exit 1
                 complete -p slabfs >/dev/null || exit 1
                 func=$(complete -p slabfs | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
                 COMP_WORDS=(slabfs st); COMP_CWORD=1; COMP_LINE="slabfs st"; COMP_POINT=${#COMP_LINE}
                 "$func" slabfs st slabfs 2>/dev/null
                 printf "%s\n" "${COMPREPLY[@]}" | grep -qx stats' _ "$completions/bash-completion/completions/slabfs"
    local shell file
    for shell in zsh fish; do
        file=$completions/zsh/site-functions/_slabfs
        [ "$shell" = fish ] && file=$completions/fish/vendor_completions.d/slabfs.fish
        if command -v "$shell" >/dev/null; then
            mt_check "$shell completion parses ($shell -n)" "$shell" -n "$file"
        else
            mt_check "$shell completion names slabfs and its mount options ($shell not installed to parse it)" \
                bash -c 'grep -q slabfs "$1" && grep -q cache-size "$1"' _ "$file"
        fi
    done
}

# mount(8) gives its helpers an environment without PATH, so mount.fuse3's
# shell looks for slabfs in its default path (/usr/local/sbin:/usr/local/bin:
# /usr/sbin:/usr/bin:/sbin:/bin), where an install with the default PREFIX
# puts it; a PATH of ours would not reach it. So the mount commands run in a
# mount namespace of their own (unshare -m, private) in which the scratch
# PREFIX's bin and share/man are bind-mounted on /usr/local/bin and
# /usr/local/share/man: there slabfs is installed as a real install leaves
# it, and nothing is written to, or mounted over, the system's paths. The
# namespace ends with its last process; the daemons it starts are recorded
# (MT_DIR/pids) so that cleanup stops them however the suite ends.
install_mount_helper() {
    INSTALL_PREFIX=$MT_DIR/prefix
    install_run "install with PREFIX=scratch/prefix" "" PREFIX="$INSTALL_PREFIX" || return 0
    mt_py_checks env MT_DIR="$MT_DIR" MT_HOME="$MT_HOME" unshare --mount --propagation private \
        bash -c 'source "$MT_HOME/lib.sh"; source "$MT_HOME/suites/j-install.sh"; install_in_namespace "$@"' \
        _ "$INSTALL_PREFIX"
    INSTALL_KEYS=$(cat "$MT_DIR/keys" 2>/dev/null || true)
}

# The pids of processes running the file EXE (by device and inode: the
# daemons mount.fuse3 started, which are not our children).
install_daemons_of() {
    local want proc
    want=$(stat -L -c %d:%i "$1")
    for proc in /proc/[0-9]*; do
        [ "$(stat -L -c %d:%i "$proc/exe" 2>/dev/null)" = "$want" ] && printf '%s\n' "${proc#/proc/}"
    done
    return 0
}

# In the namespace: checks print PASS/FAIL lines (counted by mt_py_checks
# outside), logs NOTE lines.
install_in_namespace() {
    local prefix=$1
    mt_pass() { printf 'PASS %s\n' "$*"; }
    mt_fail() { printf 'FAIL %s\n' "$*"; }
    mt_show() { [ -s "$1" ] && tail -n "${2:-20}" "$1" | sed 's/^/NOTE   | /'; return 0; }
    if ! mount --bind "$prefix/bin" /usr/local/bin || ! mount --bind "$prefix/share/man" /usr/local/share/man; then
        mt_fail "bind-mount the scratch PREFIX on /usr/local in a private mount namespace"
        return 0
    fi
    mt_check "command -v slabfs: /usr/local/bin/slabfs" test "$(command -v slabfs)" = /usr/local/bin/slabfs
    local page
    page=$(man -w slabfs 2>&1 || true)
    # (Debian's /usr/local/man is a link to share/man: man -w may name either.)
    mt_check "man slabfs finds the installed page ($page) and shows it" \
        bash -c '[ "$1" -ef /usr/local/share/man/man1/slabfs.1 ] && LC_ALL=C MANPAGER=cat man slabfs 2>&1 | grep -q "^NAME"' _ "$page"

    local src=$MT_DIR/helper.src mnt=$MT_DIR/helper.mnt out
    mkdir -p "$src" "$mnt"
    out=$(mt_tmpfile mount)
    if mount -t fuse.slabfs "$src" "$mnt" -o cache_size=32M,negative_limit=77 >"$out" 2>&1; then
        mt_pass "mount -t fuse.slabfs SRC DST -o cache_size=32M,negative_limit=77 (mount.fuse3 finds slabfs)"
        install_helper_mounted "mount -t fuse.slabfs" "$mnt" "$src" 33554432 77
    else
        mt_fail "mount -t fuse.slabfs: status $?"
        mt_show "$out"
    fi

    # An fstab line as README gives it (with mount(8)'s own nofail), from
    # an fstab of our own.
    local fstab=$MT_DIR/fstab src2=$MT_DIR/fstab.src mnt2=$MT_DIR/fstab.mnt
    mkdir -p "$src2" "$mnt2"
    printf '%s  %s  fuse.slabfs  cache_size=16M,negative_limit=55,nofail  0  0\n' "$src2" "$mnt2" >"$fstab"
    out=$(mt_tmpfile mount)
    if mount -a -T "$fstab" >"$out" 2>&1; then
        mt_pass "mount -a -T FSTAB with a fuse.slabfs line"
        install_helper_mounted "fstab line" "$mnt2" "$src2" 16777216 55
    else
        mt_fail "mount -a -T FSTAB: status $?"
        mt_show "$out"
    fi
}

# install_helper_mounted LABEL MNT SRC CACHE_SIZE NEGATIVE_LIMIT: the mount is
# slabfs's, serves files, and took the options given in -o; then unmounts
# it with fusermount3 -u and waits for its daemon to go.
install_helper_mounted() {
    local label=$1 mnt=$2 src=$3 cache_size=$4 negative_limit=$5 pids pid got i
    pids=$(install_daemons_of /usr/local/bin/slabfs)
    for pid in $pids; do mt_track "$pid"; done
    if ! mt_mounted "$mnt" fuse.slabfs; then
        mt_fail "$label: no fuse.slabfs mount on $mnt"
        return 1
    fi
    echo "through $label" >"$mnt/hello"
    mt_check "$label: a file written through the mount is in the backing directory" \
        grep -qx "through $label" "$src/hello"
    got=$(MT_STATS_MNT=$mnt slabfs_stats configuration.cache_size configuration.negative_limit)
    mt_check "$label: the -o options reached slabfs (cache_size, negative_limit: $got)" \
        test "$got" = "$cache_size $negative_limit"
    # The settings in force, by their -o names: keys the man page must name.
    MT_STATS_MNT=$mnt slabfs_stats configuration |
        /usr/bin/python3 -c 'import json, sys; print(" ".join(sorted(json.load(sys.stdin))))' >"$MT_DIR/keys"
    fusermount3 -u "$mnt" || true
    for ((i = 0; i < 100; i++)); do
        [ -z "$(install_daemons_of /usr/local/bin/slabfs)" ] && break
        sleep 0.1
    done
    if mt_mounted "$mnt" || [ -n "$(install_daemons_of /usr/local/bin/slabfs)" ]; then
        mt_fail "$label: fusermount3 -u left a mount or a daemon behind"
        return 1
    fi
    mt_pass "$label: fusermount3 -u unmounted it, the daemon (pid ${pids:-?}) exited"
}

# The page names every option of the mount command (from the binary's own
# --experimental-dump-help, the definitions the page is generated from) and
# every -o key (the settings a mount reports, and debug).
install_man_options() {
    [ -s "${INSTALL_MAN_TEXT:-}" ] || return 0
    if [ -z "${INSTALL_KEYS:-}" ]; then
        mt_fail "man page: no -o keys to look for (the mount -t test did not read them)"
        return 0
    fi
    local names missing=() name
    names=$("$SLABFS_BIN" --experimental-dump-help | /usr/bin/python3 -c '
import json, sys
root = json.load(sys.stdin)["command"]
mount = next(c for c in root.get("subcommands", []) if c["commandName"] == "mount")
for argument in mount.get("arguments", []):
    for name in argument.get("names", []):
        if name["kind"] == "long":
            print("--" + name["name"])
        elif name["kind"] in ("short", "longWithSingleDash"):
            print("-" + name["name"])')
    for name in $names $INSTALL_KEYS debug; do
        grep -qF -- "$name" "$INSTALL_MAN_TEXT" || missing+=("$name")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        mt_pass "man page names every mount option ($(echo "$names" | wc -w)) and -o key ($(($(echo "$INSTALL_KEYS" | wc -w) + 1)))"
    else
        mt_fail "man page does not name: ${missing[*]}"
    fi
}

install_uninstall() {
    [ -n "${INSTALL_STAGE:-}" ] || return 0
    install_run "uninstall with DESTDIR=stage PREFIX=/usr/local" --uninstall DESTDIR="$INSTALL_STAGE" PREFIX=/usr/local || true
    [ -n "${INSTALL_PREFIX:-}" ] && { install_run "uninstall with PREFIX=scratch/prefix" --uninstall PREFIX="$INSTALL_PREFIX" || true; }
    # Left: no file, and of the directories only PREFIX's bin, share and
    # share/man (which an install finds there).
    local left
    left=$(find "$INSTALL_STAGE/usr/local" ${INSTALL_PREFIX:+"$INSTALL_PREFIX"} -mindepth 1 2>/dev/null |
        grep -Ev '/(bin|share|share/man)$' || true)
    if [ -z "$left" ]; then
        mt_pass "--uninstall removed every installed file and the directories it made"
    else
        mt_fail "--uninstall left: $(echo "$left" | head -n 5 | tr '\n' ' ')"
    fi
}
