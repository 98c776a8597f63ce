#!/usr/bin/env bash
# capture.sh VECTOR... : take the captures of this directory on the namespace lab
# (/work/shared/lab/topo.sh must be up). Each capture is written here as NAME.pcap
# (or .pcapng); the command lines and configs actually used go to
# $RUN/NAME.producer.json for make_json.py. Only processes started here are
# signalled, by PID.
set -euo pipefail
OUT=$(cd "$(dirname "$0")" && pwd)
here=/work/shared/lab
RUN=${RUN:-/tmp/tandem-extra-run}
# shellcheck source=/dev/null
. "$here/lib.sh"
trap 'stop_all' EXIT

KA_IMPL="keepalived v2.2.7 (Debian package 1:2.2.7-1+b2)"
UC_IMPL="ucarp 1.5.2 (Debian package 1.5.2+git20192404.1a9aaf7-1)"
UP=$here/ucarp-vip-up.sh
DOWN=$here/ucarp-vip-down.sh

# producer NAME IMPL JSON-COMMANDS [CONFIG-FILE...] : record how NAME was made
producer() {
  local name=$1 impl=$2 cmds=$3; shift 3
  python3 - "$name" "$impl" "$cmds" "$RUN/$name.producer.json" "$@" <<'EOF'
import json, os, sys
name, impl, cmds, out, *confs = sys.argv[1:]
p = {"implementation": impl, "commands": json.loads(cmds)}
if confs:
    p["configs"] = {os.path.basename(c): open(c).read() for c in confs}
json.dump(p, open(out, "w"), indent=1)
EOF
}

# capture on the observer: cap IFACE FILE FILTER COUNT [EXTRA tcpdump ARGS...]
cap() {
  local ifc=$1 f=$2 filt=$3 cnt=$4 i; shift 4
  rm -f "$f"
  bg_ns lab-obs "$RUN/$(basename "$f").tcpdump.log" tcpdump -i "$ifc" "$@" -n -U -s 0 -c "$cnt" -w "$f" "$filt"
  CAP_PID=$LAST_PID
  for ((i = 0; i < 100; i++)); do grep -q 'listening on' "$RUN/$(basename "$f").tcpdump.log" 2>/dev/null && break; sleep 0.05; done
  sleep 0.1
}

ka_master_then_capture() { # NAME CONF VIP IFACE FILE FILTER COUNT TIMEOUT [tcpdump args]
  local name=$1 conf=$2 vip=$3 ifc=$4 f=$5 filt=$6 cnt=$7 to=$8; shift 8
  ka_start lab-a "$conf" "$name-a"; local ka=$LAST_PID
  wait_addr lab-a "$vip" 15 || { log "$name: VIP $vip never appeared"; cat "$RUN/$name-a.log" >&2; }
  sleep 1.5   # past the gratuitous ARP burst
  cap "$ifc" "$f" "$filt" "$cnt" "$@"
  cap_wait "$to"
  stop_pid "$ka" TERM 5
  vip_clean lab-a
}

kacmd='"node A": "keepalived -n -l -D -G -P -f <config>   (run inside the node'"'"'s network namespace)"'
FILT4='ip proto 112'

v_ka_v3_cksum_as_v2() {
  local n=ka-v3-ipv4-cksum-as-v2-unsupported c=$RUN/ka-v3-ipv4-cksum-as-v2-unsupported-a.conf
  cat >"$c" <<'EOF'
global_defs {
  router_id node-a
}
vrrp_instance VI_64 {
  state BACKUP
  interface eth0
  version 3
  virtual_router_id 64
  priority 150
  advert_int 1
  v3_checksum_as_v2
  virtual_ipaddress {
    192.0.2.64/24
  }
}
EOF
  ka_master_then_capture $n "$c" 192.0.2.64 eth0 "$OUT/$n.pcap" "$FILT4" 4 10
  producer $n "$KA_IMPL" "{$kacmd}" "$c"
  grep -i 'keyword\|checksum' "$RUN/$n-a.log" >"$RUN/$n.keyword.log" || true
}

