#!/usr/bin/env bash
# Start a throw-away, headless OBS Studio 29 (Debian 12) with obs-websocket 5.1 on 127.0.0.1:$OBS_WS_PORT.
# Recipe from OBS-TESTING.md 5.2; adapted: OBS_SCENES='A|B|C' pre-seeds the scene collection.
# Writes $OBS_CI_DIR/obs-ci.env (PIDs, port, password) for the tests and for obs-ci-down.sh.
set -euo pipefail
OBS_CI_DIR=${OBS_CI_DIR:-$(mktemp -d /tmp/obs-ci.XXXXXX)}
OBS_WS_PORT=${OBS_WS_PORT:-4455}
OBS_WS_PASSWORD=${OBS_WS_PASSWORD:-ci-$(head -c12 /dev/urandom | od -An -tx1 | tr -d ' \n')}
OBS_READY_TIMEOUT=${OBS_READY_TIMEOUT:-60}
CFG=$OBS_CI_DIR/config/obs-studio
rm -rf "$OBS_CI_DIR/config"; mkdir -p "$CFG/basic/profiles/CI" "$CFG/basic/scenes" "$OBS_CI_DIR/home"

# --- global.ini: skip first-run wizard, enable obs-websocket 5.1 (it keeps its settings HERE, not in a json) ---
cat > "$CFG/global.ini" <<INI
[General]
Pre19Defaults=false
Pre21Defaults=false
Pre23Defaults=false
Pre24.1Defaults=false
FirstRun=true
LastVersion=486539266
EnableAutoUpdates=false
ConfirmOnExit=false

[Basic]
Profile=CI
ProfileDir=CI
SceneCollection=CI
SceneCollectionFile=CI
ConfigOnNewProfile=false

[BasicWindow]
PreviewEnabled=false
SysTrayEnabled=true
SysTrayWhenStarted=true
WarnBeforeStartingStream=false
WarnBeforeStoppingStream=false
WarnBeforeStoppingRecord=false

[OBSWebSocket]
FirstLoad=false
ServerEnabled=true
ServerPort=$OBS_WS_PORT
AlertsEnabled=false
AuthRequired=true
ServerPassword=$OBS_WS_PASSWORD
INI

# --- profile: tiny canvas, 10 fps, no audio capture devices (no PulseAudio on CI) ---
cat > "$CFG/basic/profiles/CI/basic.ini" <<'INI'
[General]
Name=CI

[Video]
BaseCX=640
BaseCY=360
OutputCX=640
OutputCY=360
FPSType=1
FPSInt=10

[Audio]
SampleRate=48000
ChannelSetup=Stereo
DesktopAudioDevice1=disabled
DesktopAudioDevice2=disabled
AuxAudioDevice1=disabled
AuxAudioDevice2=disabled
AuxAudioDevice3=disabled
AuxAudioDevice4=disabled
INI

# --- scene collection: empty scenes ("Scene", or the '|'-separated OBS_SCENES), Cut transition ---
# Cut gives deterministic, fastest switches (CurrentProgramSceneChanged within one frame).
OBS_SCENES=${OBS_SCENES:-Scene} python3 - "$CFG/basic/scenes/CI.json" <<'PY'
import json, os, sys
names = [n for n in os.environ["OBS_SCENES"].split("|") if n]
json.dump({
    "name": "CI", "current_scene": names[0], "current_program_scene": names[0],
    "scene_order": [{"name": n} for n in names],
    "sources": [{"id": "scene", "versioned_id": "scene", "name": n,
                 "settings": {"custom_size": False, "id_counter": 0, "items": []}} for n in names],
    "groups": [], "transitions": [], "current_transition": "Cut", "transition_duration": 300,
}, open(sys.argv[1], "w"))
PY

# --- forward-compat: obs-websocket >= 5.3 (OBS 30+) reads this file instead of global.ini ---
mkdir -p "$CFG/plugin_config/obs-websocket"
cat > "$CFG/plugin_config/obs-websocket/config.json" <<JSON
{"first_load": false, "server_enabled": true, "server_port": $OBS_WS_PORT,
 "alerts_enabled": false, "auth_required": true, "server_password": "$OBS_WS_PASSWORD"}
JSON

# --- Xvfb on a free display (-displayfd avoids display-number races) ---
rm -f "$OBS_CI_DIR/display"  # a restart in the same dir must not read the previous run's display number
Xvfb -displayfd 5 -screen 0 1280x720x24 -nolisten tcp -noreset 5>"$OBS_CI_DIR/display" >"$OBS_CI_DIR/xvfb.log" 2>&1 &
XVFB_PID=$!
for _ in $(seq 1 100); do [ -s "$OBS_CI_DIR/display" ] && break; sleep 0.1; done
DISP=$(tr -d '[:space:]' < "$OBS_CI_DIR/display")
[ -n "$DISP" ] || { echo "obs-ci-up: Xvfb did not start" >&2; cat "$OBS_CI_DIR/xvfb.log" >&2; kill "$XVFB_PID" 2>/dev/null; exit 1; }

# --- OBS ---
cd "$OBS_CI_DIR"
HOME=$OBS_CI_DIR/home XDG_CONFIG_HOME=$OBS_CI_DIR/config DISPLAY=:$DISP LIBGL_ALWAYS_SOFTWARE=1 \
  obs --minimize-to-tray --multi --disable-updater --disable-missing-files-check \
  >"$OBS_CI_DIR/obs.log" 2>&1 &
OBS_PID=$!

cat > "$OBS_CI_DIR/obs-ci.env" <<ENV
OBS_CI_DIR=$OBS_CI_DIR
OBS_PID=$OBS_PID
XVFB_PID=$XVFB_PID
OBS_DISPLAY=:$DISP
OBS_WS_HOST=127.0.0.1
OBS_WS_PORT=$OBS_WS_PORT
OBS_WS_PASSWORD=$OBS_WS_PASSWORD
ENV

# --- readiness: the plugin's own log line (a bare TCP probe is fooled by another listener on the port) ---
fail() {  # message, exit code: stop what we started (by PID), keep logs in $OBS_CI_DIR for diagnosis
  echo "obs-ci-up: $1" >&2; tail -40 "$OBS_CI_DIR/obs.log" >&2
  kill -TERM "$OBS_PID" "$XVFB_PID" 2>/dev/null; exit "$2"
}
t0=$(date +%s%N)
while :; do
  grep -q "Server started successfully on port $OBS_WS_PORT" "$OBS_CI_DIR/obs.log" 2>/dev/null && break
  grep -q "Listen failed" "$OBS_CI_DIR/obs.log" 2>/dev/null && fail "obs-websocket could not bind port $OBS_WS_PORT" 2
  kill -0 "$OBS_PID" 2>/dev/null || fail "OBS exited early" 3
  (( ($(date +%s%N) - t0) / 1000000000 < OBS_READY_TIMEOUT )) || fail "OBS not ready after ${OBS_READY_TIMEOUT}s" 4
  sleep 0.1
done
echo "OBS ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms: ws://127.0.0.1:$OBS_WS_PORT (env: $OBS_CI_DIR/obs-ci.env)"
