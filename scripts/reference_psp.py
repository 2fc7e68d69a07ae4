#!/usr/bin/env python3
"""An independent model of the PSP reference tool's encryptor (google/psp
`psp_encrypt`), used to (re)generate the encrypted captures of
tests/reference/ from the reference's own cleartext dumps and cfg files.

Written for this project from the rules of the reference (see
tests/reference/README.md), in another language and on another crypto
library (python3-cryptography) than the Rust code it checks, so a bug in
one does not hide in the other.

    python3 scripts/reference_psp.py            # rewrite tests/reference/pcap/*.pcap
    python3 scripts/reference_psp.py --check    # exit 1 if a file would change

Rules modelled (what `psptool encrypt --compat reference` must match):
- key: AES-256-CMAC of counter|"Pv"|'0'/'1'|0|SPI|0|L per 128 bits, master
  key by SPI bit 31; IV counts from 1; nonce SPI|IV.
- PSP header: next header, HdrExtLen 1 (2 with a VC), crypt offset,
  version<<2 | V<<1 | 1, SPI, IV; the VC is 8 zero bytes after the IV.
- AAD: the 16-byte base header plus crypt_offset*4 bytes after it (the VC
  counts in those bytes, so offsets 0 and 1 encrypt all or half of it).
- transport: Ethernet and IP header kept (IPv4 length, protocol 17,
  checksum; IPv6 payload length, next header 17); IPv6 payloads that are
  not TCP or UDP are skipped. Tunnel: the outer IP header is a copy of the
  inner one (IPv4: IHL 5, length, protocol 17, checksum; IPv6: payload
  length, next header 17), the crypt offset is the IPv4 or IPv6 tunnel one.
- UDP: source port = inner source port XOR inner destination port (TCP or
  UDP inside, else 1000), destination 1000, checksum 0.
- pcap: libpcap's microsecond little-endian header, snaplen 9014, link type
  1; each record keeps the input's timestamp.
"""

import os
import struct
import sys

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference")
SNAPLEN = 9014


def read_dump(path):
    """Bytes of the one packet of a `tcpdump -qnts 0 -xx` text dump."""
    data = bytearray()
    for line in open(path):
        if line.startswith("\t0x"):
            hexpart = line.split(":", 1)[1]
            data += bytes.fromhex(hexpart.replace(" ", "").strip())
    return bytes(data)


def read_cfg(path):
    toks = open(path).read().split()
    k0 = bytes(int(t, 16) for t in toks[0:32])
    k1 = bytes(int(t, 16) for t in toks[32:64])
    rest = toks[64:]
    return dict(k0=k0, k1=k1, spi=int(rest[0], 16), mode=rest[1], alg=rest[2],
                co_transport=int(rest[3]), co_v4=int(rest[4]), co_v6=int(rest[5]),
                vc=rest[6] == "vc")


def derive(cfg):
    master = cfg["k1"] if cfg["spi"] & 0x80000000 else cfg["k0"]
    v256 = cfg["alg"] == "aes-gcm-256"
    key = b""
    for counter in (1, 2) if v256 else (1,):
        block = struct.pack("!I", counter) + b"Pv" + (b"1" if v256 else b"0") + b"\0"
        block += struct.pack("!I", cfg["spi"]) + b"\0\0" + struct.pack("!H", 256 if v256 else 128)
        c = cmac.CMAC(algorithms.AES(master))
        c.update(block)
        key += c.finalize()
    return key


def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ports_hash(proto, l4):
    if proto in (6, 17):
        sp, dp = struct.unpack("!HH", l4[:4])
        return sp ^ dp
    return 1000


def encrypt(cfg, frame, iv):
    """One frame; None when the reference skips it."""
    eth, l3 = frame[:14], frame[14:]
    v6 = eth[12:14] == b"\x86\xdd"
    if v6:
        ihl, proto = 40, l3[6]
        if proto not in (6, 17):
            return None
    else:
        ihl, proto = (l3[0] & 0xF) * 4, l3[9]
    vc = 8 if cfg["vc"] else 0
    v256 = cfg["alg"] == "aes-gcm-256"
    tunnel = cfg["mode"] == "tunnel"
    if tunnel:
        co = cfg["co_v6"] if v6 else cfg["co_v4"]
        payload = l3
        next_hdr = 41 if v6 else 4
    else:
        co = cfg["co_transport"]
        payload = l3[ihl:]
        next_hdr = proto
    if co * 4 > len(payload):
        return None
    udp_len = 8 + 16 + vc + len(payload) + 16
    if tunnel:
        if v6:
            outer = bytearray(l3[:40])
            outer[4:6] = struct.pack("!H", udp_len)
            outer[6] = 17
        else:
            outer = bytearray(l3[:20])
            outer[0] = 0x45
            outer[2:4] = struct.pack("!H", 20 + udp_len)
            outer[9] = 17
            outer[10:12] = b"\0\0"
            outer[10:12] = struct.pack("!H", csum(bytes(outer)))
    else:
        outer = bytearray(l3[:ihl])
        if v6:
            outer[4:6] = struct.pack("!H", udp_len)
            outer[6] = 17
        else:
            outer[2:4] = struct.pack("!H", ihl + udp_len)
            outer[9] = 17
            outer[10:12] = b"\0\0"
            outer[10:12] = struct.pack("!H", csum(bytes(outer)))
    udp = struct.pack("!HHHH", ports_hash(proto, l3[ihl:]), 1000, udp_len, 0)
    flags = ((1 if v256 else 0) << 2) | ((1 if vc else 0) << 1) | 1
    hdr = struct.pack("!BBBBIQ", next_hdr, 2 if vc else 1, co, flags, cfg["spi"], iv)
    clear = hdr + b"\0" * vc + payload
    aad_len = 16 + co * 4
    nonce = struct.pack("!IQ", cfg["spi"], iv)
    sealed = AESGCM(derive(cfg)).encrypt(nonce, clear[aad_len:], clear[:aad_len])
    return eth + bytes(outer) + udp + clear[:aad_len] + sealed


def pcap_bytes(frames):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, 1)
    for f in frames:
        out += struct.pack("<IIII", 0, 0, len(f), len(f)) + f
    return out


def main():
    check = "--check" in sys.argv[1:]
    changed = []
    cases = [l.split() for l in open(os.path.join(HERE, "cases.txt"))
             if l.strip() and not l.startswith("#")]
    outputs = {}
    for name, cfgname, clear in cases:
        cfg = read_cfg(os.path.join(HERE, "cfg", cfgname + ".cfg"))
        frame = read_dump(os.path.join(HERE, "pcap", clear + "_pcap.txt"))
        outputs[clear] = pcap_bytes([frame])
        enc = encrypt(cfg, frame, 1)
        assert enc is not None, name
        outputs[name] = pcap_bytes([enc])
    for name, data in sorted(outputs.items()):
        path = os.path.join(HERE, "pcap", name + ".pcap")
        old = open(path, "rb").read() if os.path.exists(path) else None
        if old != data:
            changed.append(name)
            if not check:
                open(path, "wb").write(data)
    print("%d captures, %d %s" % (len(outputs), len(changed),
                                  "would change" if check else "written"))
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
