#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image (Ubuntu): it
# installs what grading needs and builds `grade` from the workbook's source, which
# make-autograder-zip put in the zip (Gradescope unpacks it in /autograder/source).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# python3: the examples and many students' programs; build-essential and curl: Rust.
apt-get install -y -qq --no-install-recommends python3 build-essential curl ca-certificates >/dev/null
if ! command -v cargo >/dev/null; then
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
fi
# shellcheck disable=SC1091
. "$HOME/.cargo/env"
cd /autograder/source
cargo build --locked --release --bin grade
install -m 0755 target/release/grade /usr/local/bin/grade
grade --version >/dev/null 2>&1 || grade --help >/dev/null
