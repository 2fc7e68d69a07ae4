#!/usr/bin/env python3
"""A paced UDP stream with sequence numbers, for the fault and soak runs.

--send ADDR:PORT --pps N --seconds S [--size B]
    send S*N datagrams (8-byte sequence number + padding) at N per second,
    then print one JSON line: {"sent": n}
--recv ADDR:PORT --seconds S
    receive until S seconds pass with nothing after the first datagram or
    S seconds in all (whichever first after the sender stops), then print
    one JSON line: {"received": n, "unique": n, "duplicates": n,
    "max_seq": n, "gaps": [[t_last_before, t_first_after, seconds], ...]}
    where gaps are silences longer than --gap seconds (wall-clock times,
    time.time(), so a script can line them up with its own events).
"""
import argparse
import json
import socket
import struct
import time


def addr(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def send(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pad = b"\0" * max(0, a.size - 8)
    total = int(a.pps * a.seconds)
    start = time.monotonic()
    for seq in range(total):
        due = start + seq / a.pps
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        s.sendto(struct.pack("!Q", seq) + pad, addr(a.send))
    print(json.dumps({"sent": total}), flush=True)


def recv(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(addr(a.recv))
    seen = set()
    received = dups = 0
    max_seq = -1
    gaps = []
    last = None
    deadline = time.monotonic() + a.seconds
    s.settimeout(0.2)
    idle_after = a.idle
    while time.monotonic() < deadline:
        try:
            data, _ = s.recvfrom(65536)
        except socket.timeout:
            if last is not None and time.time() - last > idle_after:
                break
            continue
        now = time.time()
        if len(data) < 8:
            continue
        (seq,) = struct.unpack("!Q", data[:8])
        received += 1
        if seq in seen:
            dups += 1
        seen.add(seq)
        max_seq = max(max_seq, seq)
        if last is not None and now - last > a.gap:
            gaps.append([last, now, round(now - last, 3)])
        last = now
    print(json.dumps({"received": received, "unique": len(seen), "duplicates": dups,
                      "max_seq": max_seq, "gaps": gaps}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--send")
    ap.add_argument("--recv")
    ap.add_argument("--pps", type=float, default=500)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--gap", type=float, default=0.25, help="report silences longer than this")
    ap.add_argument("--idle", type=float, default=5.0,
                    help="stop after this long without a datagram (once one came)")
    a = ap.parse_args()
    if a.send:
        send(a)
    elif a.recv:
        recv(a)
    else:
        ap.error("--send or --recv")


if __name__ == "__main__":
    main()
