"""Shared by bench/google/replay.py and bench/graph/replay.py: the curl config a
replay is sent with, and what each replayed request must answer."""
import json
import os


class CurlReplay:
    def __init__(self, logged):
        self.blocks, self.expected = [], []
        self.counts = {"logged": logged, "replayed": 0, "inner_batch_calls": 0, "skipped": []}

    def block(self, lines, status):
        """One request: curl config LINES, the STATUS Tandem was given."""
        self.blocks.append("\n".join(lines + ['output = "/dev/null"',
                                              'write-out = "%{http_code} %{num_connects}\\n"']))
        self.expected.append(str(status))
        self.counts["replayed"] += 1

    def write(self, out_dir, batches):
        """OUT/curl.cfg (for `curl -s -K`), OUT/expected.txt, OUT/summary.json."""
        with open(os.path.join(out_dir, "curl.cfg"), "w") as f:
            f.write("\nnext\n".join(self.blocks) + "\n")
        with open(os.path.join(out_dir, "expected.txt"), "w") as f:
            f.write("\n".join(self.expected) + ("\n" if self.expected else ""))
        self.counts["batches"] = batches
        self.counts["skipped_count"] = len(self.counts["skipped"])
        with open(os.path.join(out_dir, "summary.json"), "w") as f:
            json.dump(self.counts, f)
