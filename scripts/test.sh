#!/usr/bin/env bash
# The project's one test command: installs what the tests need, builds, runs every test project,
# and ends with one summary line "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."

results="${TEST_RESULTS_DIR:-$PWD/TestResults}"
rm -rf "$results"
mkdir -p "$results"
# The dashboard's browser tests save their screenshots under $TEST_RESULTS_DIR/screenshots.
export TEST_RESULTS_DIR="$results"

# Real dependencies of the tests, from Debian packages when this machine lacks them: Redis for the
# two-silo cluster test (the tests start their own redis-server on a free port), Chromium for the
# dashboard's browser tests (driven headless over the DevTools protocol).
need=()
sudo_cmd=""
[[ $(id -u) -eq 0 ]] || sudo_cmd="sudo"
command -v redis-server >/dev/null || need+=(redis-server)
[[ -x /usr/bin/chromium ]] || need+=(chromium)
if ((${#need[@]})); then
  echo "== installing ${need[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi
# kubectl: the deploy tests compare their kustomize renderer with `kubectl kustomize` (and fail, naming it,
# when it is missing). Debian 12 itself has no kubectl package; try the usual names, and leave the verdict to
# that test if none installs.
if ! command -v kubectl >/dev/null; then
  for package in kubectl kubernetes-client; do
    DEBIAN_FRONTEND=noninteractive ${sudo_cmd:-} apt-get install -y -qq "$package" >/dev/null 2>&1 && break || true
  done
fi

dotnet build Orchestrator.sln -c Release -nologo -v quiet

status=0
for project in tests/*.Tests/*.csproj; do
  name=$(basename "$project" .csproj)
  echo "== $name"
  dotnet test "$project" -c Release --no-build -nologo \
    --logger "trx;LogFileName=$name.trx" --results-directory "$results" || status=1
done

# One closing line across all projects, from the TRX files each run wrote. Plain bash (no python,
# no xmllint): CI may be a bare Debian with only the .NET SDK.

# Prints attribute $2 of the <Counters> element of TRX file $1, or 0 when it is missing (a run that
# crashed before writing its summary must not abort the script under set -e).
counter() {
  local content element attribute
  content=$(<"$1")
  element='<Counters[[:space:]][^>]*>'
  [[ $content =~ $element ]] || { echo 0; return; }
  element=${BASH_REMATCH[0]}
  # The leading space keeps "passed" from matching "passedButRunAborted".
  attribute="[[:space:]]$2=\"([0-9]+)\""
  if [[ $element =~ $attribute ]]; then echo "${BASH_REMATCH[1]}"; else echo 0; fi
}

passed=0 failed=0 skipped=0
for trx in "$results"/*.trx; do
  [[ -f $trx ]] || continue
  passed=$((passed + $(counter "$trx" passed)))
  failed=$((failed + $(counter "$trx" failed) + $(counter "$trx" error)))
  skipped=$((skipped + $(counter "$trx" notExecuted)))
done
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
