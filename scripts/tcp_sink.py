#!/usr/bin/env python3
"""A small TCP generator and sink for the two-gateway demo.

--listen ADDR:PORT  accept one connection, read to EOF, print "<sha256> <bytes> bytes"
--send ADDR:PORT --bytes N  send N pseudo-random bytes (with a plaintext
    marker every 4 KiB, so a capture can be searched for leaks), print the same
"""
import argparse
import hashlib
import random
import socket
import sys

MARKER = b"PSP-DEMO-PLAINTEXT"


def addr(s):
    """ADDR:PORT, IPv6 in brackets: [fd00:10::2]:5201."""
    host, port = s.rsplit(":", 1)
    return host.strip("[]"), int(port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen")
    ap.add_argument("--send")
    ap.add_argument("--bytes", type=int, default=10_000_000)
    a = ap.parse_args()
    h = hashlib.sha256()
    total = 0
    if a.listen:
        host, port = addr(a.listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        srv = socket.create_server((host, port), family=family)
        srv.settimeout(30)
        conn, _ = srv.accept()
        conn.settimeout(30)
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            h.update(chunk)
            total += len(chunk)
    elif a.send:
        rnd = random.Random(7)
        sock = socket.create_connection(addr(a.send), timeout=30)
        while total < a.bytes:
            block = MARKER + rnd.randbytes(4096 - len(MARKER))
            block = block[: a.bytes - total]
            sock.sendall(block)
            h.update(block)
            total += len(block)
        sock.shutdown(socket.SHUT_WR)
        sock.recv(1)
        sock.close()
    else:
        sys.exit("give --listen or --send")
    print(f"{h.hexdigest()} {total} bytes")


if __name__ == "__main__":
    main()
