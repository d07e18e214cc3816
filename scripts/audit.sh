#!/usr/bin/env bash
# Known vulnerabilities in the locked dependencies (uv audit, OSV database). A finding fails;
# a machine that cannot reach the database says so loudly and does not block the build.
set -uo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-$(command -v uv || echo .local/uv/bin/uv)}
output=$("$UV" audit --frozen --preview-features audit 2>&1)
status=$?
echo "$output"
if [ $status -ne 0 ] && grep -qE "error sending request|dns error|Connect" <<<"$output"; then
  echo "!!! DEPENDENCY AUDIT SKIPPED: the vulnerability database (api.osv.dev) is unreachable here."
  exit 0
fi
exit $status
