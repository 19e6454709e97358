#!/usr/bin/env bash
# Installs slabfs as a filesystem is installed: the binary in PREFIX/bin,
# its man page, and bash, zsh and fish completions. mount(8) runs
# mount.fuse3 without a PATH, whose shell then looks in /usr/local/bin,
# /usr/bin and /bin (and their sbin): with PREFIX /usr/local (the default) or
# /usr, `mount -t fuse.slabfs` and fstab lines find slabfs. The man page
# and the completions are generated from the command-line definitions
# (swift-argument-parser's generate-manual and --generate-completion-script),
# so they cannot drift from what the binary accepts.
#
#   scripts/install.sh               build (release) and install under /usr/local
#   scripts/install.sh --uninstall   remove exactly what it installs
# Environment:
#   PREFIX=/usr/local    where to install (bin/, share/man/, share/...)
#   DESTDIR=DIR          stage under DIR (DIR/PREFIX/...), for packaging
#   SLABFS_BIN=PATH      install this binary instead of building one
#   SLABFS_SCRATCH=DIR   build with --scratch-path DIR
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=${PREFIX:-/usr/local}
destdir=${DESTDIR:-}
case $prefix in
    /*) ;;
    *) echo "install.sh: PREFIX must be an absolute path, not '$prefix'" >&2; exit 2 ;;
esac
root=$destdir$prefix

# What is installed, relative to PREFIX; --uninstall removes these.
bin=bin/slabfs
man=share/man/man1/slabfs.1
bash_completion=share/bash-completion/completions/slabfs
zsh_completion=share/zsh/site-functions/_slabfs
fish_completion=share/fish/vendor_completions.d/slabfs.fish
installed=("$bin" "$man" "$bash_completion" "$zsh_completion" "$fish_completion")
# Directories install -D may have made for them, removed by --uninstall when
# empty, deepest first (never bin or share/man themselves).
made=(share/man/man1 share/bash-completion/completions share/bash-completion share/zsh/site-functions share/zsh
    share/fish/vendor_completions.d share/fish)

case ${1:-} in
    --uninstall)
        for file in "${installed[@]}"; do
            if [ -e "$root/$file" ] || [ -L "$root/$file" ]; then
                rm -f "$root/$file"
                echo "removed $root/$file"
            fi
        done
        for dir in "${made[@]}"; do
            [ -d "$root/$dir" ] && rmdir --ignore-fail-on-non-empty "$root/$dir"
        done
        exit 0
        ;;
    "") ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (--uninstall or nothing)" >&2; exit 2 ;;
esac

scratch=()
[ -n "${SLABFS_SCRATCH:-}" ] && scratch=(--scratch-path "$SLABFS_SCRATCH")
bindir=$(swift build -c release "${scratch[@]}" --show-bin-path 2>/dev/null | tail -n 1)
if [ -z "${SLABFS_BIN:-}" ]; then
    swift build -c release "${scratch[@]}" --product slabfs
    SLABFS_BIN=$bindir/slabfs
fi
[ -x "$SLABFS_BIN" ] || { echo "install.sh: no slabfs binary at '$SLABFS_BIN'" >&2; exit 1; }
# generate-manual is swift-argument-parser's tool behind its GenerateManual
# plugin; built and run directly, it needs no plugin run (which would build
# every product of the package first).
swift build -c release "${scratch[@]}" --product generate-manual >/dev/null
generate_manual=$bindir/generate-manual

work=$(mktemp -d "${TMPDIR:-/tmp}/slabfs-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The page's date: the last commit's, so a page built twice is the same.
date=$(git log -1 --format=%cs 2>/dev/null || date +%Y-%m-%d)
"$generate_manual" "$SLABFS_BIN" --section 1 --date "$date" --output-directory "$work"
[ -s "$work/slabfs.1" ] || { echo "install.sh: generate-manual wrote no slabfs.1" >&2; exit 1; }
# The blank lines between a discussion's paragraphs come through as they
# are, which mdoc warns about ("Empty input line"): make them paragraph
# breaks.
sed -i 's/^$/.Pp/' "$work/slabfs.1"
for shell in bash zsh fish; do
    "$SLABFS_BIN" --generate-completion-script "$shell" >"$work/completion.$shell"
done

install -D -m 0755 "$SLABFS_BIN" "$root/$bin"
install -D -m 0644 "$work/slabfs.1" "$root/$man"
install -D -m 0644 "$work/completion.bash" "$root/$bash_completion"
install -D -m 0644 "$work/completion.zsh" "$root/$zsh_completion"
install -D -m 0644 "$work/completion.fish" "$root/$fish_completion"
for file in "${installed[@]}"; do echo "installed $root/$file"; done
