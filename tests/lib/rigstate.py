"""rigstate — what a batch of the nested rig finished, kept across the rig's L1 boots.

When L1 fails in the middle of a batch (scripts/nested: a stall, a panic, silence), the rig boots
a fresh L1 and runs the batch again. The batch then skips the scenarios an earlier L1 finished
and takes their results from here, so an L1 failure costs one L1 boot and the scenario it
interrupted, not the whole batch. The rig names the directory in KILN_NESTED_STATE (inside its
work directory, shared read-write with L1); without it (a batch run by hand) nothing is kept.
"""
import json
import os


class Done:
    """Results of the scenarios of one batch that some L1 ran to their end, by name."""

    def __init__(self, batch):
        d = os.environ.get("KILN_NESTED_STATE")
        self.path = os.path.join(d, batch + ".json") if d else None
        self.results = {}
        if self.path and os.path.exists(self.path):
            with open(self.path) as f:
                self.results = json.load(f)

    def get(self, scenario):
        """The stored result of `scenario`, or None if no L1 finished it."""
        return self.results.get(scenario)

    def put(self, scenario, result):
        """Store `scenario`'s result (JSON-serialisable): written whole, then renamed, so an L1
        that dies meanwhile leaves the previous file."""
        self.results[scenario] = result
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.results, f)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, self.path)
