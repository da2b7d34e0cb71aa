#!/usr/bin/env bash
# The test command: installs what the tests need (npm packages unless current, NuGet restore), starts Azurite on private loopback ports,
# runs every test project in the solution, stops Azurite. Extra arguments go to `dotnet test`
# (e.g. scripts/test.sh --filter FullyQualifiedName~Keys).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

work=$(mktemp -d)

# One C# compiler server for every project of the build and for the package test's publish, instead of a fresh
# compiler (and its JIT warm-up) per project where the environment turns the server off (UseSharedCompilation=false
# here): a clean build of the solution took 63 s with it against 96 s without. Shut down on the way out, so nothing
# this command started outlives it.
export UseSharedCompilation=true
azurite_pid=
npm_pid=
cleanup() {
  [ -z "$npm_pid" ] || kill "$npm_pid" 2>/dev/null || true
  if [ -n "$azurite_pid" ]; then
    kill "$azurite_pid" 2>/dev/null || true
    wait "$azurite_pid" 2>/dev/null || true
  fi
  dotnet build-server shutdown --vbcscompiler >/dev/null 2>&1 || true
}
trap cleanup EXIT

# npm writes node_modules/.package-lock.json last on every install: newer than the lockfile means the install is
# current (the same rule the Functions build uses), and nothing is installed. The Functions build installs only the
# bundle's "dependencies" (`npm ci --omit=dev`), which is current too but lacks the devDependencies the tests need
# (Azurite, the vendors' SDKs): hence the check for Azurite. The build needs only the bundle's packages (a few MB,
# seconds), the tests the rest (250 MB, about 20 s): those are added beside the NuGet restore and the build, and the
# tests wait for them. `npm install` with the lockfile only adds what is missing, so the esbuild the build runs meanwhile
# stays in place; --no-save leaves package.json and the lockfile as they are.
if [ ! node_modules/.package-lock.json -nt package-lock.json ] || [ ! node_modules/.package-lock.json -nt package.json ] ||
  [ ! -x node_modules/.bin/azurite ]; then
  npm ci --omit=dev --no-audit --no-fund --loglevel=error
  npm install --no-save --no-audit --no-fund --loglevel=error >"$work/npm.log" 2>&1 &
  npm_pid=$!
fi
dotnet restore Serverless.sln --verbosity quiet

# The real Azure Functions host (built from source; Core Tools cannot be installed here) runs the black-box
# suite (tests/Keybrake.Tests/Hosts). It lives in the planning repository's shared/ beside this checkout; its
# build is cached per machine under ${XDG_CACHE_HOME:-~/.cache}/functions-host (about a minute the first time).
functions_host="$root/../shared/functions-host"
if [ -f "$functions_host/build.sh" ]; then
  bash "$functions_host/build.sh" >/dev/null
else
  echo "warning: $functions_host is missing: the real-host tests will fail." >&2
fi

set +e
# Build first, then run every test assembly at once (-m:6). Built and run in one pass, a test project's run holds
# its MSBuild node: Keybrake.Tests (the longest) could wait to be built until Infra.Tests' clone-and-publish
# fixture had finished, and their times added up. The benchmark projects build here too (a change that breaks one
# fails this command) but are not run. As leaves of the build they mostly fill a core while the test projects wait
# for their references: a fresh-clone build without them took 81 s against 86 s with them, and building them beside
# the tests instead only moved their ~40 s of CPU into the test run, which is short of cores already.
started=$SECONDS
dotnet build Serverless.sln --no-restore --configuration Release -nologo 2>&1 | tee "$work/build.log"
status=${PIPESTATUS[0]}
built=$SECONDS
if [ "$status" -eq 0 ] && [ -n "$npm_pid" ]; then
  if ! wait "$npm_pid"; then
    cat "$work/npm.log" >&2
    echo "test.sh: npm install of the test tooling failed" >&2
    status=1
  fi
  npm_pid=
fi
set -e
[ "$status" -eq 0 ] || exit "$status"

# Ports apart from the run command's 10000-10002, so tests can run while a dev Azurite is up;
# KEYBRAKE_TEST_AZURITE_PORT moves them (blob, blob+1, blob+2) so two checkouts can test at once.
blob=${KEYBRAKE_TEST_AZURITE_PORT:-10100} queue=$((blob + 1)) table=$((blob + 2))
azurite_pid=$(scripts/azurite.sh "$blob" "$queue" "$table" "$work/azurite.log")

export KEYBRAKE_TEST_STORAGE="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$blob/devstoreaccount1;QueueEndpoint=http://127.0.0.1:$queue/devstoreaccount1;TableEndpoint=http://127.0.0.1:$table/devstoreaccount1;"

set +e
ready=$SECONDS
dotnet test Serverless.sln --no-build --configuration Release -m:6 "$@" 2>&1 | tee "$work/test.log"
status=${PIPESTATUS[0]}
set -e
echo "test.sh: install and restore $started s, build $((built - started)) s, npm and Azurite $((ready - built)) s more, tests $((SECONDS - ready)) s"

# One closing line over all test projects, in the plain form CI reads.
awk '/(Passed|Failed)! +- +Failed: +[0-9]+, Passed: +[0-9]+/ {
       gsub(",", ""); for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$work/test.log"
exit "$status"
