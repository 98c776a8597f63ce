#!/usr/bin/env python3
"""Build NAME.json for a capture of this directory.

    make_json.py NAME [--producer PRODUCER.json]

Fields come from Wireshark's dissectors (`tshark -T json --no-duplicate-keys`);
the raw frames are read from the capture file itself (pcap or pcapng, any of
the link types Ethernet, Linux cooked v1 / v2) and every check under `checks`
is recomputed here from those bytes:

- VRRP checksum: which coverage reproduces the value on the wire,
  `message_only` (the VRRP message alone) or `with_pseudo_header` (IPv4:
  source, destination, 0, 112, 16-bit VRRP length; IPv6: source, destination,
  32-bit length, 3 zero bytes, 112), followed by the message. For IPv4
  advertisements not sent to 224.0.0.18 the variant with 224.0.0.18 as
  pseudo-header destination is also tried (`with_pseudo_header_group_dst`).
- CARP: the checksum over the 36-byte CARP message only, and HMAC-SHA1 with
  key = password over 0x02 0x01 vhid, the 4 bytes of the virtual address, the
  8 counter bytes as on the wire; for passwords marked so, also with the key
  derived other ways (truncated, SHA-1 of the password).

`producer` (implementation, command lines, configs) is taken from
--producer, or else from the NAME.json already here.
"""
import hashlib
import hmac
import ipaddress
import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

SEGMENT = ("Ethernet segment of three hosts: node A eth0 02:00:00:00:00:0a "
           "192.0.2.1/24 fd00::1/64 fe80::ff:fe00:a; node B eth0 "
           "02:00:00:00:00:0b 192.0.2.2/24 fd00::2/64 fe80::ff:fe00:b; capture "
           "host 02:00:00:00:00:fe 192.0.2.254/24 (captures taken there, the "
           "switch floods every frame).")
KA_DECODER = "tshark -T json (Wireshark dissectors); checks computed from the raw bytes"
CARP_DECODER = ("tshark -o ip.try_heuristic_first:TRUE -T json (Wireshark "
                "dissectors); checks computed from the raw bytes")
TCPDUMP = "tcpdump -i {ifc}{y} -n -U -s 0 -c {c} -w {f} '{filt}'   (in the capture host's namespace)"