v_ka_v3_unicast_old_cksum() {
  local n=ka-v3-ipv4-unicast-old-cksum c=$RUN/ka-v3-ipv4-unicast-old-cksum-a.conf
  cat >"$c" <<'EOF'
global_defs {
  router_id node-a
}
vrrp_instance VI_65 {
  state BACKUP
  interface eth0
  version 3
  virtual_router_id 65
  priority 150
  advert_int 1
  unicast_src_ip 192.0.2.1
  unicast_peer {
    192.0.2.2
  }
  old_unicast_checksum
  virtual_ipaddress {
    192.0.2.65/24
  }
}
EOF
  ka_master_then_capture $n "$c" 192.0.2.65 eth0 "$OUT/$n.pcap" "$FILT4" 4 10
  producer $n "$KA_IMPL" "{$kacmd}" "$c"
}

ka_v3_sll_conf() {
  cat >"$1" <<'EOF'
global_defs {
  router_id node-a
}
vrrp_instance VI_66 {
  state BACKUP
  interface eth0
  version 3
  virtual_router_id 66
  priority 150
  advert_int 1
  virtual_ipaddress {
    192.0.2.66/24
  }
}
EOF
}

v_ka_v3_sll() { # two captures of one keepalived run: -i any (tcpdump's default: LINUX_SLL2), -y LINUX_SLL
  local n=ka-v3-ipv4-sll c=$RUN/ka-v3-ipv4-sll-a.conf
  ka_v3_sll_conf "$c"
  ka_start lab-a "$c" "$n-a"; local ka=$LAST_PID
  wait_addr lab-a 192.0.2.66 15 || log "$n: no VIP"
  sleep 1.5
  cap any "$OUT/ka-v3-ipv4-sll.pcap" "$FILT4" 4;                 cap_wait 10
  cap any "$OUT/ka-v3-ipv4-sll-v1.pcap" "$FILT4" 4 -y LINUX_SLL;  cap_wait 10
  stop_pid "$ka" TERM 5
  vip_clean lab-a
  for v in ka-v3-ipv4-sll ka-v3-ipv4-sll-v1; do
    producer $v "$KA_IMPL" "{$kacmd}" "$c"
  done
}

v_ka_v3_ipv6_pcapng() {
  local n=ka-v3-ipv6-pcapng c=$RUN/ka-v3-ipv6-pcapng-a.conf
  cat >"$c" <<'EOF'
global_defs {
  router_id node-a
}
vrrp_instance VI_72 {
  state BACKUP
  interface eth0
  version 3
  virtual_router_id 72
  priority 130
  advert_int 1
  virtual_ipaddress {
    fd00::72/64
  }
}
EOF
  ka_start lab-a "$c" "$n-a"; local ka=$LAST_PID
  wait_addr lab-a fd00::72 15 || log "$n: no VIP"
  sleep 1.5
  rm -f "$OUT/$n.pcapng"
  # dumpcap writes pcapng natively
  bg_ns lab-obs "$RUN/$n.dumpcap.log" dumpcap -q -i eth0 -s 0 -c 4 -f 'ip6 proto 112' -w "$OUT/$n.pcapng"
  CAP_PID=$LAST_PID
  cap_wait 12
  stop_pid "$ka" TERM 5
  vip_clean lab-a
  producer $n "$KA_IMPL" "{$kacmd}" "$c"
}

v_ka_v2_owner() {
  local n=ka-v2-ipv4-prio255-owner c=$RUN/ka-v2-ipv4-prio255-owner-a.conf
  cat >"$c" <<'EOF'
global_defs {
  router_id node-a
}
vrrp_instance VI_55 {
  state MASTER
  interface eth0
  version 2
  virtual_router_id 55
  priority 255
  advert_int 1
  mcast_src_ip 192.0.2.1
  virtual_ipaddress {
    192.0.2.1/24
  }
}
EOF
  rm -f "$OUT/$n.pcap"
  # keepalived 2.2.7 does not count an address that is also a VIP as the
  # interface's IPv4 address: with 192.0.2.1 alone it goes to FAULT ("no IPv4
  # address for interface") and deletes 192.0.2.1. A second address in another
  # subnet keeps the interface usable; mcast_src_ip pins the source to 192.0.2.1.
  ip -n lab-a addr add 198.51.100.1/24 dev eth0
  # capture from start-up: the owner goes master at once
  cap eth0 "$OUT/$n.pcap" "$FILT4 or arp" 10
  ka_start lab-a "$c" "$n-a"; local ka=$LAST_PID
  cap_wait 15
  stop_pid "$ka" TERM 5
  # keepalived removes the VIP (= node A's own address) on stop: put it back
  has_addr lab-a 192.0.2.1 || ip -n lab-a addr add 192.0.2.1/24 dev eth0
  ip -n lab-a addr del 198.51.100.1/24 dev eth0 2>/dev/null || true
  producer $n "$KA_IMPL" "{$kacmd}" "$c"
}

