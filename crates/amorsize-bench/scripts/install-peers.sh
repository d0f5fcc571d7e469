#!/usr/bin/env bash
# Installs the programs the `vs_xargs` benchmark compares amorsize against (GNU parallel;
# xargs and gzip come with the base system). The bench's own setup: never run by CI.
set -euo pipefail
need=()
parallel --version 2>/dev/null | grep -q "GNU parallel" || need+=(parallel)
command -v xargs >/dev/null 2>&1 || need+=(findutils)
command -v gzip >/dev/null 2>&1 || need+=(gzip)
if [ ${#need[@]} -eq 0 ]; then
  echo "install-peers: parallel, xargs and gzip are present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
# GNU parallel asks for a citation once; silence it for benchmark runs.
mkdir -p "$HOME/.parallel" && touch "$HOME/.parallel/will-cite"
echo "install-peers: installed ${need[*]}"
