#!/usr/bin/env python3
"""Checks that a metrics scrape agrees with the last --stat-print report
in a gateway's log: every pipe counter (packets and bytes, summed over the
cores), every control-plane row (psp_gateway_<row>_total) and the gauges
tunnels_ours, tunnels_reverse and held_packets.

usage: check_metrics.py GATEWAY_LOG SCRAPE
Prints what it compared; exits 1 on a difference or an empty report."""
import re
import sys


def last_report(log):
    lines = open(log, errors="replace").read().splitlines()
    starts = [i for i, l in enumerate(lines) if l.startswith("stats (") and "cores reporting" in l]
    if not starts:
        sys.exit(f"check_metrics: no --stat-print report in {log}")
    pipes, control, section = {}, {}, "pipes"
    for l in lines[starts[-1] + 1:]:
        if l == "control plane:":
            section = "control"
            continue
        m = re.fullmatch(r"  (\S+) +(\d+) +(\d+)", l)
        if section == "pipes" and m:
            pipes[m[1]] = (int(m[2]), int(m[3]))
            continue
        m = re.fullmatch(r"  (\S+) +(\d+)", l)
        if section == "control" and m:
            control[m[1]] = int(m[2])
            continue
        break
    return pipes, control


def scrape(path):
    out = {}
    for l in open(path):
        if l.startswith("#") or not l.strip():
            continue
        k, v = l.rsplit(" ", 1)
        out[k] = float(v)
    return out


def main():
    pipes, control = last_report(sys.argv[1])
    m = scrape(sys.argv[2])
    if not control:
        sys.exit("check_metrics: the report has no control-plane rows")
    bad, n = [], 0
    for name, (pk, by) in pipes.items():
        for key, want in ((f'psp_gateway_pipe_packets_total{{pipe="{name}"}}', pk),
                          (f'psp_gateway_pipe_bytes_total{{pipe="{name}"}}', by)):
            n += 1
            if m.get(key) != want:
                bad.append(f"{key}: scrape {m.get(key)}, --stat-print {want}")
    # Pipes the report leaves out are zero.
    for key, v in m.items():
        mm = re.fullmatch(r'psp_gateway_pipe_packets_total\{pipe="(\S+)"\}', key)
        if mm and mm[1] not in pipes and v != 0:
            bad.append(f"{key}: scrape {v}, not in the report (zero)")
    gauges = {"tunnels_ours": 'psp_gateway_tunnels{kind="ours"}',
              "tunnels_reverse": 'psp_gateway_tunnels{kind="reverse"}',
              "held_packets": "psp_gateway_held_packets"}
    for name, want in control.items():
        key = gauges.get(name, f"psp_gateway_{name}_total")
        n += 1
        if m.get(key) != want:
            bad.append(f"{key}: scrape {m.get(key)}, --stat-print {want}")
    if bad:
        print("check_metrics: the scrape and --stat-print differ:")
        for b in bad:
            print("  " + b)
        sys.exit(1)
    print(f"   scrape = --stat-print: {n} values equal ({len(pipes)} pipes, {len(control)} control rows)")


main()
