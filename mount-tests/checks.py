"""The PASS/FAIL/NOTE lines the harness counts (lib.sh's mt_py_checks), for
the Python drivers: one copy of check() and note() instead of one per file."""

import sys

_failures = 0


def check(ok, what, why=""):
    """Prints PASS or FAIL for `what` (with `why` on failure); returns ok."""
    global _failures
    if not ok:
        _failures += 1
    print("%s %s%s" % ("PASS" if ok else "FAIL", what, "" if ok or not why else ": " + why))
    sys.stdout.flush()
    return ok


def note(text):
    print("NOTE " + text)
    sys.stdout.flush()


def failures():
    return _failures
