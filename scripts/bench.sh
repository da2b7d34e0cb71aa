#!/usr/bin/env bash
# The benchmark command: installs what it needs (`npm ci` for Azurite, a Release build of bench/Keybrake.Bench),
# starts Azurite on private loopback ports, runs the benchmark, stops Azurite. Everything else (the fake Stripe,
# a bare YARP forwarder, two Keybrake hosts) runs inside the benchmark process on loopback.
#   scripts/bench.sh            macro run + micro-benchmarks, written to docs/benchmarks.md (about 10 minutes)
#   scripts/bench.sh --quick    a smoke test with tiny counts, written to a temporary file (or --out FILE)
#   scripts/bench.sh --micro    only the BenchmarkDotNet micro-benchmarks;  --no-micro  only the macro run
#   scripts/bench.sh --micro --micro-classes pipeline   only these micro-benchmark classes, of: hotpath, pipeline
#   scripts/bench.sh --scenarios tenancy,ownership   only these parts of the macro run, of: proxy (the four scenarios),
#                               counts, contention, tenancy (hot tenant / 8 tenants, 1-2 instances, +0/+5 ms storage), ownership
# KEYBRAKE_BENCH_AZURITE_PORT moves Azurite's ports (blob, blob+1, blob+2; default 10300-10302).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

npm ci --no-audit --no-fund --loglevel=error
dotnet build bench/Keybrake.Bench/Keybrake.Bench.csproj --configuration Release --verbosity quiet --nologo -clp:ErrorsOnly

blob=${KEYBRAKE_BENCH_AZURITE_PORT:-10300} queue=$((blob + 1)) table=$((blob + 2))
work=$(mktemp -d)
azurite_pid=$(scripts/azurite.sh "$blob" "$queue" "$table" "$work/azurite.log")
trap 'kill "$azurite_pid" 2>/dev/null || true; wait "$azurite_pid" 2>/dev/null || true' EXIT
# The soak prints Azurite's resident memory beside the proxy's: a storage emulator that grows is a finding too.
export KEYBRAKE_BENCH_AZURITE_PID=$azurite_pid

storage="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$blob/devstoreaccount1;QueueEndpoint=http://127.0.0.1:$queue/devstoreaccount1;TableEndpoint=http://127.0.0.1:$table/devstoreaccount1;"
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench || echo "+uncommitted")

dotnet bench/Keybrake.Bench/bin/Release/net10.0/Keybrake.Bench.dll --storage "$storage" --commit "$commit" "$@"
