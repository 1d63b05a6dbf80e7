#!/usr/bin/env bash
# Rebuilds sip.js, the phone page's SIP stack: SIP.js from npm, pinned,
# bundled into one ES module with esbuild, also pinned. Needs node and npm;
# the result is committed, so neither the demo nor the tests need them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SIPJS=0.21.2
ESBUILD=0.25.12
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --save-exact "sip.js@$SIPJS" "esbuild@$ESBUILD" >/dev/null
cat > entry.js <<'JS'
export { UserAgent, Registerer, Inviter, SessionState, RegistererState, Web } from "sip.js";
JS
{
  echo "/* SIP.js $SIPJS (MIT, see sip.js.LICENSE), bundled by api/web/vendor/build.sh with esbuild $ESBUILD. */"
  node_modules/.bin/esbuild entry.js --bundle --format=esm --minify --legal-comments=none --log-level=warning
} > "$here/sip.js"
cp node_modules/sip.js/LICENSE.md "$here/sip.js.LICENSE"
sha256sum "$here/sip.js" | sed "s|$here/||"
