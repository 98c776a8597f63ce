#!/usr/bin/env bash
# Builds the tandemd Debian package (docs/packaging.md): the release
# binary, its manual pages and shell completions generated from the command
# line definition, then the .deb with cargo-deb (`cargo install cargo-deb`).
# The package lands in target/debian/.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p tandem-node --bin tandemd
assets=target/deb-assets
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions"
target/release/tandemd man --dir "$assets/man" >/dev/null
target/release/tandemd completions bash >"$assets/completions/tandemd"
target/release/tandemd completions zsh >"$assets/completions/_tandemd"
target/release/tandemd completions fish >"$assets/completions/tandemd.fish"
cargo deb -p tandem-node --no-build "$@"
ls -l target/debian/*.deb