ucarp_single() { # NAME VHID PASS VIP
  local n=$1 vhid=$2 pass=$3 vip=$4
  local args=(--interface=eth0 --srcip=192.0.2.1 --vhid="$vhid" --pass="$pass" --addr="$vip" --advbase=1 --advskew=0 --upscript="$UP" --downscript="$DOWN" --shutdown)
  ucarp_start lab-a "$n-a" "${args[@]}"; local u=$LAST_PID
  if wait_addr lab-a "$vip" 8; then
    sleep 0.5
    cap eth0 "$OUT/$n.pcap" "$FILT4" 4; cap_wait 10
  else
    log "$n: ucarp never became master"; sed -n 1,20p "$RUN/$n-a.log" >&2
  fi
  stop_pid "$u" TERM 5
  vip_clean lab-a
  producer $n "$UC_IMPL" "$(python3 -c 'import json,sys; print(json.dumps({"node A": "ucarp " + " ".join(a.replace(sys.argv[1], "ucarp-vip-up.sh").replace(sys.argv[2], "ucarp-vip-down.sh") for a in sys.argv[3:])}))' "$UP" "$DOWN" "${args[@]}")"
}

PASS30=abcdefghijklmnopqrstuvwxyz0123
PASS70=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-=_!@#$
v_ucarp_pass30() { ucarp_single ucarp-pass30 12 "$PASS30" 192.0.2.132; }
v_ucarp_pass70() { ucarp_single ucarp-pass70 13 "$PASS70" 192.0.2.133; }
v_ucarp_pass19() { ucarp_single ucarp-pass19 14 "${PASS30:0:19}" 192.0.2.134; }

v_ucarp_pair_advskew() {
  local n=ucarp-pair-advskew
  local a=(--interface=eth0 --srcip=192.0.2.1 --vhid=15 --pass=skewpass --addr=192.0.2.135 --advbase=2 --advskew=50 --upscript="$UP" --downscript="$DOWN" --shutdown)
  local b=(--interface=eth0 --srcip=192.0.2.2 --vhid=15 --pass=skewpass --addr=192.0.2.135 --advbase=1 --advskew=100 --upscript="$UP" --downscript="$DOWN" --shutdown)
  cap eth0 "$OUT/$n.pcap" "$FILT4 or arp" 12
  ucarp_start lab-a "$n-a" "${a[@]}"; local pa=$LAST_PID
  ucarp_start lab-b "$n-b" "${b[@]}"; local pb=$LAST_PID
  cap_wait 25
  stop_pid "$pa" TERM 5; stop_pid "$pb" TERM 5
  vip_clean lab-a; vip_clean lab-b
  producer $n "$UC_IMPL" "$(python3 -c 'import json,sys; n=int(sys.argv[3]); f=lambda v: "ucarp " + " ".join(x.replace(sys.argv[1], "ucarp-vip-up.sh").replace(sys.argv[2], "ucarp-vip-down.sh") for x in v); print(json.dumps({"node A": f(sys.argv[4:4+n]), "node B": f(sys.argv[4+n:])}))' "$UP" "$DOWN" "${#a[@]}" "${a[@]}" "${b[@]}")"
}

for v in "$@"; do "v_$v"; done
# tcpdump drops privileges and leaves its files owned by user tcpdump
chown root:root "$OUT"/*.pcap "$OUT"/*.pcapng 2>/dev/null || true
chmod 644 "$OUT"/*.pcap "$OUT"/*.pcapng 2>/dev/null || true
