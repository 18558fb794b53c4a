#!/usr/bin/env bash
# Writes the token files that k8s/base/kustomization.yaml's secretGenerator reads: the Jobs API token, the
# workers' join token and Grafana's admin password, 256 random bits each, in k8s/base/secrets/ (ignored by
# git). Existing files are kept, so re-running never rotates a deployed token; --force replaces them.
# Usage: k8s/generate-secrets.sh [--force] [DIRECTORY]
set -euo pipefail
force=false
if [[ ${1:-} == --force ]]; then force=true; shift; fi
dir=${1:-"$(dirname "$0")/base/secrets"}
mkdir -p "$dir"
umask 077
for name in api-token join-token grafana-admin-password; do
  file="$dir/$name"
  if [[ -s $file && $force == false ]]; then
    echo "kept      $file"
    continue
  fi
  # No trailing newline: the file's bytes are the secret's value.
  printf '%s' "$(head -c 32 /dev/urandom | base64 | tr -d '/+=\n')" >"$file"
  echo "generated $file"
done
