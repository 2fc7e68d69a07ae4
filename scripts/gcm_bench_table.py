#!/usr/bin/env python3
"""Summarises the last `cargo bench -p engine --bench gcm` run as one
markdown table: ns per packet (the median burst of 32, divided by 32) of
aws-lc per packet, intel-ipsec-mb per packet and intel-ipsec-mb over a
batch, and the best of the three against aws-lc.

Usage: python3 scripts/gcm_bench_table.py
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"
BURST = 32
IMPLS = ("aws_lc", "ipsec_mb", "ipsec_mb_batch")


def ns_per_packet(op, impl, bits, size):
    # criterion keeps "group/function/param" under group/function_param/param.
    path = ROOT / op / f"{impl}_{bits}" / str(size) / "new" / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["median"]["point_estimate"] / BURST


def main():
    if not (ROOT / "gcm_seal").exists():
        sys.exit("no results: run `cargo bench -p engine --bench gcm` first")
    print("| op | AES | size B | aws-lc ns | ipsec-mb ns | ipsec-mb batch ns | batch / aws-lc |")
    print("|---|---|---|---|---|---|---|")
    for op in ("gcm_seal", "gcm_open"):
        for bits in (128, 256):
            for size in (64, 512, 1400):
                ns = [ns_per_packet(op, i, bits, size) for i in IMPLS]
                if None in ns:
                    continue
                cells = " | ".join(f"{n:.1f}" for n in ns)
                print(f"| {op[4:]} | {bits} | {size} | {cells} | {ns[2] / ns[0]:.2f} |")


if __name__ == "__main__":
    main()
