#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target from the golden vectors.

Reads crates/tandem-wire/tests/vectors/*.json and extra/*.json (bytes
recorded from keepalived, FRR and ucarp, never made by our encoder) and
writes one file per distinct message (`message_hex`) or frame
(`frame_hex`) under fuzz/seeds/<target>/, named by its SHA-1 as libFuzzer
names corpus files. Run from the repository root:

    python3 fuzz/seeds/make_seeds.py
"""
import glob
import hashlib
import json
import os

VECTORS = "crates/tandem-wire/tests/vectors"
OUT = "fuzz/seeds"


def put(target, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


for path in sorted(glob.glob(f"{VECTORS}/*.json") + glob.glob(f"{VECTORS}/extra/*.json")):
    with open(path) as f:
        vector = json.load(f)
    for packet in vector["packets"]:
        if "frame_hex" in packet:
            put("wire_frame", bytes.fromhex(packet["frame_hex"]))
        if "message_hex" not in packet:
            continue
        msg = bytes.fromhex(packet["message_hex"])
        put("wire_classify", msg)
        if packet["kind"] == "carp":
            put("wire_carp", msg)
        elif msg and msg[0] >> 4 == 3:
            put("wire_vrrp3", msg)
        elif msg and msg[0] >> 4 == 2:
            put("wire_vrrp2", msg)
