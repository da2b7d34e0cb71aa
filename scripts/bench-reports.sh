#!/usr/bin/env bash
# The month-report benchmark (not part of the test run): starts Azurite on 127.0.0.1:10500-10502, writes
# audit rows for one tenant over 30 days, times the month's spend report from audit rows and from rollups,
# and writes docs/report-benchmark.md. Usage: scripts/bench-reports.sh [rows, default 30000] [repeat, default 3]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rows=${1:-30000}
repeat=${2:-3}

npm ci --no-audit --no-fund --loglevel=error
dotnet build bench/Keybrake.ReportBench -c Release --verbosity quiet --nologo

blob=10500
work=$(mktemp -d)
# A million entities live in Azurite's memory: give Node room.
export NODE_OPTIONS=--max-old-space-size=12288
azurite_pid=$(scripts/azurite.sh "$blob" $((blob + 1)) $((blob + 2)) "$work/azurite.log")
trap 'kill "$azurite_pid" 2>/dev/null || true; wait "$azurite_pid" 2>/dev/null || true' EXIT

storage="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:$((blob + 2))/devstoreaccount1;"
KEYBRAKE_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown) \
  dotnet bench/Keybrake.ReportBench/bin/Release/net10.0/Keybrake.ReportBench.dll --storage "$storage" --rows "$rows" --repeat "$repeat" --out docs/report-benchmark.md