VECTORS = {
    "ka-v3-ipv4-cksum-as-v2-unsupported": dict(
        file="ka-v3-ipv4-cksum-as-v2-unsupported.pcap",
        capture=TCPDUMP.format(ifc="eth0", y="", c=4, f="ka-v3-ipv4-cksum-as-v2-unsupported.pcap", filt="ip proto 112"),
        description=(
            "keepalived, VRRPv3 over IPv4, VRID 64, priority 150, advert_int 1 s, one virtual "
            "address 192.0.2.64, with the vrrp_instance keyword v3_checksum_as_v2 in the "
            "configuration. keepalived 2.2.7 does not know this keyword (it was added in "
            "keepalived 2.2.8): it logs \"Unknown keyword 'v3_checksum_as_v2'\", ignores it and "
            "keeps the pseudo-header checksum. Steady-state master advertisements from node A; "
            "the checksum matches with_pseudo_header, not message_only. This is NOT a "
            "message-only (RFC 9568 style) VRRPv3 IPv4 checksum vector."),
        keepalived_log="(ka-v3-ipv4-cksum-as-v2-unsupported-a.conf: Line 11) Unknown keyword 'v3_checksum_as_v2'",
    ),
    "ka-v3-ipv4-unicast-old-cksum": dict(
        file="ka-v3-ipv4-unicast-old-cksum.pcap",
        capture=TCPDUMP.format(ifc="eth0", y="", c=4, f="ka-v3-ipv4-unicast-old-cksum.pcap", filt="ip proto 112"),
        description=(
            "keepalived, VRRPv3 over IPv4 in unicast mode with old_unicast_checksum (the only "
            "VRRPv3 checksum option of keepalived 2.2.7): node A (unicast_src_ip 192.0.2.1, "
            "unicast_peer 192.0.2.2, priority 150, VRID 65, one virtual address 192.0.2.65) sends "
            "to 192.0.2.2. The checksum still covers a pseudo-header, but its destination is the "
            "multicast group 224.0.0.18, not the real destination 192.0.2.2 (keepalived's "
            "pre-1.3.6 algorithm): it matches neither message_only nor with_pseudo_header, only "
            "with_pseudo_header_group_dst. Wireshark marks it bad."),
    ),
    "ka-v3-ipv4-sll": dict(
        file="ka-v3-ipv4-sll.pcap",
        capture=TCPDUMP.format(ifc="any", y="", c=4, f="ka-v3-ipv4-sll.pcap", filt="ip proto 112"),
        description=(
            "keepalived, VRRPv3 over IPv4, VRID 66, priority 150, advert_int 1 s, one virtual "
            "address 192.0.2.66; captured with tcpdump -i any and no -y: tcpdump 4.99.3 / "
            "libpcap 1.10.3 then write link type LINUX_SLL2 (Linux cooked v2, DLT 276, "
            "LINKTYPE 276; Wireshark encapsulation 210): a 20-byte cooked header (protocol 0x0800, "
            "ifindex, ARPHRD 1, packet type 2 = multicast, address length 6, the sender MAC) "
            "instead of the Ethernet header."),
    ),
    "ka-v3-ipv4-sll-v1": dict(
        file="ka-v3-ipv4-sll-v1.pcap",
        capture=TCPDUMP.format(ifc="any", y=" -y LINUX_SLL", c=4, f="ka-v3-ipv4-sll-v1.pcap", filt="ip proto 112"),
        description=(
            "keepalived, VRRPv3 over IPv4, VRID 66, priority 150, advert_int 1 s, one virtual "
            "address 192.0.2.66 (same keepalived run as ka-v3-ipv4-sll); captured with tcpdump "
            "-i any -y LINUX_SLL: link type LINUX_SLL (Linux cooked v1, DLT/LINKTYPE 113): a "
            "16-byte cooked header (packet type 2 = multicast, ARPHRD 1, address length 6, the "
            "sender MAC padded to 8 bytes, protocol 0x0800)."),
    ),
    "ka-v3-ipv6-pcapng": dict(
        file="ka-v3-ipv6-pcapng.pcapng",
        capture="dumpcap -q -i eth0 -s 0 -c 4 -f 'ip6 proto 112' -w ka-v3-ipv6-pcapng.pcapng   (in the capture host's namespace)",
        description=(
            "keepalived, VRRPv3 over IPv6 (from the link-local address fe80::ff:fe00:a to "
            "ff02::12), VRID 72, priority 130, advert_int 1 s, one global virtual address "
            "fd00::72; steady-state master advertisements from node A, written by dumpcap as "
            "pcapng (section header, one interface description block for eth0 with Ethernet "
            "link type, enhanced packet blocks, interface statistics block at the end)."),
    ),
    "ka-v2-ipv4-prio255-owner": dict(
        file="ka-v2-ipv4-prio255-owner.pcap",
        capture=TCPDUMP.format(ifc="eth0", y="", c=10, f="ka-v2-ipv4-prio255-owner.pcap", filt="ip proto 112 or arp"),
        description=(
            "keepalived, VRRPv2 over IPv4, address owner: VRID 55, priority 255, state MASTER, "
            "the virtual address is node A's own address 192.0.2.1/24, advertisements sent from "
            "192.0.2.1 (mcast_src_ip). Captured from start-up: an owner does not wait for the "
            "master-down timer, its first advertisement follows start-up at once, then 5 "
            "gratuitous ARP requests for 192.0.2.1, then one advertisement per second. Node A "
            "also carried 198.51.100.1/24 on eth0 during this capture: keepalived 2.2.7 goes to "
            "FAULT and deletes 192.0.2.1 when the owner's address is the interface's only IPv4 "
            "address."),
        setup="ip addr add 198.51.100.1/24 dev eth0   (on node A, before starting keepalived; removed afterwards)",
    ),
    "ucarp-pass19": dict(
        file="ucarp-pass19.pcap",
        capture=TCPDUMP.format(ifc="eth0", y="", c=4, f="ucarp-pass19.pcap", filt="ip proto 112"),
        description=(
            "ucarp (CARP version 2 over IPv4, to 224.0.0.18), vhid 14, password "
            "abcdefghijklmnopqrs (19 characters, the longest ucarp accepts: it refuses 20 or "
            "more with \"Password too long\" and exit status 2), virtual address 192.0.2.134, "
            "advbase 1 s, advskew 0; steady-state master advertisements from node A. The HMAC "
            "key is the password as given (ucarp copies it, with its NUL, into a 20-byte key "
            "buffer that HMAC zero-pads to 64 bytes), i.e. standard HMAC-SHA1 with key = password."),
        carp=dict(password="abcdefghijklmnopqrs", vip="192.0.2.134", key_variants=True),
    ),
    "ucarp-pair-advskew": dict(
        file="ucarp-pair-advskew.pcap",
        capture=TCPDUMP.format(ifc="eth0", y="", c=12, f="ucarp-pair-advskew.pcap", filt="ip proto 112 or arp"),
        description=(
            "ucarp pair, both started at the same moment (capture running before): node A "
            "advbase 2 s, advskew 50; node B advbase 1 s, advskew 100; vhid 15, password "
            "skewpass, virtual address 192.0.2.135. B's master-down timer (3 x 1 + 100/256 = "
            "3.39 s) expires long before A's (3 x 2 + 50/256 = 6.2 s): B becomes master, sends a "
            "gratuitous ARP and advertises every 1 + 100/256 = 1.390625 s (a second gratuitous "
            "ARP follows its third advertisement); A hears B and never sends. Only B appears."),
        carp=dict(password="skewpass", vip="192.0.2.135"),
    ),
}


