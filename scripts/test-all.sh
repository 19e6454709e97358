#!/usr/bin/env bash
# Runs every test slabfs has: the unit tests (XCTest and Swift Testing, with
# the Swift mount tests among them), the same tests under ThreadSanitizer and
# AddressSanitizer, and the mount-test suites (mount-tests/run.sh). README.md gives this as the test command; .ci/run calls it.
# It first installs the Debian packages the tests need (scripts/packages.sh;
# nothing when they are there), so a fresh machine needs no other set-up.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=packages.sh
source scripts/packages.sh

step() { printf '\n==> %s\n' "$*"; }

step "Debian packages the build and the tests need"
slabfs_need_packages "${SLABFS_PACKAGES[@]}" "${SLABFS_TEST_PACKAGES[@]}"

step "unit tests (debug build)"
swift test

# Sanitizer builds get their own scratch paths so they do not rebuild .build.
# The test binary is run directly: `swift test --sanitize` would rebuild it.
for sanitizer in thread address; do
    scratch=".build-${sanitizer:0:1}san"
    step "unit tests under --sanitize=$sanitizer"
    swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch" 2>&1 \
        | grep -v "Cannot export local symbol" || true
    binary=$(find "$scratch" -name '*PackageTests.xctest' -type f | head -n 1)
    [ -n "$binary" ] || { echo "no test binary under $scratch" >&2; exit 1; }
    # halt_on_error: a sanitizer report fails the run instead of scrolling by.
    TSAN_OPTIONS="halt_on_error=1" ASAN_OPTIONS="halt_on_error=1:detect_leaks=0" \
        "$binary" --testing-library swift-testing
done

step "mount tests (the release binary over scratch directories)"
mount-tests/run.sh

# Passthrough is on by default where the kernel allows it: the suites that
# move data, and the POSIX one (setuid writes take another path), run once
# more with the daemon serving every read and write.
step "posix, data, reclaim and stress suites with --passthrough off"
MT_SLABFS_ARGS="--passthrough off" mount-tests/run.sh posix data reclaim stress

step "all tests passed"
