#!/usr/bin/env bash
# Fetches the files of the GraphiQL page into assets/, at the versions pinned
# in package-lock.json (npm checks each tarball against the lock's integrity
# hash). The files are committed, so building orderflow never needs npm; run
# this only to change a version (edit package.json, `npm install
# --package-lock-only --ignore-scripts`, then this script).
#
#   graph/graphiql/vendor.sh          rewrite assets/
#   graph/graphiql/vendor.sh --check  fail if assets/ is not what the lock gives
#
# What is taken: graphiql's standalone (UMD) build, which bundles graphql,
# CodeMirror and the rest of its dependencies and expects React and ReactDOM
# as globals; React 18's UMD builds (React 19 ships none); each package's
# LICENSE beside its files; and the licenses of every package in the lock,
# since the bundle carries their code.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
check=false
case "${1:-}" in
  --check) check=true ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
command -v npm >/dev/null || { echo "vendor.sh: npm is needed (Debian: apt-get install npm)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

nm=$work/node_modules
out=$work/assets
mkdir -p "$out/graphiql" "$out/react" "$out/react-dom"
cp "$nm/graphiql/graphiql.min.js" "$nm/graphiql/graphiql.min.css" "$nm/graphiql/LICENSE" "$out/graphiql/"
cp "$nm/react/umd/react.production.min.js" "$nm/react/LICENSE" "$out/react/"
cp "$nm/react-dom/umd/react-dom.production.min.js" "$nm/react-dom/LICENSE" "$out/react-dom/"

# One file with the license of every package the lock resolves, in a stable
# order, for the code bundled into graphiql.min.js and react-dom's scheduler.
(cd "$work" && node -e '
const fs = require("fs"), path = require("path");
const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
const dirs = Object.keys(lock.packages).filter(p => p !== "").sort();
let text = "Licenses of the npm packages resolved by graph/graphiql/package-lock.json,\n" +
  "whose code the files in this directory bundle. Written by vendor.sh.\n";
for (const dir of dirs) {
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  const files = fs.readdirSync(dir).filter(f => /^(licen[sc]e|copying)/i.test(f)).sort();
  text += "\n==== " + pkg.name + "@" + pkg.version + " (" + (pkg.license || "no license field") + ") ====\n";
  text += files.length ? files.map(f => fs.readFileSync(path.join(dir, f), "utf8").trim()).join("\n\n") + "\n"
                       : "(the package ships no license file)\n";
}
fs.writeFileSync("assets/THIRD_PARTY_LICENSES", text);
')

if $check; then
  if ! diff -r "$out" "$here/assets" >/dev/null; then
    diff -rq "$out" "$here/assets" >&2 || true
    echo "graph/graphiql/assets differs from what package-lock.json gives: run graph/graphiql/vendor.sh" >&2
    exit 1
  fi
  echo "graph/graphiql/assets matches package-lock.json"
else
  rm -rf "$here/assets"
  cp -R "$out" "$here/assets"
  du -ab "$here/assets" | sort -k2
fi
