#!/usr/bin/env bash
# Starts Azurite on loopback in the background and waits until its table endpoint answers.
# Usage: scripts/azurite.sh <blob-port> <queue-port> <table-port> <log-file>; prints the PID.
# In memory unless AZURITE_LOCATION names a folder to keep the data in (scripts/run.sh does, by default).
set -euo pipefail
blob_port=$1 queue_port=$2 table_port=$3 log=$4
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${AZURITE_LOCATION:-}" ]; then
  mkdir -p "$AZURITE_LOCATION"
  persistence=(--location "$AZURITE_LOCATION")
else
  persistence=(--inMemoryPersistence)
fi

# A port already answering is someone else's Azurite (another test run or benchmark): the readiness probe below would
# reach it while this one fails to bind, and the two runs would share (and then lose) one storage. Refuse instead.
for port in "$blob_port" "$queue_port" "$table_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "Port $port on 127.0.0.1 is in use (another Azurite, test run or benchmark?): stop it, or move this run's ports" \
      "(KEYBRAKE_TEST_AZURITE_PORT, KEYBRAKE_BENCH_AZURITE_PORT)." >&2
    exit 1
  fi
done

"$root/node_modules/.bin/azurite" \
  --blobHost 127.0.0.1 --blobPort "$blob_port" \
  --queueHost 127.0.0.1 --queuePort "$queue_port" \
  --tableHost 127.0.0.1 --tablePort "$table_port" \
  "${persistence[@]}" --skipApiVersionCheck --disableTelemetry --loose \
  >"$log" 2>&1 &
pid=$!

for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$table_port") 2>/dev/null; then
    echo "$pid"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "Azurite exited early; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.2
done
echo "Azurite did not open port $table_port in 20 s; its log:" >&2
cat "$log" >&2
kill "$pid" 2>/dev/null || true
exit 1
