#!/usr/bin/env python3
"""Packets a DPDK process has sent on one port, per second, from its
telemetry socket (/var/run/dpdk/PREFIX/dpdk_telemetry.v2, on by default in
DPDK 22.11): samples the port's opackets after WARMUP seconds and again
SECONDS later, and prints one JSON object {"opackets", "seconds", "pps"}.

    telemetry.py --prefix PREFIX --port N --warmup 2 --seconds 5
"""
import argparse
import json
import os
import socket
import sys
import time


def connect(path, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.connect(path)
            s.recv(16384)  # the greeting: version, pid, max_output_len
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                sys.exit(f"telemetry.py: no telemetry socket at {path} after {timeout} s")
            time.sleep(0.1)


def opackets(s, port):
    s.send(f"/ethdev/stats,{port}".encode())
    reply = json.loads(s.recv(1 << 20))
    stats = reply.get("/ethdev/stats")
    if not isinstance(stats, dict) or "opackets" not in stats:
        sys.exit(f"telemetry.py: unexpected reply for port {port}: {reply}")
    return stats["opackets"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()
    path = os.path.join("/var/run/dpdk", a.prefix, "dpdk_telemetry.v2")
    s = connect(path, a.timeout)
    time.sleep(a.warmup)
    n0, t0 = opackets(s, a.port), time.monotonic()
    time.sleep(a.seconds)
    n1, t1 = opackets(s, a.port), time.monotonic()
    print(json.dumps({"opackets": n1 - n0, "seconds": t1 - t0, "pps": (n1 - n0) / (t1 - t0)}))


if __name__ == "__main__":
    main()
