#!/usr/bin/env bash
# Stop what obs-ci-up.sh started (by PID only). Usage: obs-ci-down.sh <OBS_CI_DIR> [--keep]
set -u
DIR=${1:?usage: obs-ci-down.sh OBS_CI_DIR}
. "$DIR/obs-ci.env"
alive() {  # a killed, orphaned process stays a zombie until PID 1 reaps it: count zombies as dead
  local st; st=$(awk '/^State:/{print $2}' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}
stop_pid() {  # pid, seconds-to-wait
  alive "$1" || return 0
  kill -TERM "$1" 2>/dev/null
  for _ in $(seq 1 $(( $2 * 10 ))); do alive "$1" || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null; return 0
}
stop_pid "$OBS_PID" 10     # OBS 29 has no SIGTERM handler: it dies at once, no settings saved (fine: config is throw-away)
stop_pid "$XVFB_PID" 5
[ "${2:-}" = "--keep" ] || rm -rf "$DIR"
