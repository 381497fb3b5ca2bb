#!/usr/bin/env bash
# switch.sh COLOUR: move nginx's traffic to COLOUR (blue or green).
#
#   1. COLOUR's first node (upstreams.conf) must answer 200 on /readyz
#      (READY_TRIES tries, a second apart); else nothing changes (exit 1).
#   2. active.conf is pointed at active-COLOUR.conf (atomic rename) and
#      `nginx -t` must pass, then nginx reloads; when either fails, the old
#      colour is restored (exit 1).
#   3. For WATCH_SECONDS the new colour's /readyz is asked every
#      WATCH_INTERVAL seconds; after WATCH_FAILS failures in a row traffic goes
#      back to the old colour (exit 2).
# Exit 0: COLOUR serves. Only nginx, curl and coreutils are needed.
#
# Environment: NGINX (default nginx), NGINX_PREFIX (nginx -p, default: the
# nginx default), READY_TRIES (30), WATCH_SECONDS (60), WATCH_INTERVAL (2),
# WATCH_FAILS (3), CURL_TIMEOUT (2).
set -euo pipefail

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
conf="$dir/nginx.conf"
NGINX=${NGINX:-nginx}
READY_TRIES=${READY_TRIES:-30}
WATCH_SECONDS=${WATCH_SECONDS:-60}
WATCH_INTERVAL=${WATCH_INTERVAL:-2}
WATCH_FAILS=${WATCH_FAILS:-3}
CURL_TIMEOUT=${CURL_TIMEOUT:-2}

log() { echo "switch.sh: $*" >&2; }

nginx_cmd() {
  if [ -n "${NGINX_PREFIX:-}" ]; then
    "$NGINX" -p "$NGINX_PREFIX" -c "$conf" "$@"
  else
    "$NGINX" -c "$conf" "$@"
  fi
}

# addr_of COLOUR: the first server of upstream paygate_COLOUR.
addr_of() {
  awk -v u="paygate_$1" '$1 == "upstream" && $2 == u { f = 1 } f && $1 == "server" { sub(/;$/, "", $2); print $2; exit }' "$dir/upstreams.conf"
}

# ready ADDR: /readyz of the node at ADDR answers 200.
ready() {
  local code
  code=$(curl -s -o /dev/null -m "$CURL_TIMEOUT" -w '%{http_code}' "http://$1/readyz" || true)
  [ "$code" = 200 ]
}

# activate COLOUR: point active.conf at COLOUR, check, reload; on failure
# restore PREVIOUS and return 1.
activate() {
  local colour=$1 previous=$2
  ln -sfn "active-$colour.conf" "$dir/.active.conf.new"
  mv -Tf "$dir/.active.conf.new" "$dir/active.conf"
  if nginx_cmd -t -q && nginx_cmd -s reload; then
    return 0
  fi
  log "nginx -t or reload failed with $colour active: restoring $previous"
  ln -sfn "active-$previous.conf" "$dir/.active.conf.new"
  mv -Tf "$dir/.active.conf.new" "$dir/active.conf"
  nginx_cmd -t -q && nginx_cmd -s reload || log "restoring $previous failed too: check nginx now"
  return 1
}

main() {
  local new=${1:-}
  case "$new" in
    blue | green) ;;
    *) echo "usage: switch.sh blue|green" >&2; exit 64 ;;
  esac
  local current
  current=$(readlink "$dir/active.conf")
  current=${current#active-}
  current=${current%.conf}
  if [ "$current" = "$new" ]; then
    log "$new is already active"
    exit 0
  fi
  local addr
  addr=$(addr_of "$new")
  if [ -z "$addr" ]; then
    log "no server for paygate_$new in upstreams.conf"
    exit 1
  fi

  local i
  for ((i = 1; ; i++)); do
    if ready "$addr"; then break; fi
    if ((i >= READY_TRIES)); then
      log "$new ($addr) /readyz is not 200 after $READY_TRIES tries: $current stays active"
      exit 1
    fi
    sleep 1
  done

  log "$new ($addr) is ready: moving traffic from $current"
  activate "$new" "$current" || exit 1

  local fails=0 waited=0
  while ((waited < WATCH_SECONDS)); do
    sleep "$WATCH_INTERVAL"
    waited=$((waited + WATCH_INTERVAL))
    if ready "$addr"; then
      fails=0
      continue
    fi
    fails=$((fails + 1))
    log "$new ($addr) /readyz failed ($fails in a row)"
    if ((fails >= WATCH_FAILS)); then
      log "$new failed: moving traffic back to $current"
      activate "$current" "$new" || true
      exit 2
    fi
  done
  log "$new serves"
}

main "$@"
