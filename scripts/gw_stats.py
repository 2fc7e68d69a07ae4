#!/usr/bin/env python3
"""Reads a gateway's --stats-json file (one JSON object per line, schema 1,
README "Statistics as JSON") so the scripts test counters by name, not by
the text --stat-print prints.

  gw_stats.py FILE KEY.PATH...   one value per line from the last "final"
                                 report (e.g. control.held_dropped,
                                 pipes.fwd_to_wire.packets); exits 1 when
                                 the file has no final report
  gw_stats.py FILE --drops       the final report's non-zero drop and miss
                                 counters, one "name value" a line
"""
import json
import sys

SCHEMA = 1
# Pipe counters of packets on their way (not drops).
PASSING = {
    "ingress_root", "vf_arp_to_rss", "vf_nd_to_rss", "egress_acl", "egress_sampling",
    "empty_pipe_not_sampled", "fwd_to_wire", "ingress_decrypt", "ingress_sampling",
    "ingress_acl", "fwd_to_unsecured", "rss",
}


def final(path):
    last = None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            r = json.loads(line)
            if r.get("schema") != SCHEMA:
                sys.exit(f"{path}:{n}: schema {r.get('schema')}, expected {SCHEMA}")
            if r["report"] == "final":
                last = r
    if last is None:
        sys.exit(f"{path}: no final report (the gateway did not exit cleanly)")
    return last


def get(report, dotted):
    v = report
    for k in dotted.split("."):
        v = v[k]
    return v


def main():
    path, *keys = sys.argv[1:]
    r = final(path)
    if keys == ["--drops"]:
        for name, c in r.get("pipes", {}).items():
            if c["packets"] and name not in PASSING:
                print(f"{name} {c['packets']}")
        for name, v in r["control"].items():
            if v and ("drop" in name or "fail" in name or "miss" in name or "full" in name):
                print(f"{name} {v}")
        return
    for k in keys:
        print(get(r, k))


if __name__ == "__main__":
    main()
