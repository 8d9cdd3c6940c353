"""bench/bootfig.py — shared by the boot benchmarks (bench/arm64-boot.py, bench/linux-boot.py): the
figures each boot yields, and how one figure's runs on kiln and on QEMU are printed and compared."""
import statistics

# (key, label, unit, decimals): a boot's figures, keys of the dict each run gives
FIGURES = [("marker", "start -> marker", "ms", 0), ("exit", "start -> exit", "ms", 0),
           ("rss", "VmRSS at marker", "MiB", 1), ("uptime", "guest uptime at marker", "s", 2),
           ("before", "marker - guest uptime", "ms", 0)]


def fmt(xs, digits):
    """median [min..max] of xs."""
    return f"{statistics.median(xs):.{digits}f} [{min(xs):.{digits}f}..{max(xs):.{digits}f}]"


def compare(kv, qv):
    """The kiln/QEMU column of a figure: the ratio of the medians and whether the two VMMs' ranges
    are apart ("noise" when they overlap, "n/a" with a single run of either)."""
    ratio = statistics.median(kv) / statistics.median(qv)
    if min(len(kv), len(qv)) < 2:
        verdict = "n/a"  # one run each says nothing about the spread
    elif max(kv) < min(qv) or max(qv) < min(kv):
        verdict = "apart"
    else:
        verdict = "noise"
    return f"{ratio:11.2f}  {verdict}"
