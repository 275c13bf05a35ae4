#!/usr/bin/env bash
# The tunnel benchmark, from a fresh clone: installs what it needs (nginx, wrk, curl, gnuplot, h2load),
# builds the jar, and measures the tunnel against nginx direct in one run. Results go to
# bench/results/ (latest.md, latest.json, latest.png). Pass --quick for a short smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for tool in nginx:nginx-light wrk:wrk curl:curl gnuplot:gnuplot-nox h2load:nghttp2-client; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${tool%%:*}" ] || need+=("${tool##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# 10,000 idle streams and 1,000 tunnels need file descriptors.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
[ -f target/spdy-proxy.jar ] && [ -z "$(find src pom.xml -newer target/spdy-proxy.jar -print -quit)" ] \
  || mvn -B -q package -DskipTests
exec java -Xmx2g ${BENCH_OPTS:-} -jar target/spdy-proxy.jar bench "$@"
