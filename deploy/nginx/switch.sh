#!/usr/bin/env bash
# switch.sh COLOUR: move nginx's traffic to COLOUR (blue or green), gated.
#
#   1. COLOUR's first node (upstreams.conf) must answer 200 on /readyz
#      READY_OK times in a row (a second apart, READY_TRIES tries at most);
#      else nothing changes (exit 1).
#   2. active.conf is pointed at active-COLOUR.conf (atomic rename) and
#      `nginx -t` must pass, then nginx reloads; when either fails, the old
#      colour is restored (exit 1).
#   3. For WATCH_SECONDS the new colour is watched every WATCH_INTERVAL
#      seconds: its /readyz, and its /metrics (the upstream's "# metrics URL"
#      line in upstreams.conf, the node's server.admin_addr). From the deltas
#      between scrapes of paygate_http_requests_total and
#      paygate_http_request_duration_seconds_bucket, summed over routes, it
#      computes the 5xx share and the p99 of each window of at least
#      WATCH_MIN_REQUESTS requests. Traffic goes back to the old colour
#      (exit 2) when a window's 5xx share exceeds MAX_ERROR_RATE, its p99
#      exceeds MAX_P99 (seconds), or /readyz or /metrics fails WATCH_FAILS
#      times in a row.
# Exit 0: COLOUR serves. Only nginx, curl, gawk, sort and coreutils are
# needed.
#
# Environment: NGINX (default nginx), NGINX_PREFIX (nginx -p, default: the
# nginx default), READY_OK (3), READY_TRIES (30), WATCH_SECONDS (120),
# WATCH_INTERVAL (5), WATCH_FAILS (3), WATCH_MIN_REQUESTS (20),
# MAX_ERROR_RATE (0.01), MAX_P99 (1), CURL_TIMEOUT (2),
# ERRORS_SKIP (extended regex on "METHOD ROUTE" of requests left out of the
# error share; default the probes: ^GET /(healthz|readyz)$),
# LATENCY_SKIP (likewise for the p99; default the probes and POST
# /api/v1/orders, whose barcode payments wait up to 30 s for the buyer, as
# in the PaygateHighLatencyP99 alert).
set -euo pipefail

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
conf="$dir/nginx.conf"
NGINX=${NGINX:-nginx}
READY_OK=${READY_OK:-3}
READY_TRIES=${READY_TRIES:-30}
WATCH_SECONDS=${WATCH_SECONDS:-120}
WATCH_INTERVAL=${WATCH_INTERVAL:-5}
WATCH_FAILS=${WATCH_FAILS:-3}
WATCH_MIN_REQUESTS=${WATCH_MIN_REQUESTS:-20}
MAX_ERROR_RATE=${MAX_ERROR_RATE:-0.01}
MAX_P99=${MAX_P99:-1}
CURL_TIMEOUT=${CURL_TIMEOUT:-2}
ERRORS_SKIP=${ERRORS_SKIP:-'^GET /(healthz|readyz)$'}
LATENCY_SKIP=${LATENCY_SKIP:-'^(GET /(healthz|readyz)|POST /api/v1/orders)$'}

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

# metrics_of COLOUR: the URL on the "# metrics URL" line of upstream
# paygate_COLOUR.
metrics_of() {
  awk -v u="paygate_$1" '$1 == "upstream" && $2 == u { f = 1 } f && $1 == "}" { exit } f && $1 == "#" && $2 == "metrics" { print $3; exit }' "$dir/upstreams.conf"
}

