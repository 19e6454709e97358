#!/usr/bin/env python3
"""slabfs's statistics (user.slabfs.stats on the mount root), read for the
bench (driver.py and its parts) and, from the command line, for the mount
tests (lib.sh's slabfs_stat, slabfs_stats and slabfs_stats_json). Standard
library only.

The cache's figures sit under "cache" in the daemon's JSON
(MountStatistics); an older daemon had them at the top. The bench's readers
(dig and the ones built on it) are tolerant of the layout, which is still
moving: each tries its paths in turn and gives a default when none is there.
The command line is strict, as a test wants:

  stats.py get MNT KEY...   one field per KEY, space-separated, from one read
                            (one snapshot, so counters compared with each
                            other agree); KEY is a dotted path
                            (counters.pagesReclaimed, caches.0.name), looked
                            up at the top and, if not found there, under
                            "cache": both cache.counters.moves and
                            counters.moves work; a dict or list is printed as
                            JSON; a KEY in neither place is an error (a
                            traceback, status 1)
  stats.py json MNT         the whole statistics JSON, as the daemon wrote it
"""

import json
import os
import sys

# ---------------------------------------------------------------------------
# The bench's readers (tolerant of the JSON's layout)


def slabfs_stats(mnt):
    raw = os.getxattr(mnt, "user.slabfs.stats")
    return json.loads(raw.decode())


def dig(d, *paths, default=None):
    for p in paths:
        cur = d
        ok = True
        for k in p.split("."):
            if isinstance(cur, dict) and k in cur:
                cur = cur[k]
            else:
                ok = False
                break
        if ok and cur is not None:
            return cur
    return default


def counters(st):
    return dig(st, "cache.counters", "counters", default={})


def counter(st, name):
    return dig(counters(st), name, default=0) or 0


def counter_deltas(st0, st1):
    c0, c1 = counters(st0), counters(st1)
    return {k: c1[k] - c0.get(k, 0) for k in c1 if isinstance(c1[k], (int, float)) and c1[k] != c0.get(k, 0)}


def resident_pages(st):
    v = dig(st, "cache.residentPages", "residentPages")
    if v is not None:
        return v
    caches = dig(st, "cache.caches", "caches", default=[])
    return sum(c.get("totalSlabs", 0) * c.get("pagesPerSlab", 1) for c in caches)


def utilization(st):
    return dig(st, "cache.utilization", "utilization")


def page_size(st):
    v = dig(st, "configuration.page_size", "configuration.pageSizeBytes", "cache.pageSizeBytes", "pageSizeBytes")
    return int(v) if v else 4096


def evicted(st):
    return counter(st, "evictedInodes") + counter(st, "evictedDentries")


def active_objects(st):
    caches = dig(st, "cache.caches", "caches", default=[])
    return sum(c.get("activeObjects", 0) for c in caches)


def request_deltas(st0, st1):
    """FUSE requests the daemon received between two stats reads, by type
    (the `requests` object: total, lookup, getattr, ...), and under "pass"
    the total less GETXATTR/LISTXATTR (the stats reads themselves); None if
    this slabfs does not count requests."""
    r0, r1 = (dig(st, "requests", "cache.requests") for st in (st0, st1))
    if not isinstance(r0, dict) or not isinstance(r1, dict):
        return None
    d = {k.lower(): v - r0.get(k, 0) for k, v in r1.items() if isinstance(v, (int, float))}
    total = d.get("total", sum(v for k, v in d.items() if k != "total"))
    d["pass"] = total - d.get("getxattr", 0) - d.get("listxattr", 0)
    return d


# ---------------------------------------------------------------------------
# The command line (lib.sh)


def _lookup(value, path):
    for part in path:
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def value_at(st, key):
    """One field of the statistics by a dotted path, strictly (a list takes
    an index): at the top, else under "cache"; raises KeyError, IndexError
    or ValueError if it is in neither."""
    path = key.split(".")
    try:
        return _lookup(st, path)
    except (KeyError, IndexError, ValueError):
        return _lookup(st["cache"], path)


def text(value):
    """A field as lib.sh prints it: a dict or list as JSON, anything else by str()."""
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def main(argv):
    if len(argv) >= 2 and argv[0] == "get":
        st = slabfs_stats(argv[1])
        print(" ".join(text(value_at(st, key)) for key in argv[2:]))
        return 0
    if len(argv) == 2 and argv[0] == "json":
        sys.stdout.write(os.getxattr(argv[1], "user.slabfs.stats").decode())
        return 0
    print(f"usage: {sys.argv[0]} get MNT KEY... | json MNT", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
