#!/usr/bin/env bash
# The soak command (not a test): proxied calls over 10,000 keys in 100 tenants, through the in-memory path and then
# through Azurite, printing working set and managed heap (after a full collection) every --every calls.
#   scripts/soak.sh                          1,000,000 calls per path, a line every 100,000 (hours on Azurite here)
#   scripts/soak.sh --calls 50000 --every 5000 [--paths memory]   fewer calls; one path only (memory or azurite)
#   scripts/soak.sh --azurite-growth --entities 300000 --every 25000   Azurite alone: its insert rate as one table grows
# The benchmark command's setup (npm ci, Release build, Azurite on KEYBRAKE_BENCH_AZURITE_PORT) with --soak.
set -euo pipefail
exec "$(dirname "$0")/bench.sh" --soak "$@"
