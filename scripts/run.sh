#!/usr/bin/env bash
# The run command: starts Azurite and the app on http://localhost:7071 with src/Functions/local.settings.json
# (created from local.settings.sample.json, with a fresh root token, on first run).
# Uses `func start` when Azure Functions Core Tools is installed, else the development host.
# Options: --sandbox (loopback fake Stripe/Twilio/Resend, no vendor accounts needed), --devhost (skip func).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

settings=src/Functions/local.settings.json
if [ ! -f "$settings" ]; then
  token="kbroot_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  sed "s/__GENERATED_BY_SCRIPTS_RUN__/$token/" local.settings.sample.json >"$settings"
  echo "Created $settings with a new root operator token."
fi

# Azurite, and esbuild + Chart.js for the dashboard bundle the build makes.
{ [ -x node_modules/.bin/azurite ] && [ -x node_modules/.bin/esbuild ] && [ -d node_modules/chart.js ]; } || npm ci --no-audit --no-fund --loglevel=error
mkdir -p .azurite
azurite_pid=$(scripts/azurite.sh 10000 10001 10002 .azurite/azurite.log)
trap 'kill "$azurite_pid" 2>/dev/null || true' EXIT
echo "Azurite running on 127.0.0.1:10000-10002 (in memory; data is gone when this stops)."

use_func=1
for arg in "$@"; do
  case "$arg" in --sandbox|--devhost) use_func=0 ;; esac
done

if [ "$use_func" = 1 ] && command -v func >/dev/null 2>&1; then
  cd src/Functions
  func start --port 7071
else
  dotnet run --project src/DevHost -- --settings "$root/$settings" --urls http://localhost:7071 "$@"
fi
