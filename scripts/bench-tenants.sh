#!/usr/bin/env bash
# The tenant-scale benchmark (issue #19; not part of the test run): starts Azurite on 127.0.0.1:10600-10602,
# registers T tenants (10 % active today, 1 % on each earlier day of the month), runs each timer (which only enqueues),
# the queue work items it fans out to and the root queries, and prints per run the storage requests, entities read,
# time and failed requests. Usage: scripts/bench-tenants.sh [tenants, default 1000,10000] [output markdown file]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tenants=${1:-1000,10000}
out=${2:-}

npm ci --no-audit --no-fund --loglevel=error
dotnet build bench/Keybrake.TenantBench -c Release --verbosity quiet --nologo

blob=${KEYBRAKE_BENCH_AZURITE_PORT:-10600}
work=$(mktemp -d)
export NODE_OPTIONS=--max-old-space-size=8192
azurite_pid=$(scripts/azurite.sh "$blob" $((blob + 1)) $((blob + 2)) "$work/azurite.log")
trap 'kill "$azurite_pid" 2>/dev/null || true; wait "$azurite_pid" 2>/dev/null || true' EXIT

storage="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;QueueEndpoint=http://127.0.0.1:$((blob + 1))/devstoreaccount1;TableEndpoint=http://127.0.0.1:$((blob + 2))/devstoreaccount1;"
KEYBRAKE_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown) \
  dotnet bench/Keybrake.TenantBench/bin/Release/net10.0/Keybrake.TenantBench.dll --storage "$storage" --tenants "$tenants" ${out:+--out "$out"}
