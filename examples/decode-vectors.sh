#!/usr/bin/env bash
# Decodes every bundled capture of keepalived, FRRouting and ucarp with
# `tandemd decode`, giving CARP and IPsec-AH captures the password and
# virtual address that produced them (see the README beside the captures),
# so HMACs and ICVs are verified too.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p tandem-node
tandemd=target/debug/tandemd
dir=crates/tandem-wire/tests/vectors
for f in "$dir"/*.pcap "$dir"/extra/*.pcap "$dir"/extra/*.pcapng; do
  name=$(basename "${f%.*}")
  args=()
  case "$name" in
    ucarp-ipv4-pass) args=(--password carpkey1 --carp-address 192.0.2.130) ;;
    ucarp-pair-election) args=(--password pairpass --carp-address 192.0.2.131) ;;
    ucarp-pass19) args=(--password abcdefghijklmnopqrs --carp-address 192.0.2.134) ;;
    ucarp-pair-advskew) args=(--password skewpass --carp-address 192.0.2.135) ;;
    ka-v2-ipv4-auth-ah) args=(--password ahkey1) ;;
  esac
  echo "== $name ${args[*]}"
  "$tandemd" decode "$f" "${args[@]}"
done
