"""The PASS/FAIL/SKIP/NOTE lines the harness counts (lib.sh's mt_py_checks),
for the Python drivers: one copy of check(), skip() and note() instead of one
per file."""

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


def skip(what, why=""):
    """Prints SKIP for `what` (with `why`): not run here, neither passed nor failed."""
    print("SKIP %s%s" % (what, ": " + why if why else ""))
    sys.stdout.flush()


def note(text):
    print("NOTE " + text)
    sys.stdout.flush()


def relay(text):
    """Passes on the PASS/FAIL lines a child printed (a run as another
    user), counting its FAILs as ours."""
    global _failures
    _failures += text.count("\nFAIL ") + text.startswith("FAIL ")
    sys.stdout.write(text)
    sys.stdout.flush()


def failures():
    return _failures
