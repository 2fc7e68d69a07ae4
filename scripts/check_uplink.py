#!/usr/bin/env python3
"""Checks a capture of the uplink: every frame is PSP (outer IPv6, UDP
destination 1000, a valid-looking PSP header), and no frame carries the
demo's plaintext marker. Prints a summary; exits non-zero on a violation."""
import struct
import sys

MARKER = b"PSP-DEMO-PLAINTEXT"


def frames(path):
    d = open(path, "rb").read()
    magic = struct.unpack("<I", d[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    at = 24
    while at + 16 <= len(d):
        n = struct.unpack(endian + "I", d[at + 8 : at + 12])[0]
        yield d[at + 16 : at + 16 + n]
        at += 16 + n


def main():
    total = psp = 0
    bad = []
    spis = set()
    for f in frames(sys.argv[1]):
        total += 1
        ok = (
            len(f) >= 14 + 40 + 8 + 16 + 16
            and f[12:14] == b"\x86\xdd"
            and f[14 + 6] == 17
            and struct.unpack(">H", f[14 + 40 + 2 : 14 + 40 + 4])[0] == 1000
            and f[14 + 48 + 3] & 1 == 1
        )
        if ok:
            psp += 1
            spis.add(struct.unpack(">I", f[14 + 48 + 4 : 14 + 48 + 8])[0])
        else:
            bad.append(f[:64].hex())
        if MARKER in f:
            sys.exit("FAIL: plaintext marker visible on the uplink")
    print(f"   uplink: {total} frames, {psp} PSP (IPv6/UDP 1000), SPIs {sorted(hex(s) for s in spis)}; plaintext marker: not found")
    if bad or total == 0:
        sys.exit(f"FAIL: {len(bad)} non-PSP frames on the uplink, e.g. {bad[:2]}")


if __name__ == "__main__":
    main()
