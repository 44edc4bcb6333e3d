#!/usr/bin/env bash
# Runs a command with another major version of Node.js first on PATH, e.g. `scripts/with-node.sh 22 npm test`.
# The binary is the node-<os>-<arch> package from the npm registry (the one the `node` package
# installs), so it comes from where the project's dependencies come from, not from nodejs.org.
# Kept in node_modules/.cache/node-<major>/ until the next `npm ci`.
set -euo pipefail
major="${1:?usage: scripts/with-node.sh <major> <command...>}"
shift
cd "$(dirname "$0")/.."
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "no Node.js package for $(uname -m)" >&2; exit 2 ;;
esac
os=$(uname -s | tr '[:upper:]' '[:lower:]')
dir="node_modules/.cache/node-$major"
if [ ! -x "$dir/bin/node" ]; then
  work=$(mktemp -d)
  (cd "$work" && npm pack --silent "node-$os-$arch@$major" >/dev/null)
  mkdir -p "$work/unpacked"
  tar xzf "$work"/*.tgz -C "$work/unpacked" --strip-components=1
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  mv "$work/unpacked" "$dir"
  rm -rf "$work"
fi
PATH="$PWD/$dir/bin:$PATH" exec "$@"
