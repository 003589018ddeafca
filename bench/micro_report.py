#!/usr/bin/env python3
"""Markdown table of criterion results, for bench/micro.sh (stdlib only).

    micro_report.py CRITERION_DIR SINCE_EPOCH LOG OUT.md [--bench crate:name ...]

Reads every `<CRITERION_DIR>/**/new/benchmark.json` + `estimates.json` written
at or after SINCE_EPOCH (so results of benchmarks that this run did not execute
are left out), in the order they were written. The median is criterion's
bootstrap estimate of the median time per iteration (`median.point_estimate`,
ns) with its 95 % confidence interval. Throughput is bytes per iteration /
median, in MiB/s (criterion's unit). LOG (the cargo bench output) maps each
benchmark to the bench target that ran it (`Running benches/<name>.rs`);
rows follow the order of the `--bench crate:name` list.
"""

import json
import os
import re
import sys


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:#.3g} {unit}" if ns / scale < 100 else f"{ns / scale:.1f} {unit}"
    return f"{ns:#.3g} ns" if ns < 100 else f"{ns:.1f} ns"


def fmt_rate(per_iter, ns, unit):
    per_s = per_iter / (ns / 1e9)
    if unit == "bytes":
        mib = per_s / (1 << 20)
        return f"{mib / 1024:.2f} GiB/s" if mib >= 1024 else f"{mib:.1f} MiB/s"
    if unit == "bits":
        return f"{per_s / 1e6:.1f} Mbit/s"
    return f"{per_s / 1e6:.2f} M elem/s" if per_s >= 1e6 else f"{per_s / 1e3:.1f} K elem/s"


def throughput(tp, ns):
    if not tp:
        return ""
    (kind, n), = tp.items()
    if kind in ("Bytes", "BytesDecimal"):
        return f"{fmt_rate(n, ns, 'bytes')} ({n} B/iter)"
    if kind == "Bits":
        return f"{fmt_rate(n, ns, 'bits')} ({n} bit/iter)"
    if kind == "Elements":
        return f"{fmt_rate(n, ns, 'elements')} ({n}/iter)"
    return ""


def bench_of_ids(log_path):
    """full benchmark id -> bench target name, from the cargo bench log."""
    out, current = {}, None
    running = re.compile(r"Running benches/([A-Za-z0-9_\-]+)\.rs")
    benchmarking = re.compile(r"^Benchmarking (.+?): ")
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                for part in line.split("\r"):
                    m = running.search(part)
                    if m:
                        current = m.group(1)
                        continue
                    m = benchmarking.match(part.strip())
                    if m and current:
                        out.setdefault(m.group(1), current)
    except OSError:
        pass
    return out


def main():
    args = sys.argv[1:]
    if len(args) < 4:
        sys.exit(__doc__)
    root, since, log, out_path = args[0], float(args[1]), args[2], args[3]
    crate_of = {}
    rest = args[4:]
    if rest[:1] == ["--bench"]:
        for spec in rest[1:]:
            crate, _, name = spec.partition(":")
            crate_of[name] = crate
    header = os.environ.get("MICRO_HEADER", "")

    rows = []
    for dirpath, _, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        est_path = os.path.join(dirpath, "estimates.json")
        mtime = os.path.getmtime(est_path)
        if mtime < since:
            continue
        try:
            with open(est_path, encoding="utf-8") as f:
                est = json.load(f)
            with open(os.path.join(dirpath, "benchmark.json"), encoding="utf-8") as f:
                meta = json.load(f)
        except (OSError, ValueError) as e:
            print(f"micro_report: skipping {dirpath}: {e}", file=sys.stderr)
            continue
        med = est["median"]
        rows.append((mtime, meta, med))
    rows.sort(key=lambda r: r[0])
    if not rows:
        sys.exit(f"micro_report: no criterion results under {root} newer than the run start")

    bench_of = bench_of_ids(log)
    # Rows in the order of the --bench list (cargo runs the targets in its own
    # order), each bench's benchmarks in the order they ran.
    order = {name: i for i, name in enumerate(crate_of)}

    def target_of(meta):
        full_id = meta.get("full_id") or meta.get("title") or meta.get("group_id", "?")
        return full_id, bench_of.get(full_id) or bench_of.get(meta.get("title", ""), "")

    rows.sort(key=lambda r: (order.get(target_of(r[1])[1], len(order)), r[0]))
    lines = [header.rstrip("\n"), ""] if header else []
    lines += [
        "| bench | benchmark | median / iter | 95 % CI of the median | throughput |",
        "|---|---|---:|---|---|",
    ]
    for _, meta, med in rows:
        full_id, target = target_of(meta)
        where = f"{crate_of.get(target, '?')}/{target}" if target else "?"
        ns = med["point_estimate"]
        ci = med.get("confidence_interval", {})
        ci_s = f"{fmt_time(ci['lower_bound'])} – {fmt_time(ci['upper_bound'])}" if ci else ""
        lines.append(
            f"| {where} | `{full_id}` | {fmt_time(ns)} | {ci_s} | {throughput(meta.get('throughput'), ns)} |"
        )
    text = "\n".join(lines) + "\n"
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
