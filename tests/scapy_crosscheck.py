#!/usr/bin/env python3
"""Independent cross-check of psptool against scapy's PSP layer.

Run by `cargo test --test scapy_crosscheck` (tests/scapy_crosscheck.rs), or
by hand:

    python3 tests/scapy_crosscheck.py --psptool target/debug/psptool \
        --workdir /tmp/psp-scapy

Nothing here reuses psptool's own code or its `derive` command: the PSP key
derivation is re-implemented below from the PSP Architecture Specification
(AES-CMAC from the `cryptography` package), and all AES-GCM work is done by
scapy.contrib.psp.PSP.encrypt/decrypt. psptool only produces the clear
sample capture (`gen`) and is the implementation under test (`encrypt`,
`decrypt`).

Checks, for PSP versions 0 (AES-GCM-128) and 1 (AES-GCM-256) -- versions 2
and 3 (AES-GMAC) are not implemented by scapy and are skipped -- tunnel mode
with outer IPv6 and outer IPv4, transport mode, crypt offsets {0, 1, 5}
without a virtualization cookie and {2, 6} with one, SPIs with bit 31 clear
(master key 0) and set (master key 1), over IPv4 and IPv6 inner packets:

  (1) psptool encrypt -> scapy decrypts every PSP packet with the
      Python-derived key; the plaintext must equal the original inner packet
      (tunnel) or L4 segment (transport), and the Ethernet/IP/UDP/PSP header
      fields must be as the spec and the command line say.
  (2) scapy encrypts -> psptool decrypt must exit 0 and give back the
      original IP packets (also one capture mixing every configuration, so
      that keys are derived per packet from the SPI); and (2b) the same with
      scapy's default Hdr Ext Len of 1 under a cookie, crypt offsets {0, 1,
      3} (the compact layout psptool accepts on receive).
  (3) scapy-made packets with one byte flipped (ciphertext, ICV, clear but
      authenticated bytes, VC, IV, SPI) -> psptool decrypt must exit
      non-zero and count icv_fail in its summary line, while an untouched
      packet in the same capture still decrypts.

The last line printed is `scapy cross-check: N passed, M failed`; the exit
status is 0 only when M is 0 (2 when scapy/cryptography are missing).
"""

import argparse
import os
import struct
import subprocess
import sys
import traceback

MISSING_DEPS_EXIT = 2
PIP_HINT = "pip install scapy cryptography"


def import_deps():
    """Imports scapy (>= 2.6, with contrib.psp) and cryptography, or exits."""
    try:
        import scapy  # noqa: F401
        from scapy.contrib.psp import PSP, PSPIntegrityError
        from scapy.layers.inet import IP, UDP
        from scapy.layers.inet6 import IPv6
        from scapy.layers.l2 import Ether
        from scapy.packet import Raw
        from cryptography.hazmat.primitives.ciphers import algorithms
        from cryptography.hazmat.primitives.cmac import CMAC
    except ImportError as e:
        sys.stderr.write(
            "scapy cross-check: missing Python dependency (%s); run `%s` "
            "(scapy >= 2.6 for scapy.contrib.psp)\n" % (e, PIP_HINT))
        sys.exit(MISSING_DEPS_EXIT)
    ver = tuple(int(x) for x in
                (scapy.VERSION.split(".") + ["0", "0"])[:2] if x.isdigit())
    if len(ver) == 2 and ver < (2, 6):
        sys.stderr.write(
            "scapy cross-check: scapy %s is too old (need >= 2.6 for "
            "scapy.contrib.psp); run `pip install -U scapy cryptography`\n"
            % scapy.VERSION)
        sys.exit(MISSING_DEPS_EXIT)
    g = globals()
    g.update(PSP=PSP, PSPIntegrityError=PSPIntegrityError, IP=IP, UDP=UDP,
             IPv6=IPv6, Ether=Ether, Raw=Raw, algorithms=algorithms,
             CMAC=CMAC)
    return scapy.VERSION


# --------------------------------------------------------------------------
# Constants of the test

MASTER_KEY0 = bytes.fromhex(
    "34447231e8f5c3e1b3a2ca1f3e5e9a4e5c01e7d9a8cb9d4b3cf9d1f4e2a0b7c6")
