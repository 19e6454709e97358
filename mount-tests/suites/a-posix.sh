# shellcheck shell=bash
# suite: POSIX semantics: error cases, link counts, ctime/mtime rules, permissions as nobody, sticky dirs, renames, hard links, EXDEV
#
# Issue 6, suite a. posix.py runs each scenario first on a plain directory
# (MT_DIR/ref, not through the mount) and then through the mount; a failure
# line says what the plain directory gave. The mount uses
# --entry-timeout 0 --attr-timeout 0: with the kernel's attribute cache on,
# a stat right after an operation may show the kernel's cached times and
# link counts instead of the backing file's (that is the cache working as
# designed, not what this suite checks). -o allow_other lets nobody in.
# One suite again: mount-tests/run.sh posix.

suite_posix() {
    local other=$MT_DIR/other
    mt_note "mounted with --entry-timeout 0 --attr-timeout 0 (no kernel attribute cache) and -o allow_other"
    mt_mount posix --entry-timeout 0 --attr-timeout 0 -o allow_other || return 0
    mkdir -p "$MT_DIR/ref"
    # Another filesystem for EXDEV (a rename or link must not cross mounts).
    if ! mt_mount_tmpfs "$other" 4m; then
        mt_fail "mount a tmpfs for the EXDEV checks"
        mt_unmount
        return 0
    fi
    mt_py_checks python3 "$MT_HOME/posix.py" semantics "$MT_MNT" --ref "$MT_DIR/ref" --other "$other"
    mt_py_checks python3 "$MT_HOME/posix.py" times "$MT_MNT" --ref "$MT_DIR/ref"
    if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
        # nobody must be able to reach the mount: the scratch root is 0700.
        chmod o+x "$MT_ROOT" "$MT_DIR"
        mt_py_checks python3 "$MT_HOME/posix.py" perms "$MT_MNT" "$MT_SRC"
        chmod o-x "$MT_ROOT" "$MT_DIR"
    else
        mt_skip "permissions as nobody: no setpriv or no user nobody"
    fi
    if [ "$(cd "$MT_MNT" && find . -mindepth 1 -printf '%y %m %s %U %P\n' | LC_ALL=C sort)" = \
        "$(cd "$MT_SRC" && find . -mindepth 1 -printf '%y %m %s %U %P\n' | LC_ALL=C sort)" ]; then
        mt_pass "the tree through the mount equals the backing tree (types, modes, sizes, owners)"
    else
        mt_fail "the tree through the mount differs from the backing tree"
    fi
    mt_umount_tmpfs "$other"
    mt_unmount
}
