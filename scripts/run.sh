#!/usr/bin/env bash
# The run command: starts Azurite and the app on http://localhost:7071 with src/Functions/local.settings.json
# (created from local.settings.sample.json, with a fresh root token, on first run).
# Uses `func start` when Azure Functions Core Tools is installed, else the development host.
# Options: --sandbox (loopback fake Stripe/Twilio/Resend, no vendor accounts needed), --devhost (skip func),
# --functions-host (the real Functions host built from ../shared/functions-host instead of func or the development host),
# --in-memory (Azurite keeps nothing: by default its data lives in .azurite/data and survives a restart).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

settings=src/Functions/local.settings.json
if [ ! -f "$settings" ]; then
  token="kbroot_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  sed "s/__GENERATED_BY_SCRIPTS_RUN__/$token/" local.settings.sample.json >"$settings"
  echo "Created $settings with a new root operator token."
fi

# Settings added to the sample since this local.settings.json was made (e.g. the timer schedules, without which the
# Functions host will not index a timer) are copied in; values already there are kept.
python3 - "$settings" local.settings.sample.json <<'PY'
import json, sys
local_path, sample_path = sys.argv[1], sys.argv[2]
local, sample = json.load(open(local_path)), json.load(open(sample_path))
values = local.setdefault("Values", {})
added = [k for k in sample.get("Values", {}) if k not in values and k != "Secrets__keybrake-root-token"]
for key in added:
    values[key] = sample["Values"][key]
if added:
    json.dump(local, open(local_path, "w"), indent=2)
    print("Added to %s from the sample: %s" % (local_path, ", ".join(added)))
PY

# Azurite, and esbuild + Chart.js for the dashboard bundle the build makes.
{ [ -x node_modules/.bin/azurite ] && [ -x node_modules/.bin/esbuild ] && [ -d node_modules/chart.js ]; } || npm ci --no-audit --no-fund --loglevel=error
use_func=1 in_memory=0 real_host=0 args=()
for arg in "$@"; do
  case "$arg" in
    --sandbox|--devhost) use_func=0; args+=("$arg") ;;
    --functions-host) real_host=1 ;;
    --in-memory) in_memory=1 ;;
    *) args+=("$arg") ;;
  esac
done

mkdir -p .azurite
if [ "$in_memory" = 1 ]; then
  azurite_pid=$(scripts/azurite.sh 10000 10001 10002 .azurite/azurite.log)
  echo "Azurite running on 127.0.0.1:10000-10002 (in memory; data is gone when this stops)."
else
  azurite_pid=$(AZURITE_LOCATION="$root/.azurite/data" scripts/azurite.sh 10000 10001 10002 .azurite/azurite.log)
  echo "Azurite running on 127.0.0.1:10000-10002 (data in .azurite/data, kept across restarts; --in-memory to keep nothing)."
fi
trap 'kill "$azurite_pid" 2>/dev/null || true' EXIT

if [ "$real_host" = 1 ]; then
  dotnet build src/Functions --configuration Debug --verbosity quiet
  bash "$root/../shared/functions-host/start.sh" src/Functions/bin/Debug/net10.0 7071 "$settings"
elif [ "$use_func" = 1 ] && command -v func >/dev/null 2>&1; then
  cd src/Functions
  func start --port 7071
else
  dotnet run --project src/DevHost -- --settings "$root/$settings" --urls http://localhost:7071 "${args[@]}"
fi
