#!/usr/bin/env bash
# Lab bootstrap: a Docker engine, Redis, the engine images and the Python environment.
# Idempotent and fast when nothing changed. Honors DOCKER_HOST and REDIS_URL when set.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${DBAAS_STATE_DIR:-$ROOT/.var}"
(umask 077 && mkdir -p "$STATE/log")
log() { printf '[lab] %s\n' "$*"; }
die() { printf '[lab] error: %s\n' "$*" >&2; exit 1; }

APT_UPDATED=0
apt_install() {
  [ "$(id -u)" = 0 ] || die "need root to install $* (or provide it yourself)"
  command -v apt-get >/dev/null || die "no apt-get: install $* yourself"
  if [ "$APT_UPDATED" = 0 ]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

docker_answers() { timeout 10 docker info >/dev/null 2>&1; }

ensure_docker() {
  if docker_answers; then log "docker: engine answers"; return; fi
  if [ -n "${DOCKER_HOST:-}" ]; then die "DOCKER_HOST=$DOCKER_HOST does not answer"; fi
  command -v dockerd >/dev/null || { log "docker: installing docker.io"; apt_install docker.io; }
  command -v docker >/dev/null || die "no docker client"
  [ "$(id -u)" = 0 ] || die "no Docker engine answers and starting dockerd needs root"
  start_dockerd
}

start_dockerd() {
  log "docker: starting dockerd"
  # Small /24 subnets from a large pool: one network per instance, hundreds of instances.
  nohup dockerd --default-address-pool base=172.30.0.0/16,size=24 \
    >>"$STATE/log/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do docker_answers && { log "docker: engine answers"; return; }; sleep 1; done
  die "dockerd did not answer within 60 s (see $STATE/log/dockerd.log)"
}

# The fault tests restart the engine and Redis the way a host would (only those started here).
restart_docker() {
  [ -z "${DOCKER_HOST:-}" ] || die "DOCKER_HOST is set: not restarting someone else's engine"
  pkill -TERM -x dockerd || true
  for _ in $(seq 1 60); do pgrep -x dockerd >/dev/null || break; sleep 0.5; done
  start_dockerd
}

restart_redis() {
  [ -z "${REDIS_URL:-}" ] || die "REDIS_URL is set: not restarting someone else's Redis"
  redis-cli -h 127.0.0.1 -p 6379 shutdown nosave >/dev/null 2>&1 || true
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || break; sleep 0.2; done
  ensure_redis
}

ensure_redis() {
  if [ -n "${REDIS_URL:-}" ]; then log "redis: using REDIS_URL"; return; fi
  command -v redis-server >/dev/null || { log "redis: installing redis-server"; apt_install redis-server; }
  if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    log "redis: answers on 127.0.0.1:6379"; return
  fi
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save '' --appendonly no \
    --logfile "$STATE/log/redis.log"
  for _ in $(seq 1 30); do
    redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG && { log "redis: started"; return; }
    sleep 0.5
  done
  die "redis-server did not answer"
}

ensure_host_tools() {
  local missing=()
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
  command -v losetup >/dev/null || missing+=(mount)
  command -v curl >/dev/null || missing+=(curl)
  command -v wrk >/dev/null || missing+=(wrk)   # bench/api_load.py's HTTP load
  # tests/swarm: network namespaces, veths and a daemon per namespace (deploy/swarm_lab.py)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v nsenter >/dev/null || missing+=(util-linux)
  # tests/browser: Debian's headless Chromium, driven by Playwright (its own download is unused)
  command -v chromium >/dev/null || missing+=(chromium chromium-driver)
  if [ "${#missing[@]}" -gt 0 ]; then log "installing ${missing[*]}"; apt_install "${missing[@]}"; fi
}

ensure_venv() {
  local venv="$ROOT/.venv" stamp
  stamp="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.dbaas-stamp" 2>/dev/null)" = "$stamp" ]; then
    log "python: venv up to date"; return
  fi
  command -v python3 >/dev/null || apt_install python3 python3-venv
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  log "python: installing the project and its dependencies"
  "$venv/bin/pip" install -q --disable-pip-version-check -e "$ROOT[dev]"
  echo "$stamp" >"$venv/.dbaas-stamp"
}

# The official JavaScript SDK for tests/e2e/test_js_sdk.py, exactly as tests/js/package-lock.json
# pins it (npm ci), again only when the lock file or node changed.
ensure_js_sdk() {
  local dir="$ROOT/tests/js" stamp
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "node: installing nodejs and npm"; apt_install nodejs npm
  fi
  stamp="$( (cat "$dir/package-lock.json"; node --version) | sha256sum | cut -c1-16)"
  if [ "$(cat "$dir/node_modules/.dbaas-stamp" 2>/dev/null)" = "$stamp" ]; then
    log "js sdk: node modules up to date"; return
  fi
  log "js sdk: npm ci"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$stamp" >"$dir/node_modules/.dbaas-stamp"
}

case "${1:-}" in
  restart-docker) restart_docker; exit 0 ;;
  restart-redis) restart_redis; exit 0 ;;
  js-sdk) ensure_js_sdk; exit 0 ;;
  "") ;;
  *) die "usage: deploy/lab.sh [restart-docker|restart-redis|js-sdk]" ;;
esac
ensure_host_tools
ensure_docker
ensure_redis
ensure_venv
ensure_js_sdk
"$ROOT/deploy/images/build.sh"
