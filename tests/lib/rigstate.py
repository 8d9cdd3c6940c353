"""rigstate — what a batch of the nested rig finished, kept across the rig's L1 boots.

When L1 fails in the middle of a batch (scripts/nested: a stall, a panic, silence), or a batch
asks for it (exit status FRESH_L1: a scenario failed twice in one L1), the rig boots a fresh L1
and runs the batch again. The batch then skips the scenarios an earlier L1 finished
and takes their results from here, so an L1 failure costs one L1 boot and the scenario it
interrupted, not the whole batch. The rig names the directory in KILN_NESTED_STATE (inside its
work directory, shared read-write with L1); without it (a batch run by hand) nothing is kept.
"""
import json
import os

# The batch's exit status that asks the rig for a fresh L1 (a scenario failed twice in this one:
# an L1 in a bad state fails the same scenario again and again). EX_TEMPFAIL.
FRESH_L1 = 75


class Done:
    """Results of the scenarios of one batch that some L1 ran to their end, by name."""

    def __init__(self, batch):
        d = os.environ.get("KILN_NESTED_STATE")
        self.path = os.path.join(d, batch + ".json") if d else None
        self.results = {}
        if self.path and os.path.exists(self.path):
            with open(self.path) as f:
                self.results = json.load(f)
        self.fresh = self.results.pop("_fresh_l1", [])  # scenarios given a fresh L1 already

    def can_ask_fresh_l1(self, scenario):
        """True if the rig runs this batch and `scenario` has not had a fresh L1 yet."""
        return self.path is not None and scenario not in self.fresh

    def ask_fresh_l1(self, scenario):
        """Record that `scenario` gets a fresh L1; the caller then exits with FRESH_L1."""
        self.fresh.append(scenario)
        self._write()

    def get(self, scenario):
        """The stored result of `scenario`, or None if no L1 finished it."""
        return self.results.get(scenario)

    def put(self, scenario, result):
        """Store `scenario`'s result (JSON-serialisable): written whole, then renamed, so an L1
        that dies meanwhile leaves the previous file."""
        self.results[scenario] = result
        self._write()

    def _write(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(dict(self.results, _fresh_l1=self.fresh), f)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, self.path)
