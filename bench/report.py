#!/usr/bin/python3
"""bench/report.py DIR — the readable report of a `make bench` run: reads DIR/results.json (written
by bench/run) and writes DIR/report.md with one SVG chart per part (DIR/<part>.svg: every run's
value for floor, kiln and QEMU side by side, figure by figure) and DIR/targets.svg (each target's
ratio against its limit). Charts are drawn with matplotlib (Debian's python3-matplotlib, installed
by `scripts/install-deps --bench`; this file runs under /usr/bin/python3 for that reason); without
it the report is written without charts and says so.

results.json: {"date", "machine": {...}, "runs", "parts": {PART: {"title", "note", "vmms",
"figures": [{"key", "label", "unit", "samples": {VMM: [values]}}], optionally "ratios": [[VMM, VMM],
...] (the ratio columns; default kiln against each other VMM)}}, "targets": [{"part", "name",
"value", "limit", "op"}]} where op "<=" means the value must not exceed the limit, ">=" not fall
below it.
"""
import json
import os
import statistics
import sys

COLORS = {"floor": "#7f7f7f", "kiln": "#d95f02", "qemu": "#1b9e77", "kiln-mmio": "#d95f02",
          "kiln-pci": "#7570b3"}


def med(xs):
    return statistics.median(xs) if xs else None


def fmt(x):
    if x is None:
        return "—"
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def met(t):
    return t["value"] <= t["limit"] if t["op"] == "<=" else t["value"] >= t["limit"]


def chart_part(plt, part, path):
    """Small multiples: one panel per figure, each VMM's runs as dots over a box."""
    figs = part["figures"]
    cols = min(4, len(figs))
    rows = (len(figs) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.9 * rows), squeeze=False)
    for ax in axes.flat[len(figs):]:
        ax.axis("off")
    for ax, f in zip(axes.flat, figs):
        vmms = [v for v in part["vmms"] if f["samples"].get(v)]
        data = [f["samples"][v] for v in vmms]
        box = ax.boxplot(data, widths=0.5, patch_artist=True, showfliers=False)
        for patch, v in zip(box["boxes"], vmms):
            patch.set_facecolor(COLORS.get(v, "#999999"))
            patch.set_alpha(0.35)
        for i, (v, xs) in enumerate(zip(vmms, data), start=1):
            jitter = [i + (j - (len(xs) - 1) / 2) * (0.3 / max(len(xs), 1)) for j in range(len(xs))]
            ax.scatter(jitter, xs, s=9, color=COLORS.get(v, "#999999"), zorder=3)
        ax.set_xticks(range(1, len(vmms) + 1), vmms)
        ax.set_title(f["label"], fontsize=8.5)
        ax.set_ylabel(f["unit"], fontsize=8)
        ax.tick_params(labelsize=7.5)
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(part["title"], fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="svg")
    plt.close(fig)


def chart_targets(plt, targets, path):
    """Each target's value as a fraction of its limit: under 1 is met for "<=", over 1 for ">="."""
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(targets) + 1.2))
    names = [f"{t['name']} ({t['op']} {t['limit']:g})" for t in targets]
    fracs = [t["value"] / t["limit"] if t["limit"] else 0 for t in targets]
    colors = ["#1b9e77" if met(t) else "#d95f02" for t in targets]
    y = range(len(targets))
    ax.barh(y, fracs, color=colors)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(list(y), names, fontsize=7.5)
    ax.invert_yaxis()
    ax.set_xlabel("value / limit (green: met, orange: missed)", fontsize=8)
    ax.set_xscale("log")
    ticks = [t for t in (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20) if min(fracs) / 2 <= t <= max(fracs) * 2]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    for i, (fr, t) in enumerate(zip(fracs, targets)):
        ax.text(fr, i, f" {t['value']:.3g}", va="center", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, format="svg")
    plt.close(fig)


def table(part):
    vmms = part["vmms"]
    pairs = part.get("ratios") or [("kiln", v) for v in vmms if v != "kiln" and "kiln" in vmms]
    out = ["| figure | unit | " + " | ".join(f"{v} median [min..max]" for v in vmms) +
           "".join(f" | {a}/{b}" for a, b in pairs) + " |",
           "|---|---|" + "---|" * len(vmms) + "---|" * len(pairs)]
    for f in part["figures"]:
        cells = []
        for v in vmms:
            xs = f["samples"].get(v) or []
            cells.append(f"{fmt(med(xs))} [{fmt(min(xs))}..{fmt(max(xs))}]" if xs else "—")
        ratios = []
        for a, b in pairs:
            k, o = med(f["samples"].get(a) or []), med(f["samples"].get(b) or [])
            ratios.append(f"{k / o:.2f}" if k is not None and o else "—")
        out.append(f"| {f['label']} | {f['unit']} | " + " | ".join(cells) +
                   "".join(f" | {r}" for r in ratios) + " |")
    return out


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "report")
    with open(os.path.join(d, "results.json")) as f:
        r = json.load(f)
    try:
        import matplotlib
        matplotlib.use("svg")
        import matplotlib.pyplot as plt
        matplotlib.rcParams["svg.hashsalt"] = "kiln"  # stable ids: a rerun diffs by its data
    except ImportError:
        plt = None
    m = r["machine"]
    md = [f"# kiln benchmark report ({r['date']})", "",
          f"`{r['command']}`: {r['runs']} runs of each figure, the VMMs alternating run by run. "
          "Each chart shows every run (dots) over its quartiles (box); the tables give median "
          "[min..max] and the ratios of the medians. A benchmark, not a test: nothing here is "
          "asserted, and the spread is the machine's noise.", "",
          "## Machine", ""]
    md += [f"- {k}: {v}" for k, v in m.items()] + [""]
    targets = r.get("targets", [])
    if targets:
        md += ["## Targets", ""]
        if plt:
            chart_targets(plt, targets, os.path.join(d, "targets.svg"))
            md += ["![targets](targets.svg)", ""]
        md += ["| part | target | value | limit | |", "|---|---|---|---|---|"]
        md += [f"| {t['part']} | {t['name']} | {t['value']:.3g} | {t['op']} {t['limit']:g} | "
               f"{'met' if met(t) else '**missed**'} |" for t in targets]
        md.append("")
    for key, part in r["parts"].items():
        md += [f"## {part['title']}", ""]
        if part.get("note"):
            md += [part["note"], ""]
        if plt:
            chart_part(plt, part, os.path.join(d, f"{key}.svg"))
            md += [f"![{key}]({key}.svg)", ""]
        md += table(part) + [""]
    if not plt:
        md += ["(No charts: python3-matplotlib is not installed; `scripts/install-deps --bench` "
               "installs it.)", ""]
    with open(os.path.join(d, "report.md"), "w") as f:
        f.write("\n".join(md))
    print(f"bench: report in {os.path.join(d, 'report.md')}"
          + ("" if plt else " (no charts: python3-matplotlib missing)"))


if __name__ == "__main__":
    main()