# scrape URL FILE: the node's HTTP totals into FILE, one per line:
#   req N       requests (ERRORS_SKIP left out)
#   err N       of them answered 5xx
#   le BOUND N  requests (LATENCY_SKIP left out) answered within BOUND
#               seconds, cumulative; +Inf as 1e308
# Fails when /metrics does not answer 200.
scrape() {
  local body
  body=$(curl -sf -m "$CURL_TIMEOUT" "$1") || return 1
  printf '%s\n' "$body" | awk -v eskip="$ERRORS_SKIP" -v lskip="$LATENCY_SKIP" '
    function label(name,   m) {
      if (match($0, name "=\"[^\"]*\"")) return substr($0, RSTART + length(name) + 2, RLENGTH - length(name) - 3)
      return ""
    }
    /^paygate_http_requests_total\{/ {
      key = label("method") " " label("route")
      if (key ~ eskip) next
      req += $NF
      if (label("code") ~ /^5/) err += $NF
      next
    }
    /^paygate_http_request_duration_seconds_bucket\{/ {
      key = label("method") " " label("route")
      if (key ~ lskip) next
      le = label("le")
      if (le == "+Inf") le = "1e308"
      n[le + 0] += $NF
    }
    END {
      printf "req %.0f\nerr %.0f\n", req, err
      for (b in n) printf "le %s %.0f\n", b, n[b]
    }' >"$2"
}

# window BASE CUR: "N ERRORS SHARE P99" of the requests between two scrapes
# (all of CUR when a counter went down: the node restarted). The p99 is
# interpolated in its bucket as histogram_quantile does; 1e308 when it is
# beyond the last finite bucket; -1 when no request was timed.
window() {
  awk '
    FNR == 1 { file++ }
    file == 1 && $1 != "le" { base[$1] = $2 }
    file == 1 && $1 == "le" { bb[$2] = $3 }
    file == 2 && $1 != "le" { cur[$1] = $2 }
    file == 2 && $1 == "le" { cb[$2] = $3 }
    END {
      reset = cur["req"] < base["req"] || cur["err"] < base["err"]
      for (b in cb) if (cb[b] < bb[b] + 0) reset = 1
      if (reset) { delete base; delete bb }
      req = cur["req"] - base["req"]; err = cur["err"] - base["err"]
      nb = 0
      for (b in cb) { bound[++nb] = b + 0; cnt[b + 0] = cb[b] - bb[b] }
      # sort the bounds (insertion sort: a histogram has a few dozen)
      for (i = 2; i <= nb; i++) { v = bound[i]; for (j = i - 1; j > 0 && bound[j] > v; j--) bound[j + 1] = bound[j]; bound[j + 1] = v }
      total = nb ? cnt[bound[nb]] : 0
      p99 = -1
      if (total > 0) {
        rank = 0.99 * total; lo = 0; below = 0
        for (i = 1; i <= nb; i++) {
          c = cnt[bound[i]]
          if (c >= rank) {
            if (bound[i] >= 1e308) { p99 = 1e308; break }
            p99 = lo + (bound[i] - lo) * (c > below ? (rank - below) / (c - below) : 1)
            break
          }
          lo = bound[i]; below = c
        }
      }
      printf "%d %d %.4f %.4f\n", req, err, (req > 0 ? err / req : 0), p99
    }' "$1" "$2"
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

  local metrics
  metrics=$(metrics_of "$new")
  if [ -z "$metrics" ]; then
    log "no \"# metrics URL\" line for paygate_$new in upstreams.conf: $current stays active"
    exit 1
  fi

  local i ok=0
  for ((i = 1; ; i++)); do
    if ready "$addr"; then
      ok=$((ok + 1))
      if ((ok >= READY_OK)); then break; fi
    else
      ok=0
    fi
    if ((i >= READY_TRIES)); then
      log "$new ($addr) /readyz did not answer 200 $READY_OK times in a row in $READY_TRIES tries: $current stays active"
      exit 1
    fi
    sleep 1
  done
  tmp=$(mktemp -d) # global: the EXIT trap runs after main returns
  trap 'rm -rf "$tmp"' EXIT
  if ! scrape "$metrics" "$tmp/base"; then
    log "$new's $metrics does not answer: $current stays active"
    exit 1
  fi

  log "$new ($addr) is ready: moving traffic from $current"
  activate "$new" "$current" || exit 1

  local fails=0 waited=0 verdict
  while ((waited < WATCH_SECONDS)); do
    sleep "$WATCH_INTERVAL"
    waited=$((waited + WATCH_INTERVAL))
    verdict=""
    if ! ready "$addr"; then
      verdict="/readyz failed"
    elif ! scrape "$metrics" "$tmp/cur"; then
      verdict="$metrics failed"
    fi
    if [ -n "$verdict" ]; then
      fails=$((fails + 1))
      log "$new: $verdict ($fails in a row)"
      if ((fails >= WATCH_FAILS)); then
        rollback "$new" "$current" "$verdict $fails times in a row"
      fi
      continue
    fi
    fails=0
    local n errs share p99
    read -r n errs share p99 < <(window "$tmp/base" "$tmp/cur")
    if ((n < WATCH_MIN_REQUESTS)); then
      continue # too few requests to judge: the window grows
    fi
    log "$new: $n requests, $errs 5xx (share $share), p99 $(fmt_p99 "$p99")"
    if awk -v s="$share" -v m="$MAX_ERROR_RATE" 'BEGIN { exit !(s > m) }'; then
      rollback "$new" "$current" "5xx share $share > MAX_ERROR_RATE $MAX_ERROR_RATE"
    fi
    if awk -v p="$p99" -v m="$MAX_P99" 'BEGIN { exit !(p > m) }'; then
      rollback "$new" "$current" "p99 $(fmt_p99 "$p99") > MAX_P99 ${MAX_P99}s"
    fi
    mv "$tmp/cur" "$tmp/base"
  done
  log "$new serves"
}

# fmt_p99 P: seconds, or "beyond the last bucket", or "n/a".
fmt_p99() {
  awk -v p="$1" 'BEGIN { if (p >= 1e308) print "beyond the last bucket"; else if (p < 0) print "n/a"; else printf "%.3fs\n", p }'
}

# rollback NEW OLD WHY: traffic back to OLD, exit 2.
rollback() {
  log "$1 failed: $3: moving traffic back to $2"
  activate "$2" "$1" || true
  exit 2
}

main "$@"
