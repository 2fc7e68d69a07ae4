#!/usr/bin/env python3
"""Summarises the last `cargo bench --bench psp` run as markdown tables.

Reads criterion's estimates under target/criterion (median of each bench)
and prints: key derivation rates, and per size and version the raw AEAD
time, the encap/decap time, the framing overhead in ns and as a ratio, and
Gbit/s of inner packet bytes. Usage: python3 scripts/bench_table.py
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"


def median_ns(bench_id):
    # criterion keeps "group/function/id" under group/function_id.
    group, _, function = bench_id.partition("/")
    path = ROOT / group / function.replace("/", "_") / "new" / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["median"]["point_estimate"]


def main():
    if not ROOT.exists():
        sys.exit("no criterion results: run `cargo bench --bench psp` first")
    print("| key operation | version | ns | per second |")
    print("|---|---|---|---|")
    for name, per in (("kdf/derive", 1), ("kdf/derive_and_expand", 1), ("keygen/bulk1024", 1024)):
        for v in (0, 1):
            ns = median_ns(f"{name}/{v}")
            if ns is not None:
                print(f"| {name} | {v} | {ns:.1f} | {per * 1e9 / ns / 1e6:.2f} M |")
    print()
    print("| op | v | size B | raw AEAD ns | PSP ns | overhead ns | PSP / raw | PSP Gbit/s |")
    print("|---|---|---|---|---|---|---|---|")
    for op, raw in (("encap", "aead_seal/frame"), ("decap", "aead_open/frame")):
        for v in (0, 1):
            for size in (64, 256, 512, 1400):
                r, p = median_ns(f"{raw}/v{v}_{size}"), median_ns(f"{op}/v{v}_{size}")
                if r is None or p is None:
                    continue
                print(
                    f"| {op} | {v} | {size} | {r:.1f} | {p:.1f} | {p - r:.1f} | "
                    f"{p / r:.3f} | {size * 8 / p:.2f} |"
                )


if __name__ == "__main__":
    main()