# ---------------------------------------------------------------- capture file
def read_capture(path):
    """Return (linktype, [(ts_float_str, bytes)]) for pcap or pcapng."""
    data = open(path, "rb").read()
    magic = data[:4]
    frames = []
    if magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xd4, 0x4d) else ">"
        nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
        off = 24
        while off + 16 <= len(data):
            sec, frac, incl, _orig = struct.unpack(e + "IIII", data[off:off + 16])
            frames.append((sec, frac * (1 if nano else 1000), data[off + 16:off + 16 + incl]))
            off += 16 + incl
        return linktype, frames
    if magic == b"\x0a\x0d\x0d\x0a":
        bom = data[8:12]
        e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
        off = 0
        ifaces = []  # (linktype, ts_resolution_divisor)
        while off + 12 <= len(data):
            btype, blen = struct.unpack(e + "II", data[off:off + 8])
            body = data[off + 8:off + blen - 4]
            if btype == 1:
                lt = struct.unpack(e + "H", body[:2])[0]
                res = 10 ** 6
                o = 8
                while o + 4 <= len(body):
                    code, ln = struct.unpack(e + "HH", body[o:o + 4])
                    if code == 0:
                        break
                    if code == 9:
                        v = body[o + 4]
                        res = (2 ** (v & 0x7F)) if v & 0x80 else 10 ** v
                    o += 4 + ((ln + 3) & ~3)
                ifaces.append((lt, res))
            elif btype == 6:
                ifid, hi, lo, cap, _orig = struct.unpack(e + "IIIII", body[:20])
                ts = (hi << 32) | lo
                res = ifaces[ifid][1]
                frames.append((ts // res, (ts % res) * 10 ** 9 // res, body[20:20 + cap]))
            off += blen
        lts = {lt for lt, _ in ifaces}
        assert len(lts) == 1, lts
        return lts.pop(), frames
    raise SystemExit(f"{path}: unknown capture format")


LINKTYPES = {1: "EN10MB (Ethernet)", 113: "LINUX_SLL (Linux cooked v1)",
             276: "LINUX_SLL2 (Linux cooked v2)"}


def mac(b):
    return ":".join(f"{x:02x}" for x in b)


def split_link(linktype, f):
    """Return (link dict, ethertype, network-layer bytes)."""
    if linktype == 1:
        return ({"eth_src": mac(f[6:12]), "eth_dst": mac(f[0:6])},
                struct.unpack("!H", f[12:14])[0], f[14:])
    if linktype == 113:
        pkttype, hatype, halen = struct.unpack("!HHH", f[0:6])
        proto = struct.unpack("!H", f[14:16])[0]
        return ({"eth_src": mac(f[6:6 + halen]), "eth_dst": None,
                 "sll": {"version": 1, "header_len": 16, "pkttype": pkttype,
                         "hatype": hatype, "halen": halen,
                         "addr_hex": f[6:14].hex(), "protocol": f"0x{proto:04x}"}},
                proto, f[16:])
    if linktype == 276:
        proto, _res, ifindex, hatype, pkttype, halen = struct.unpack("!HHIHBB", f[0:12])
        return ({"eth_src": mac(f[12:12 + halen]), "eth_dst": None,
                 "sll": {"version": 2, "header_len": 20, "protocol": f"0x{proto:04x}",
                         "ifindex": ifindex, "hatype": hatype, "pkttype": pkttype,
                         "halen": halen, "addr_hex": f[12:20].hex()}},
                proto, f[20:])
    raise SystemExit(f"unsupported link type {linktype}")


# ---------------------------------------------------------------- checksums
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def zero_cksum(msg):
    return msg[:6] + b"\0\0" + msg[8:]


def pseudo(family, src, dst, length):
    s, d = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
    if family == "ipv4":
        return s + d + bytes([0, 112]) + struct.pack("!H", length)
    return s + d + struct.pack("!I", length) + b"\0\0\0" + bytes([112])


def vrrp_checks(ip, msg):
    wire = struct.unpack("!H", msg[6:8])[0]
    z = zero_cksum(msg)
    res = {"on_wire": f"0x{wire:04x}", "covered_length": len(msg),
           "message_only": csum(z) == wire,
           "with_pseudo_header": csum(pseudo(ip["family"], ip["src"], ip["dst"], len(msg)) + z) == wire}
    if ip["family"] == "ipv4" and ip["dst"] != "224.0.0.18":
        res["with_pseudo_header_group_dst"] = csum(
            pseudo("ipv4", ip["src"], "224.0.0.18", len(msg)) + z) == wire
    res["matches"] = [k for k in ("message_only", "with_pseudo_header", "with_pseudo_header_group_dst") if res.get(k)]
    return res


def carp_hmac(key, msg, vip):
    data = bytes([2, 1, msg[1]]) + ipaddress.IPv4Address(vip).packed + msg[8:16]
    return hmac.new(key, data, hashlib.sha1).hexdigest()


# ---------------------------------------------------------------- tshark
def tshark_layers(path, carp):
    cmd = ["tshark", "-r", path, "-T", "json", "--no-duplicate-keys"]
    if carp:
        cmd[1:1] = ["-o", "ip.try_heuristic_first:TRUE"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [p["_source"]["layers"] for p in json.loads(out)]


def flat(d, acc=None):
    acc = {} if acc is None else acc
    for k, v in d.items():
        if isinstance(v, dict):
            flat(v, acc)
        else:
            acc.setdefault(k, v)
    return acc


STATUS = {"0": "bad", "1": "good", "2": "unverified", "3": "not present", "4": "illegal"}


def aslist(v):
    return v if isinstance(v, list) else ([] if v is None else [v])


def build(name, producer):
    meta = VECTORS[name]
    path = os.path.join(HERE, meta["file"])
    iscarp = "carp" in meta
    linktype, frames = read_capture(path)
    layers = tshark_layers(path, iscarp)
    assert len(layers) == len(frames), (len(layers), len(frames))
    t0 = frames[0][0] * 10 ** 9 + frames[0][1]
    pkts = []
    for i, ((sec, ns, f), L) in enumerate(zip(frames, layers), 1):
        link, etype, net = split_link(linktype, f)
        t = sec * 10 ** 9 + ns
        p = {"frame": i, "time_epoch": L["frame"]["frame.time_epoch"][:-3],
             "time_offset_ms": round((t - t0) / 1e6, 3)}
        p.update({k: link[k] for k in ("eth_src", "eth_dst")})
        if "sll" in link:
            p["sll"] = link["sll"]
        p["frame_hex"] = f.hex()
        if etype == 0x0806:
            a = flat(L["arp"])
            p["kind"] = "arp"
            p["arp"] = {"opcode": int(a["arp.opcode"]), "sender_mac": a["arp.src.hw_mac"],
                        "sender_ip": a["arp.src.proto_ipv4"], "target_mac": a["arp.dst.hw_mac"],
                        "target_ip": a["arp.dst.proto_ipv4"],
                        "gratuitous": a["arp.src.proto_ipv4"] == a["arp.dst.proto_ipv4"]}
            pkts.append(p)
            continue
        if etype == 0x0800:
            ihl = (net[0] & 0x0F) * 4
            tot = struct.unpack("!H", net[2:4])[0]
            ip = {"family": "ipv4", "src": str(ipaddress.IPv4Address(net[12:16])),
                  "dst": str(ipaddress.IPv4Address(net[16:20])), "ttl_or_hop_limit": net[8],
                  "next_protocol": net[9], "tos": f"0x{net[1]:02x}",
                  "id": struct.unpack("!H", net[4:6])[0],
                  "flags_frag": f"0x{struct.unpack('!H', net[6:8])[0]:04x}"}
            msg = net[ihl:tot]
            tl = flat(L["ip"])
            assert tl["ip.src"] == ip["src"] and tl["ip.dst"] == ip["dst"]
        elif etype == 0x86DD:
            plen = struct.unpack("!H", net[4:6])[0]
            ip = {"family": "ipv6", "src": str(ipaddress.IPv6Address(net[8:24])),
                  "dst": str(ipaddress.IPv6Address(net[24:40])), "ttl_or_hop_limit": net[7],
                  "next_protocol": net[6],
                  "traffic_class": f"0x{((struct.unpack('!I', net[0:4])[0] >> 20) & 0xFF):02x}"}
            msg = net[40:40 + plen]
            tl = flat(L["ipv6"])
            assert ipaddress.ip_address(tl["ipv6.src"]) == ipaddress.ip_address(ip["src"])
        else:
            raise SystemExit(f"frame {i}: ethertype 0x{etype:04x}")
        p["ip"] = ip
        assert ip["next_protocol"] == 112, ip
        if iscarp:
            c = flat(L["carp"])
            p["kind"] = "carp"
            p["carp"] = {"version": int(c["carp.version"]), "type": int(c["carp.type"]),
                         "vhid": int(c["carp.vhid"]), "advskew": int(c["carp.advskew"]),
                         "authlen": int(c["carp.authlen"]),
                         "demotion_or_reserved": int(c["carp.demotion"]),
                         "advbase": int(c["carp.adver_int"]), "checksum": c["carp.checksum"],
                         "checksum_status_tshark": STATUS.get(c.get("carp.checksum.status"), c.get("carp.checksum.status")),
                         "counter": c["carp.counter"], "counter_hex": msg[8:16].hex(),
                         "hmac": c["carp.hmac"].replace(":", "")}
            assert p["carp"]["hmac"] == msg[16:36].hex() and int(c["carp.counter"]) == int.from_bytes(msg[8:16], "big")
            p["message_hex"] = msg.hex()
            cm = meta["carp"]
            pw = cm["password"].encode()
            comp = carp_hmac(pw, msg, cm["vip"])
            checks = {"carp_checksum_message_only": csum(zero_cksum(msg)) == struct.unpack("!H", msg[6:8])[0],
                      "carp_hmac_sha1": {"password": cm["password"], "vip": cm["vip"], "computed": comp,
                                          "match": comp == msg[16:36].hex()}}
            if cm.get("key_variants"):
                variants = {"full_password": pw, "truncated_19": pw[:19], "truncated_20": pw[:20],
                            "truncated_64": pw[:64], "sha1_of_password": hashlib.sha1(pw).digest()}
                checks["carp_hmac_key_variants"] = {
                    k: carp_hmac(v, msg, cm["vip"]) == msg[16:36].hex() for k, v in variants.items()}
            p["checks"] = checks
        else:
            v = flat(L["vrrp"])
            ver = msg[0] >> 4
            n = msg[3]
            p["kind"] = "vrrp"
            vr = {"version": int(v["vrrp.version"]), "type": int(v["vrrp.type"]),
                  "vrid": int(v["vrrp.virt_rtr_id"]), "priority": int(v["vrrp.prio"]),
                  "addr_count": int(v["vrrp.addr_count"])}
            assert (vr["version"], vr["vrid"], vr["priority"], vr["addr_count"]) == (ver, msg[1], msg[2], n)
            alen = 4 if ip["family"] == "ipv4" else 16
            addrs = [str(ipaddress.ip_address(msg[8 + k * alen:8 + (k + 1) * alen])) for k in range(n)]
            tsh = aslist(v.get("vrrp.ip_addr") or v.get("vrrp.ipv6_addr"))
            assert [ipaddress.ip_address(a) for a in tsh] == [ipaddress.ip_address(a) for a in addrs], (tsh, addrs)
            vr["addresses"] = addrs
            vr["checksum"] = v["vrrp.checksum"]
            vr["checksum_status_tshark"] = STATUS.get(v.get("vrrp.checksum.status"), v.get("vrrp.checksum.status"))
            if ver == 2:
                vr["auth_type"] = msg[4]
                vr["adver_int_seconds"] = msg[5]
                vr["auth_data_hex"] = msg[8 + n * 4:16 + n * 4].hex()
            else:
                vr["reserved"] = msg[4] >> 4
                vr["max_adver_int_centiseconds"] = struct.unpack("!H", msg[4:6])[0] & 0x0FFF
            p["vrrp"] = vr
            p["message_hex"] = msg.hex()
            p["checks"] = {"vrrp_checksum": vrrp_checks(ip, msg)}
        pkts.append(p)
    producer = dict(producer)
    producer["segment"] = SEGMENT
    producer["capture_command"] = meta["capture"]
    if "setup" in meta:
        producer["setup_on_node_a"] = meta["setup"]
    if "keepalived_log" in meta:
        producer["keepalived_log"] = meta["keepalived_log"]
    if iscarp:
        producer["hmac"] = ("HMAC-SHA1, key = password, message = 0x02 0x01 vhid(1 byte) "
                            "virtual-address(4 bytes) counter(8 bytes as on the wire)")
    return {"name": name, "description": meta["description"], "producer": producer,
            "capture_file": meta["file"],
            "file_format": "pcapng" if meta["file"].endswith(".pcapng") else "pcap",
            "link_type": LINKTYPES[linktype], "link_type_number": linktype,
            "decoder": CARP_DECODER if iscarp else KA_DECODER,
            "packet_count": len(pkts), "packets": pkts}


def normalize_producer(p):
    """keepalived vectors: a single `command` string like the other vectors."""
    out = {"implementation": p["implementation"]}
    cmds = p.get("commands", {})
    if p["implementation"].startswith("keepalived"):
        out["command"] = "keepalived -n -l -D -G -P -f <config>   (run inside the node's network namespace)"
    else:
        out["commands"] = cmds
    if "configs" in p:
        out["configs"] = p["configs"]
    return out


def main():
    args = sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    name = args[0]
    out = os.path.join(HERE, name + ".json")
    if "--producer" in args:
        prod = normalize_producer(json.load(open(args[args.index("--producer") + 1])))
    else:
        old = json.load(open(out))["producer"]
        prod = {k: v for k, v in old.items()
                if k in ("implementation", "command", "commands", "configs")}
    doc = build(name, prod)
    with open(out, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    print(f"{out}: {doc['packet_count']} packets, {doc['link_type']}")


if __name__ == "__main__":
    main()
