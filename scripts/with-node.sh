#!/usr/bin/env bash
# Runs a command with another major version of Node.js first on PATH, e.g. `scripts/with-node.sh 22 npm test`.
# The binary is the node-<os>-<arch> package from the npm registry (the one the `node` package
# installs), so it comes from where the project's dependencies come from, not from nodejs.org.
# Kept in node_modules/.cache/node-<major>/ (the first 22.x fetched) until the next `npm ci`.
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
  trap 'rm -rf "$work"' EXIT
  # npm's own message says why when the registry cannot be reached.
  (cd "$work" && npm pack --loglevel=error "node-$os-$arch@$major" >/dev/null)
  mkdir "$work/unpacked"
  tar xzf "$work"/*.tgz -C "$work/unpacked" --strip-components=1
  mkdir -p "$(dirname "$dir")"
  # Another run may have put its copy in place meanwhile (and be using it): that one stays.
  [ -x "$dir/bin/node" ] || rm -rf "$dir"
  mv -T "$work/unpacked" "$dir" 2>/dev/null || [ -x "$dir/bin/node" ]
  rm -rf "$work"
  trap - EXIT
fi
PATH="$PWD/$dir/bin:$PATH" exec "$@"
