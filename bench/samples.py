"""bench/samples.py — shared by the nested-rig throughput benchmarks (bench/net-tcp.py,
bench/vsock.py): their samples written as bench/run's report takes them (json_of, add_figures)."""
import json


def write(path, figures, got):
    """figures: (index in a run's result tuple, label, key, unit); got: {vmm: [run results]}.
    Writes [{key, label, unit, samples: {vmm: [values]}}] to path."""
    with open(path, "w") as f:
        json.dump([{"key": key, "label": label, "unit": unit,
                    "samples": {v: [r[i] for r in runs] for v, runs in got.items()}}
                   for i, label, key, unit in figures], f)
