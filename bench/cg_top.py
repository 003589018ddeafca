#!/usr/bin/env python3
"""Top functions by self Ir per request: callgrind_annotate of a run minus a
baseline run (start-up/shutdown), divided by the run's request count.

usage: cg_top.py RUN.out BASELINE.out REQUESTS [TOP]
Prints a markdown table.
"""
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([\d,]+)\s+\([^)]*\)\s+(.+?)\s*$")


def self_ir(path):
    out = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", path],
                         capture_output=True, text=True, check=True).stdout
    funcs = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        name = m.group(2)
        # "file:function [object]" -> "function [object basename]"
        obj = ""
        om = re.search(r"\s\[([^\]]+)\]$", name)
        if om:
            obj = om.group(1).rsplit("/", 1)[-1]
            name = name[: om.start()]
        if ":" in name:
            f, fn = name.split(":", 1)
            if f.startswith("???") or f.startswith("./") or f.startswith("/"):
                name = fn
        key = f"{name} [{obj}]" if obj else name
        funcs[key] = funcs.get(key, 0) + int(m.group(1).replace(",", ""))
    return funcs


def main():
    run, base, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 15
    a, b = self_ir(run), self_ir(base)
    diff = {k: v - b.get(k, 0) for k, v in a.items()}
    total = sum(v for v in diff.values())
    rows = sorted(diff.items(), key=lambda kv: -kv[1])[:top]
    print("| # | function (self Ir; object) | Ir / request | share |")
    print("|---:|---|---:|---:|")
    for i, (k, v) in enumerate(rows, 1):
        k = k.replace("|", "\\|")
        if len(k) > 150:
            k = k[:147] + "..."
        print(f"| {i} | `{k}` | {v / n:,.0f} | {100 * v / total:.1f}% |")
    print(f"|  | total (all functions) | {total / n:,.0f} | 100% |")


if __name__ == "__main__":
    main()