MASTER_KEY1 = bytes.fromhex(
    "56f0a27e9d1b4c3a8e7f6d5c4b3a29180716253443526170ff8e9dacbbcad9e8")

PSP_PORT = 1000
HEADER_LEN = 16
VC_LEN = 8
ICV_LEN = 16
ETH_LEN = 14

SPIS = (0x00001234, 0x9A345678)          # bit 31 clear, bit 31 set
VERSIONS = (0, 1)                       # AES-GCM-128, AES-GCM-256
MODES = ("tunnel-ipv6", "tunnel-ipv4", "transport")
VC = 0x0123456789ABCDEF
# (crypt offset, VC). With a VC, the spec (and psptool, and the spec's
# reference tool psp_encrypt.c) count the crypt offset from the end of the
# IV, so the VC lies inside the clear region and, for crypt offsets 0 and 1,
# (part of) the VC is encrypted. scapy's PSP layer instead always keeps the
# whole header, VC included, in clear: it starts encryption at
# max(header length, 16 + 4 * crypt offset). The two agree only when
# 16 + 4 * crypt offset >= 24, so with a VC only crypt offsets >= 2 are
# checked against scapy.
OFFSETS = ((0, None), (1, None), (5, None), (2, VC), (6, VC))

OUTER_MACS = (bytes.fromhex("02aabbccdd01"), bytes.fromhex("02aabbccdd02"))


# --------------------------------------------------------------------------
# Key derivation, from the PSP Architecture Specification

