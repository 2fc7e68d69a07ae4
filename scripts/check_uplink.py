#!/usr/bin/env python3
"""Checks captures of the uplink (one file per end, or one): every frame is PSP (UDP destination
1000, a valid-looking PSP header) over the expected IP version, and no
frame carries the demo's plaintext marker. Prints a summary; exits non-zero
on a violation.

    check_uplink.py CAPTURE...              # tunnel mode, outer IPv6
    check_uplink.py --ip 4 CAPTURE          # outer IPv4
    check_uplink.py --transport CAPTURE     # transport mode: the VMs' own IP
                                            # header (IPv4 or IPv6), then UDP 1000
"""
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


def ip_layer(f):
    """(version, addresses, protocol, offset of L4) or None."""
    if f[12:14] == b"\x86\xdd" and len(f) >= 14 + 40:
        src, dst = f[14 + 8 : 14 + 24], f[14 + 24 : 14 + 40]
        import ipaddress
        return 6, (str(ipaddress.IPv6Address(src)), str(ipaddress.IPv6Address(dst))), f[14 + 6], 14 + 40
    if f[12:14] == b"\x08\x00" and len(f) >= 14 + 20 and f[14] >> 4 == 4:
        ihl = (f[14] & 0xF) * 4
        src, dst = f[14 + 12 : 14 + 16], f[14 + 16 : 14 + 20]
        return 4, (".".join(map(str, src)), ".".join(map(str, dst))), f[14 + 9], 14 + ihl
    return None


def main():
    args = sys.argv[1:]
    transport = "--transport" in args
    want = {4} if "4" in args and "--ip" in args else {6}
    if transport:
        want = {4, 6}
    paths = [a for a in args if not a.startswith("--") and a not in ("4", "6")]
    total = psp = 0
    bad = []
    spis = set()
    offsets = set()
    pairs = set()
    versions = set()
    for f in (f for p in paths for f in frames(p)):
        total += 1
        ip = ip_layer(f)
        ok = False
        if ip is not None:
            ver, addrs, proto, l4 = ip
            ok = (
                ver in want
                and proto == 17
                and len(f) >= l4 + 8 + 16 + 16
                and struct.unpack(">H", f[l4 + 2 : l4 + 4])[0] == 1000
                and f[l4 + 8 + 3] & 1 == 1
            )
        if ok:
            psp += 1
            versions.add(ver)
            pairs.add(f"{addrs[0]}>{addrs[1]}")
            spis.add(struct.unpack(">I", f[l4 + 8 + 4 : l4 + 8 + 8])[0])
            offsets.add(f[l4 + 8 + 2] & 0x3F)
        else:
            bad.append(f[:64].hex())
        if MARKER in f:
            sys.exit("FAIL: plaintext marker visible on the uplink")
    ipv = "/".join(f"IPv{v}" for v in sorted(versions)) or "IP"
    print(f"   uplink: {total} frames, {psp} PSP ({ipv}/UDP 1000), SPIs {sorted(hex(s) for s in spis)}; plaintext marker: not found")
    print(f"   uplink addresses: {' '.join(sorted(pairs))}")
    print(f"   uplink crypt offsets: {sorted(offsets)}")
    if bad or total == 0:
        sys.exit(f"FAIL: {len(bad)} non-PSP frames on the uplink, e.g. {bad[:2]}")


if __name__ == "__main__":
    main()
