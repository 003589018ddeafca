#!/usr/bin/env python3
"""Small HTTP/1.1 client for the Ferro benchmark (stdlib only).

Modes:
  stream  -- send streaming chat requests and measure, per request,
             ttfb  = request sent -> first SSE `data:` bytes received
             total = request sent -> end of the chunked body (after `[DONE]`)
             Prints one line: BENCH {json summary}.
  seq     -- send N requests one after another on one keep-alive connection and
             check every one answers 2xx (used by callgrind.sh; prints BENCH line too).

Each worker thread keeps one keep-alive connection (like wrk); a request that
fails, answers non-2xx, or whose stream lacks `data: [DONE]` or has fewer
content chunks than --expect-chunks counts as an error.
"""
import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse


def pct(sorted_vals, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_vals:
        return 0.0
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


class Worker(threading.Thread):
    def __init__(self, url, body, key, n, stream, expect_chunks, deadline):
        super().__init__(daemon=True)
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = u.hostname, u.port or 80, u.path
        self.body, self.key, self.n, self.stream = body, key, n, stream
        self.expect_chunks, self.deadline = expect_chunks, deadline
        self.ttfb, self.total, self.errors, self.first_error = [], [], 0, ""
        self.conn = None

    def _conn(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        return self.conn

    def _fail(self, msg):
        self.errors += 1
        if not self.first_error:
            self.first_error = msg[:200]
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def one(self):
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = "Bearer " + self.key
        try:
            c = self._conn()
            t0 = time.perf_counter()
            c.request("POST", self.path, body=self.body, headers=headers)
            r = c.getresponse()
            if not 200 <= r.status < 300:
                b = r.read()
                self._fail(f"{r.status} {b[:150]!r}")
                return
            first = None
            buf = bytearray()
            while True:
                chunk = r.read1(65536)
                if not chunk:
                    break
                if first is None and b"data:" in chunk:
                    first = time.perf_counter()
                buf += chunk
            buf += r.read()  # finishes a Content-Length body so the connection is reusable
            t_end = time.perf_counter()
        except Exception as e:  # noqa: BLE001 - any failure is an error sample
            self._fail(f"{type(e).__name__}: {e}")
            return
        if self.stream:
            events = buf.count(b"data:")
            if b"data: [DONE]" not in buf:
                self._fail("stream without data: [DONE]")
                return
            # events include the role chunk, the finish chunk and [DONE]
            if events - 1 < self.expect_chunks:
                self._fail(f"only {events} SSE events, expected >= {self.expect_chunks + 1}")
                return
            self.ttfb.append((first - t0) * 1e6)
        else:
            self.ttfb.append((t_end - t0) * 1e6)
        self.total.append((t_end - t0) * 1e6)

    def run(self):
        done = 0
        while done < self.n and time.perf_counter() < self.deadline:
            self.one()
            done += 1
        if self.conn is not None:
            self.conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["stream", "seq"])
    ap.add_argument("--url", required=True)
    ap.add_argument("--body-file", required=True)
    ap.add_argument("--key", default="")
    ap.add_argument("-n", "--requests", type=int, default=100, help="requests per worker")
    ap.add_argument("-c", "--concurrency", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--expect-chunks", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=0, help="unmeasured requests first (per worker)")
    a = ap.parse_args()
    with open(a.body_file, "rb") as f:
        body = f.read()
    stream = a.mode == "stream"

    if a.warmup:
        ws = [Worker(a.url, body, a.key, a.warmup, stream, a.expect_chunks,
                     time.perf_counter() + a.max_seconds) for _ in range(a.concurrency)]
        for w in ws:
            w.start()
        for w in ws:
            w.join()

    t_start = time.perf_counter()
    ws = [Worker(a.url, body, a.key, a.requests, stream, a.expect_chunks,
                 t_start + a.max_seconds) for _ in range(a.concurrency)]
    for w in ws:
        w.start()
    for w in ws:
        w.join()
    wall = time.perf_counter() - t_start
    ttfb = sorted(x for w in ws for x in w.ttfb)
    total = sorted(x for w in ws for x in w.total)
    errors = sum(w.errors for w in ws)
    first_error = next((w.first_error for w in ws if w.first_error), "")
    out = {
        "ok": len(total),
        "errors": errors,
        "requests": len(total) + errors,
        "duration_us": wall * 1e6,
        "ttfb_p50_us": pct(ttfb, 50), "ttfb_p99_us": pct(ttfb, 99),
        "total_p50_us": pct(total, 50), "total_p99_us": pct(total, 99),
        "first_error": first_error,
    }
    print("BENCH " + json.dumps(out))
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