def derive_key(spi, version):
    """PSP KDF: AES-256-CMAC(master key chosen by SPI bit 31) over
    counter(4 BE) | 'P' 'v' | '0' (128-bit) or '1' (256-bit) | 0x00 |
    SPI(4 BE) | 0x0000 | L(2 BE, key length in bits); one block for a
    128-bit key, counters 1 and 2 for a 256-bit key."""
    master = MASTER_KEY1 if spi & 0x80000000 else MASTER_KEY0
    bits = 256 if version in (1, 3) else 128
    label = b"Pv1" if bits == 256 else b"Pv0"
    out = b""
    for counter in range(1, bits // 128 + 1):
        block = (struct.pack(">I", counter) + label + b"\x00" +
                 struct.pack(">I", spi) + b"\x00\x00" +
                 struct.pack(">H", bits))
        assert len(block) == 16
        c = CMAC(algorithms.AES(master))
        c.update(block)
        out += c.finalize()
    return out


# --------------------------------------------------------------------------
# Classic pcap, read and written here (not through psptool's code)

def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise Fail("%s: not a pcap file (%d bytes)" % (path, len(data)))
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise Fail("%s: bad pcap magic %s" % (path, magic.hex()))
    linktype = struct.unpack(e + "I", data[20:24])[0]
    if linktype != 1:
        raise Fail("%s: link type %d, expected 1 (Ethernet)" % (path, linktype))
    frames, at = [], 24
    while at < len(data):
        if at + 16 > len(data):
            raise Fail("%s: truncated record header" % path)
        _, _, incl, orig = struct.unpack(e + "IIII", data[at:at + 16])
        at += 16
        if at + incl > len(data):
            raise Fail("%s: truncated record" % path)
        if orig != incl:
            raise Fail("%s: record %d: orig_len %d != incl_len %d"
                       % (path, len(frames) + 1, orig, incl))
        frames.append(data[at:at + incl])
        at += incl
    return frames


def write_pcap(path, frames):
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    for i, fr in enumerate(frames):
        out.append(struct.pack("<IIII", 1700000000 + i, 0, len(fr), len(fr)))
        out.append(bytes(fr))
    with open(path, "wb") as f:
        f.write(b"".join(out))


# --------------------------------------------------------------------------
# Helpers

class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def diff(what, expected, got):
    """Raises Fail with the first differing offset if the bytes differ."""
    expected, got = bytes(expected), bytes(got)
    if expected == got:
        return
    at = next((i for i in range(min(len(expected), len(got)))
               if expected[i] != got[i]), min(len(expected), len(got)))
    lo = max(0, at - 8)
    raise Fail("%s differs: expected %d bytes, got %d; first difference at "
               "byte %d: expected ...%s..., got ...%s..."
               % (what, len(expected), len(got), at,
                  expected[lo:at + 16].hex(), got[lo:at + 16].hex()))


def ip_checksum(b):
    if len(b) % 2:
        b += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def frame_ip(frame):
    """(ethertype, IP packet bytes without Ethernet padding) of a clear frame."""
    et = struct.unpack("!H", frame[12:14])[0]
    ip = frame[ETH_LEN:]
    if et == 0x0800:
        return et, ip[:struct.unpack("!H", ip[2:4])[0]]
    if et == 0x86DD:
        return et, ip[:40 + struct.unpack("!H", ip[4:6])[0]]
    raise Fail("input frame is not IP (EtherType %#06x)" % et)


def ip_parts(ip):
    """(is_v6, header bytes, L4 protocol, L4 segment) of a clear IP packet."""
    if ip[0] >> 4 == 4:
        ihl = (ip[0] & 0x0F) * 4
        return False, ip[:ihl], ip[9], ip[ihl:]
    return True, ip[:40], ip[6], ip[40:]


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def summary_line(out):
    lines = [l for l in out.splitlines() if l.strip()]
    return lines[-1] if lines else ""


def psp_header_len(vc):
    return HEADER_LEN + (VC_LEN if vc is not None else 0)


class Config:
    def __init__(self, version, mode, crypt_offset, vc, spi, idx):
        self.version, self.mode = version, mode
        self.crypt_offset, self.vc, self.spi = crypt_offset, vc, spi
        self.idx = idx
        # IV of the first packet: small in some cases, large in others.
        self.iv_start = 1 if idx % 2 == 0 else 0x0123456789AB0000 + idx * 0x100
        # Outer addresses: explicit for outer IPv4 (needed for IPv6 inner
        # packets) and for half the outer IPv6 cases; else from the inner.
        if mode == "tunnel-ipv4":
            self.outer = ("10.1.2.3", "10.4.5.6")
        elif mode == "tunnel-ipv6" and spi & 0x80000000:
            self.outer = ("2001:db8::a", "2001:db8::b")
        else:
            self.outer = None

    def name(self):
        return "v%d %s crypt_offset=%d %s spi=%08x" % (
            self.version, self.mode, self.crypt_offset,
            "vc=%016x" % self.vc if self.vc is not None else "no-vc", self.spi)


def configs():
    idx = 0
    for version in VERSIONS:
        for mode in MODES:
            for co, vc in OFFSETS:
                for spi in SPIS:
                    yield Config(version, mode, co, vc, spi, idx)
                    idx += 1


def mac_str(b):
    return ":".join("%02x" % x for x in b)


def ipv4_bytes(s):
    return bytes(int(x) for x in s.split("."))


def ipv6_bytes(s):
    import socket
    return socket.inet_pton(socket.AF_INET6, s)


def mapped(v4):
    return b"\x00" * 10 + b"\xff\xff" + v4


# --------------------------------------------------------------------------
# (1) psptool encrypt -> scapy decrypt

def check_psp_fields(p, cfg, nexthdr, iv, what):
    hl = psp_header_len(cfg.vc)
    exp = dict(nexthdr=nexthdr, hdrextlen=hl // 8 - 1, reserved=0,
               cryptoffset=cfg.crypt_offset, sample=0, drop=0,
               version=cfg.version, is_virt=1 if cfg.vc is not None else 0,
               one_bit=1, spi=cfg.spi)
    for field, want in exp.items():
        got = getattr(p, field)
        check(got == want, "%s: PSP %s = %r, expected %r"
              % (what, field, got, want))
    check(bytes(p.iv) == struct.pack(">Q", iv),
          "%s: PSP IV = %s, expected %016x (counting up from --iv-start %d)"
          % (what, bytes(p.iv).hex(), iv, cfg.iv_start))
    if cfg.vc is not None:
        got_vc = (p.virtkey << 32) | p.sectoken
        check(got_vc == cfg.vc, "%s: VC = %016x, expected %016x"
              % (what, got_vc, cfg.vc))


def check_udp(udp, psp_len, what):
    sport, dport, ulen, csum = struct.unpack("!HHHH", udp[:8])
    check(dport == PSP_PORT, "%s: UDP dport %d, expected %d" % (what, dport, PSP_PORT))
    check(csum == 0, "%s: UDP checksum %#06x, expected 0" % (what, csum))
    check(ulen == 8 + psp_len, "%s: UDP length %d, expected %d"
          % (what, ulen, 8 + psp_len))
    check(sport != 0, "%s: UDP source port 0" % what)


def case_encrypt(psptool, wd, cfg, inputs, in_pcap):
    out_pcap = os.path.join(wd, "enc-%02d.pcap" % cfg.idx)
    cmd = [psptool, "encrypt", "--in", in_pcap, "--out", out_pcap,
           "--master-key0", MASTER_KEY0.hex(), "--master-key1", MASTER_KEY1.hex(),
           "--spi", "%08x" % cfg.spi, "--version", str(cfg.version),
           "--mode", "transport" if cfg.mode == "transport" else "tunnel",
           "--crypt-offset", str(cfg.crypt_offset),
           "--iv-start", str(cfg.iv_start)]
    if cfg.mode.startswith("tunnel"):
        cmd += ["--outer", cfg.mode.split("-")[1]]
    if cfg.outer:
        cmd += ["--outer-src", cfg.outer[0], "--outer-dst", cfg.outer[1]]
    if cfg.vc is not None:
        cmd += ["--vc", "%016x" % cfg.vc]
    rc, out, err = run(cmd)
    check(rc == 0, "psptool encrypt exited %d\ncmd: %s\nstdout: %s\nstderr: %s"
          % (rc, " ".join(cmd), out, err))
    outputs = read_pcap(out_pcap)
    check(len(outputs) == len(inputs), "psptool encrypt wrote %d frames for %d inputs"
          % (len(outputs), len(inputs)))
    key = derive_key(cfg.spi, cfg.version)
    hl = psp_header_len(cfg.vc)
    for i, (src, enc) in enumerate(zip(inputs, outputs)):
        what = "packet %d" % (i + 1)
        et, ip = frame_ip(src)
        v6, ihdr, proto, l4 = ip_parts(ip)
        diff(what + ": Ethernet addresses", src[:12], enc[:12])
        enc_et = struct.unpack("!H", enc[12:14])[0]
        if cfg.mode == "transport":
            check(enc_et == et, "%s: EtherType %#06x, expected %#06x" % (what, enc_et, et))
            ohdr = enc[ETH_LEN:ETH_LEN + len(ihdr)]
            ip_total = len(ip) + 8 + hl + ICV_LEN
            if v6:
                exp = bytearray(ihdr)
                exp[4:6] = struct.pack("!H", ip_total - 40)
                exp[6] = 17
                diff(what + ": transport IPv6 header", exp, ohdr)
            else:
                exp = bytearray(ihdr)
                exp[2:4] = struct.pack("!H", ip_total)
                exp[9] = 17
                exp[10:12] = b"\x00\x00"
                exp[10:12] = struct.pack("!H", ip_checksum(bytes(exp)))
                diff(what + ": transport IPv4 header", exp, ohdr)
            check(len(enc) == ETH_LEN + ip_total, "%s: frame length %d, expected %d"
                  % (what, len(enc), ETH_LEN + ip_total))
            udp_at = ETH_LEN + len(ihdr)
            nexthdr, plain = proto, l4
        else:
            psp_len = hl + len(ip) + ICV_LEN
            if cfg.mode == "tunnel-ipv6":
                check(enc_et == 0x86DD, "%s: outer EtherType %#06x, expected IPv6"
                      % (what, enc_et))
                o = enc[ETH_LEN:ETH_LEN + 40]
                check(o[0] >> 4 == 6, "%s: outer IP version %d" % (what, o[0] >> 4))
                plen, nh, hlim = struct.unpack("!HBB", o[4:8])
                check(nh == 17, "%s: outer next header %d, expected 17" % (what, nh))
                check(plen == 8 + psp_len, "%s: outer payload length %d, expected %d"
                      % (what, plen, 8 + psp_len))
                check(hlim > 0, "%s: outer hop limit 0" % what)
                if cfg.outer:
                    esrc, edst = ipv6_bytes(cfg.outer[0]), ipv6_bytes(cfg.outer[1])
                elif v6:
                    esrc, edst = ihdr[8:24], ihdr[24:40]
                else:
                    esrc, edst = mapped(ihdr[12:16]), mapped(ihdr[16:20])
                diff(what + ": outer IPv6 source", esrc, o[8:24])
                diff(what + ": outer IPv6 destination", edst, o[24:40])
                udp_at = ETH_LEN + 40
            else:
                check(enc_et == 0x0800, "%s: outer EtherType %#06x, expected IPv4"
                      % (what, enc_et))
                o = enc[ETH_LEN:ETH_LEN + 20]
                check(o[0] == 0x45, "%s: outer IPv4 version/IHL %#04x" % (what, o[0]))
                tot = struct.unpack("!H", o[2:4])[0]
                check(tot == 20 + 8 + psp_len, "%s: outer total length %d, expected %d"
                      % (what, tot, 28 + psp_len))
                check(o[9] == 17, "%s: outer protocol %d, expected 17" % (what, o[9]))
                check(o[8] > 0, "%s: outer TTL 0" % what)
                check(ip_checksum(o) == 0, "%s: outer IPv4 header checksum is wrong"
                      % what)
                check(struct.unpack("!H", o[6:8])[0] & 0x3FFF == 0,
                      "%s: outer IPv4 is a fragment" % what)
                diff(what + ": outer IPv4 source", ipv4_bytes(cfg.outer[0]), o[12:16])
                diff(what + ": outer IPv4 destination", ipv4_bytes(cfg.outer[1]), o[16:20])
                udp_at = ETH_LEN + 20
            check(len(enc) == udp_at + 8 + psp_len, "%s: frame length %d, expected %d"
                  % (what, len(enc), udp_at + 8 + psp_len))
            nexthdr, plain = (41 if v6 else 4), ip
        psp_bytes = enc[udp_at + 8:]
        check_udp(enc[udp_at:udp_at + 8], len(psp_bytes), what)
        p = PSP(psp_bytes)
        check_psp_fields(p, cfg, nexthdr, (cfg.iv_start + i) & (2**64 - 1), what)
        clear_end = HEADER_LEN + 4 * cfg.crypt_offset
        diff(what + ": clear bytes between the PSP header and the crypt offset",
             plain[:clear_end - hl], psp_bytes[hl:clear_end])
        check(len(plain) <= clear_end - hl or
              psp_bytes[clear_end:-ICV_LEN] != plain[clear_end - hl:],
              "%s: the bytes after the crypt offset are not encrypted" % what)
        try:
            p.decrypt(key)
        except PSPIntegrityError:
            raise Fail("%s: scapy PSP.decrypt with the Python-derived key failed "
                       "the ICV check (key %s); PSP packet: %s"
                       % (what, key.hex(), psp_bytes.hex()))
        diff(what + ": scapy-decrypted plaintext vs original "
             + ("L4 segment" if cfg.mode == "transport" else "inner IP packet"),
             plain, bytes(p.data))
    return len(outputs)


# --------------------------------------------------------------------------
# (2) scapy encrypt -> psptool decrypt

def scapy_psp(cfg, nexthdr, payload, iv, spi=None, key=None):
    """PSP header + payload encrypted by scapy (bytes, ICV included). With
    `cfg.scapy_default_hdrextlen`, Hdr Ext Len is left at scapy's default
    (1, even with a cookie: the compact layout, header always in clear)."""
    spi = cfg.spi if spi is None else spi
    key = derive_key(spi, cfg.version) if key is None else key
    fields = {}
    if not getattr(cfg, "scapy_default_hdrextlen", False):
        fields["hdrextlen"] = psp_header_len(cfg.vc) // 8 - 1
    p = PSP(nexthdr=nexthdr, cryptoffset=cfg.crypt_offset, version=cfg.version,
            is_virt=1 if cfg.vc is not None else 0, spi=spi,
            iv=struct.pack(">Q", iv), data=bytes(payload), **fields)
    if cfg.vc is not None:
        p.virtkey, p.sectoken = cfg.vc >> 32, cfg.vc & 0xFFFFFFFF
    p.encrypt(key)
    b = bytes(p)
    check(len(b) == psp_header_len(cfg.vc) + len(payload) + ICV_LEN,
          "scapy PSP packet has %d bytes, expected %d"
          % (len(b), psp_header_len(cfg.vc) + len(payload) + ICV_LEN))
    return b


def scapy_frame(cfg, src_frame, i, spi=None, key=None):
    """A PSP frame built by scapy from a clear frame; returns (frame,
    expected decrypted frame)."""
    _, ip = frame_ip(src_frame)
    v6, ihdr, proto, l4 = ip_parts(ip)
    iv = 0x1000 + cfg.idx * 0x10000 + i
    sport = 0xC000 + (cfg.idx * 7 + i) % 0x3FFF
    eth = Ether(dst=mac_str(OUTER_MACS[0]), src=mac_str(OUTER_MACS[1]))
    if cfg.mode == "transport":
        psp = scapy_psp(cfg, proto, l4, iv, spi, key)
        if v6:
            l3 = IPv6(ihdr)
            l3.nh, l3.plen = 17, None
        else:
            l3 = IP(ihdr)
            l3.proto, l3.len, l3.chksum = 17, None, None
        pkt = eth / l3 / UDP(sport=sport, dport=PSP_PORT, chksum=0) / Raw(psp)
        expected = OUTER_MACS[0] + OUTER_MACS[1] + src_frame[12:ETH_LEN] + ip
    else:
        psp = scapy_psp(cfg, 41 if v6 else 4, ip, iv, spi, key)
        if cfg.mode == "tunnel-ipv6":
            outer = IPv6(src="2001:db8:1::1", dst="2001:db8:2::2", nh=17, hlim=64)
        else:
            outer = IP(src="10.9.8.7", dst="10.6.5.4", proto=17, ttl=64)
        pkt = eth / outer / UDP(sport=sport, dport=PSP_PORT, chksum=0) / Raw(psp)
        expected = (OUTER_MACS[0] + OUTER_MACS[1] +
                    (b"\x86\xdd" if v6 else b"\x08\x00") + ip)
    frame = bytes(pkt)
    # The wrapping must be what we asked scapy for: UDP checksum 0.
    udp_at = len(frame) - len(psp) - 8
    check(frame[udp_at + 2:udp_at + 4] == struct.pack("!H", PSP_PORT)
          and frame[udp_at + 6:udp_at + 8] == b"\x00\x00",
          "scapy did not build UDP dport 1000 / checksum 0")
    return frame, expected


def run_decrypt(psptool, wd, name, frames):
    in_pcap = os.path.join(wd, name + "-in.pcap")
    out_pcap = os.path.join(wd, name + "-out.pcap")
    write_pcap(in_pcap, frames)
    cmd = [psptool, "decrypt", "--in", in_pcap, "--out", out_pcap,
           "--master-key0", MASTER_KEY0.hex(), "--master-key1", MASTER_KEY1.hex()]
    rc, out, err = run(cmd)
    outputs = read_pcap(out_pcap) if os.path.exists(out_pcap) else None
    return rc, out, err, outputs, " ".join(cmd)


def compare_decrypted(expected, outputs):
    check(len(outputs) == len(expected), "psptool decrypt wrote %d frames, expected %d"
          % (len(outputs), len(expected)))
    for i, (exp, got) in enumerate(zip(expected, outputs)):
        what = "packet %d" % (i + 1)
        diff(what + ": Ethernet header", exp[:ETH_LEN], got[:ETH_LEN])
        diff(what + ": decrypted IP packet", exp[ETH_LEN:], got[ETH_LEN:])


def case_decrypt(psptool, wd, name, pairs):
    frames = [f for f, _ in pairs]
    expected = [e for _, e in pairs]
    rc, out, err, outputs, cmd = run_decrypt(psptool, wd, name, frames)
    check(rc == 0, "psptool decrypt exited %d\ncmd: %s\nstdout: %s\nstderr: %s"
          % (rc, cmd, out, err))
    line = summary_line(out)
    check(line.startswith("decrypted %d packets" % len(frames))
          and "failed 0" in line and "skipped 0" in line,
          "unexpected psptool decrypt summary: %r" % line)
    compare_decrypted(expected, outputs)
    return len(frames)


# --------------------------------------------------------------------------
# (3) tampered packets -> icv_fail

def flip(b, at):
    b = bytearray(b)
    b[at] ^= 0x01
    return bytes(b)


def negative_cases(inputs):
    """(name, config, clear frame, function(frame, psp offset) -> tampered)."""
    v4 = next(f for f in inputs if f[12:14] == b"\x08\x00")
    v6 = next(f for f in inputs if f[12:14] == b"\x86\xdd")
    out = []
    for version in VERSIONS:
        base = 1000 + version * 100
        c5 = Config(version, "tunnel-ipv6", 5, None, SPIS[0], base)
        c2 = Config(version, "tunnel-ipv4", 2, VC, SPIS[1], base + 1)
        ct = Config(version, "transport", 6, VC, SPIS[1], base + 2)
        clear5 = HEADER_LEN + 4 * 5
        out += [
            ("ciphertext byte (first encrypted byte)", c5, v4,
             lambda f, at: flip(f, at + clear5)),
            ("ciphertext byte (middle)", c5, v6,
             lambda f, at: flip(f, (at + clear5 + len(f) - ICV_LEN) // 2)),
            ("ciphertext byte (last before the ICV)", c5, v4,
             lambda f, at: flip(f, len(f) - ICV_LEN - 1)),
            ("ICV byte", c5, v6, lambda f, at: flip(f, len(f) - 1)),
            ("clear authenticated byte inside the crypt offset", c5, v4,
             lambda f, at: flip(f, at + clear5 - 1)),
            ("IV byte", c5, v6, lambda f, at: flip(f, at + 15)),
            ("SPI bit 0 (other key, same master key)", c5, v4,
             lambda f, at: flip(f, at + 7)),
            ("ciphertext byte, with VC", c2, v6,
             lambda f, at: flip(f, at + 30)),
            ("VC byte", c2, v4, lambda f, at: flip(f, at + 20)),
            ("transport ciphertext byte", ct, v6,
             lambda f, at: flip(f, at + HEADER_LEN + 24 + 3)),
            ("transport VC byte", ct, v4, lambda f, at: flip(f, at + 16)),
        ]
    return out


def case_negative(psptool, wd, tag, cfg, src, tamper, good_src):
    bad, _ = scapy_frame(cfg, src, 0)
    good, good_exp = scapy_frame(cfg, good_src, 1)
    _, ip = frame_ip(src)
    psp_at = len(bad) - (psp_header_len(cfg.vc) + ICV_LEN +
                        (len(ip) if cfg.mode != "transport" else len(ip_parts(ip)[3])))
    bad2 = tamper(bad, psp_at)
    check(bad2 != bad and len(bad2) == len(bad), "tampering did not change the frame")
    rc, out, err, outputs, cmd = run_decrypt(psptool, wd, tag, [good, bad2])
    line = summary_line(out)
    check(rc != 0, "psptool decrypt exited 0 on a tampered packet; summary: %r" % line)
    check("icv_fail=1" in line and "failed 1" in line,
          "psptool decrypt summary does not report one icv_fail: %r\nstderr: %s"
          % (line, err))
    check(line.startswith("decrypted 1 packets"),
          "the untouched packet next to the tampered one was not decrypted: %r" % line)
    check(outputs is not None, "psptool decrypt wrote no output capture")
    compare_decrypted([good_exp], outputs)


# --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--psptool", required=True, help="path of the psptool binary")
    ap.add_argument("--workdir", required=True, help="scratch directory (created)")
    ap.add_argument("--count", type=int, default=24, help="frames per capture")
    ap.add_argument("--seed", type=int, default=7, help="psptool gen seed")
    args = ap.parse_args()

    scapy_version = import_deps()
    print("scapy %s, psptool %s" % (scapy_version, args.psptool))
    os.makedirs(args.workdir, exist_ok=True)
    wd = args.workdir
    passed, failed = 0, []

    def case(name, fn, *a):
        nonlocal passed
        try:
            n = fn(*a)
            passed += 1
            print("ok   %s%s" % (name, " (%d packets)" % n if n else ""))
        except Fail as e:
            failed.append(name)
            print("FAIL %s: %s" % (name, e))
        except Exception:
            failed.append(name)
            print("FAIL %s: unexpected error\n%s" % (name, traceback.format_exc()))

    # The clear input: IPv4 and IPv6 inner packets with UDP, TCP and ICMP.
    in_pcap = os.path.join(wd, "clear.pcap")
    rc, out, err = run([args.psptool, "gen", "--out", in_pcap,
                        "--count", str(args.count), "--seed", str(args.seed)])
    if rc != 0:
        print("psptool gen failed (exit %d): %s %s" % (rc, out, err))
        print("scapy cross-check: 0 passed, 1 failed")
        return 1
    inputs = read_pcap(in_pcap)
    kinds = set()
    for f in inputs:
        _, ip = frame_ip(f)
        v6, _, proto, _ = ip_parts(ip)
        kinds.add(("IPv6" if v6 else "IPv4", proto))
    print("input: %d frames, (IP, L4 protocol) kinds: %s" % (len(inputs), sorted(kinds)))
    if not ({k[0] for k in kinds} >= {"IPv4", "IPv6"}):
        print("FAIL input capture: needs both IPv4 and IPv6 frames; try another --seed")
        print("scapy cross-check: 0 passed, 1 failed")
        return 1

    # Sanity of the Python KDF: keys differ by SPI, version and master key.
    keys = {(s, v): derive_key(s, v) for s in SPIS for v in VERSIONS}
    assert len(set(keys.values())) == len(keys)
    assert all(len(k) == (32 if v == 1 else 16) for (s, v), k in keys.items())

    cfgs = list(configs())
    # (1)
    for cfg in cfgs:
        case("encrypt->scapy  " + cfg.name(), case_encrypt, args.psptool, wd, cfg,
             inputs, in_pcap)
    # (2)
    mixed = []
    for cfg in cfgs:
        try:
            pairs = [scapy_frame(cfg, f, i) for i, f in enumerate(inputs)]
        except Exception as e:
            failed.append("scapy->decrypt " + cfg.name())
            print("FAIL scapy->decrypt %s: building packets: %r" % (cfg.name(), e))
            continue
        mixed += pairs[cfg.idx % len(pairs):][:2]
        case("scapy->decrypt  " + cfg.name(), case_decrypt, args.psptool, wd,
             "dec-%02d" % cfg.idx, pairs)
    case("scapy->decrypt  one capture mixing all %d configurations" % len(cfgs),
         case_decrypt, args.psptool, wd, "dec-mixed", mixed)
    # (2b) scapy's default header with a cookie: Hdr Ext Len 1 with V set,
    # the cookie after the IV and in clear whatever the crypt offset.
    idx = len(cfgs)
    for version in VERSIONS:
        for mode in MODES:
            for co in (0, 1, 3):
                cfg = Config(version, mode, co, VC, SPIS[idx % 2], idx)
                cfg.scapy_default_hdrextlen = True
                idx += 1
                try:
                    pairs = [scapy_frame(cfg, f, i) for i, f in enumerate(inputs)]
                except Exception as e:
                    failed.append("scapy->decrypt hdrextlen=1 " + cfg.name())
                    print("FAIL scapy->decrypt hdrextlen=1 %s: building packets: %r"
                          % (cfg.name(), e))
                    continue
                case("scapy->decrypt  scapy default hdrextlen=1 " + cfg.name(),
                     case_decrypt, args.psptool, wd, "dec-compact-%02d" % idx, pairs)
    # (3)
    for n, (name, cfg, src, tamper) in enumerate(negative_cases(inputs)):
        case("tampered->icv_fail  %s: %s" % (cfg.name(), name), case_negative,
             args.psptool, wd, "neg-%02d" % n, cfg, src, tamper, inputs[-1])

    if failed:
        print("failed cases:\n  " + "\n  ".join(failed))
    print("scapy cross-check: %d passed, %d failed" % (passed, len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
