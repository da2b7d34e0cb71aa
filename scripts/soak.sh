#!/usr/bin/env bash
# The soak command (not a test): proxied calls over 10,000 keys in 100 tenants, through the in-memory path and then
# through Azurite, printing working set and managed heap (after a full collection) every --every calls.
#   scripts/soak.sh                          1,000,000 calls per path, a line every 100,000 (hours on Azurite here)
#   scripts/soak.sh --calls 50000 --every 5000 [--paths memory]   fewer calls; one path only (memory or azurite)
# Installs what it needs like scripts/bench.sh; KEYBRAKE_BENCH_AZURITE_PORT moves Azurite's ports (default 10300-10302).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

npm ci --no-audit --no-fund --loglevel=error
dotnet build bench/Keybrake.Bench/Keybrake.Bench.csproj --configuration Release --verbosity quiet --nologo -clp:ErrorsOnly

blob=${KEYBRAKE_BENCH_AZURITE_PORT:-10300} queue=$((blob + 1)) table=$((blob + 2))
work=$(mktemp -d)
azurite_pid=$(scripts/azurite.sh "$blob" "$queue" "$table" "$work/azurite.log")
trap 'kill "$azurite_pid" 2>/dev/null || true; wait "$azurite_pid" 2>/dev/null || true' EXIT

storage="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$blob/devstoreaccount1;QueueEndpoint=http://127.0.0.1:$queue/devstoreaccount1;TableEndpoint=http://127.0.0.1:$table/devstoreaccount1;"

dotnet bench/Keybrake.Bench/bin/Release/net10.0/Keybrake.Bench.dll --soak --storage "$storage" "$@"
