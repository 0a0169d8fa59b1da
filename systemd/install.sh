#!/usr/bin/env bash
# Install edge-digits as a systemd service (see docs/deploy.md).
#
#   sudo systemd/install.sh                      install or update, enable and (re)start the service
#   sudo systemd/install.sh --system-site-packages   same, for the Pi Camera Module (python3-picamera2)
#   sudo systemd/install.sh --uninstall          remove the service and /opt/edge-digits; keep config/data
#   sudo systemd/install.sh --uninstall --purge  also remove /etc/edge-digits, /var/lib and /var/log data
#
# What goes where:
#   /opt/edge-digits/venv     runtime-only virtualenv (pip install of the checkout without extras: no
#                             TensorFlow), root-owned and read-only to the service
#   /opt/edge-digits/models   the int8 models and their manifests, root-owned (code and model are updated
#                             together; the service cannot modify the model it runs)
#   /etc/edge-digits/config.yaml   from config.example.yaml, only if missing; 0640 root:root (the service
#                             gets a copy through systemd's LoadCredential=, see the unit)
#   /etc/systemd/system/edge-digits.service   the unit, enabled for multi-user.target
#   /var/lib/edge-digits, /var/log/edge-digits   created by systemd at start (StateDirectory=,
#                             LogsDirectory=), owned by the service's dynamic user
#
# Idempotent: a second run with the same checkout changes nothing (the venv carries a stamp of the
# installed source, Python and pip options; files are replaced only when their content differs).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: install.sh [options]
  --root DIR              install into DIR instead of / (offline: nothing is started)
  --source DIR            the edge-digits checkout to install (default: this script's parent directory)
  --python PY             Python (>= 3.10) for the venv (default: python3)
  --system-site-packages  let the venv see apt's Python packages (needed for python3-picamera2)
  --extras LIST           optional runtime features, comma-separated: mqtt (the MQTT output)
  --pip-args "ARGS"       extra arguments for pip install (e.g. "--no-index --find-links /srv/wheels")
  --skip-venv             leave /opt/edge-digits/venv alone (config, model and unit only)
  --no-enable             install the unit but do not enable it
  --no-start              do not start or restart the service
  --uninstall             remove the unit and /opt/edge-digits; keep config, state and logs
  --purge                 with --uninstall: also remove /etc/edge-digits, /var/lib and /var/log data
  --dry-run               print what would be done and change nothing
  -h, --help              this help
EOF
}

NAME=edge-digits
UNIT="$NAME.service"
ROOT=""
SOURCE=""
PYTHON=python3
SYSTEM_SITE=0
PIP_ARGS=""
EXTRAS=""
SKIP_VENV=0
ENABLE=1
START=1
UNINSTALL=0
PURGE=0
DRY=0

die() { echo "install.sh: error: $*" >&2; exit 2; }
need_arg() { [ $# -ge 2 ] || die "$1 needs a value"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) need_arg "$@"; ROOT="$2"; shift 2 ;;
    --root=*) ROOT="${1#*=}"; shift ;;
    --source) need_arg "$@"; SOURCE="$2"; shift 2 ;;
    --source=*) SOURCE="${1#*=}"; shift ;;
    --python) need_arg "$@"; PYTHON="$2"; shift 2 ;;
    --python=*) PYTHON="${1#*=}"; shift ;;
    --extras) need_arg "$@"; EXTRAS="$2"; shift 2 ;;
    --extras=*) EXTRAS="${1#*=}"; shift ;;
    --pip-args) need_arg "$@"; PIP_ARGS="$2"; shift 2 ;;
    --pip-args=*) PIP_ARGS="${1#*=}"; shift ;;
    --system-site-packages) SYSTEM_SITE=1; shift ;;
    --skip-venv) SKIP_VENV=1; shift ;;
    --no-enable) ENABLE=0; shift ;;
    --no-start) START=0; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    --purge) PURGE=1; shift ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done

[ "$PURGE" -eq 1 ] && [ "$UNINSTALL" -eq 0 ] && die "--purge only goes with --uninstall"
# Only runtime extras: `convert` would pull TensorFlow onto the device.
for extra in ${EXTRAS//,/ }; do
  case "$extra" in
    mqtt) ;;
    *) die "--extras $extra: unknown; the device side knows only: mqtt" ;;
  esac
done

if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die "--root $ROOT: not a directory"
  ROOT="$(cd "$ROOT" && pwd -P)"
  [ "$ROOT" = "/" ] && ROOT=""
fi
if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ] && [ "$DRY" -eq 0 ]; then
  die "run as root (sudo $0 ...), or use --root DIR / --dry-run"
fi
# Talk to a running systemd only when installing into the live system.
LIVE=0
if [ -z "$ROOT" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  LIVE=1
fi

# The service runs as an unprivileged dynamic user: everything it reads under /opt must be world-readable
# whatever root's umask is. Secrets (the config) get explicit modes below.
umask 022

OPT="$ROOT/opt/$NAME"
VENV="$OPT/venv"
MODELS="$OPT/models"
ETC="$ROOT/etc/$NAME"
CONFIG="$ETC/config.yaml"
UNIT_DIR="$ROOT/etc/systemd/system"
UNIT_FILE="$UNIT_DIR/$UNIT"
WANTS_LINK="$UNIT_DIR/multi-user.target.wants/$UNIT"
STAMP="$VENV/.edge-digits-install"
MODEL_FILES=(digits_int8.tflite manifest.json turning_int8.tflite turning_manifest.json)
MODEL_PATH="/opt/$NAME/models/digits_int8.tflite"  # as the service sees it, whatever --root is
TURNING_PATH="/opt/$NAME/models/turning_int8.tflite"

CHANGED=0
say() { echo "install.sh: $*"; }
# act DESCRIPTION COMMAND...: run a changing step, or only describe it under --dry-run.
act() {
  local what="$1"; shift
  CHANGED=1
  if [ "$DRY" -eq 1 ]; then
    say "would $what"
  else
    say "$what"
    "$@"
  fi
}

# ------------------------------------------------------------------------------------------ uninstall

uninstall() {
  if [ "$LIVE" -eq 1 ]; then
    if systemctl is-active --quiet "$UNIT" || systemctl is-enabled --quiet "$UNIT" 2>/dev/null; then
      act "stop and disable $UNIT" systemctl disable --now --quiet "$UNIT"
    fi
  fi
  if [ -L "$WANTS_LINK" ]; then
    act "remove $WANTS_LINK" rm -f "$WANTS_LINK"
    if [ -d "$(dirname "$WANTS_LINK")" ] && [ -z "$(ls -A "$(dirname "$WANTS_LINK")")" ]; then
      act "remove empty $(dirname "$WANTS_LINK")" rmdir "$(dirname "$WANTS_LINK")"
    fi
  fi
  [ -e "$UNIT_FILE" ] && act "remove $UNIT_FILE" rm -f "$UNIT_FILE"
  [ -e "$OPT" ] && act "remove $OPT (venv and model)" rm -rf "$OPT"
  if [ "$PURGE" -eq 1 ]; then
    local d
    for d in "$UNIT_DIR/$UNIT.d" "$ETC" \
             "$ROOT/var/lib/$NAME" "$ROOT/var/lib/private/$NAME" \
             "$ROOT/var/log/$NAME" "$ROOT/var/log/private/$NAME"; do
      if [ -e "$d" ] || [ -L "$d" ]; then
        act "remove $d" rm -rf "$d"
      fi
    done
  else
    [ -e "$ETC" ] && say "kept $ETC, $ROOT/var/lib/$NAME and $ROOT/var/log/$NAME (--purge removes them)"
  fi
  if [ "$LIVE" -eq 1 ] && [ "$CHANGED" -eq 1 ]; then
    act "reload systemd" systemctl daemon-reload
    systemctl reset-failed "$UNIT" >/dev/null 2>&1 || true
  fi
  [ "$CHANGED" -eq 0 ] && say "nothing to remove"
  return 0
}

if [ "$UNINSTALL" -eq 1 ]; then
  uninstall
  exit 0
fi

# ------------------------------------------------------------------------------------------ checks

[ -n "$SOURCE" ] || SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
[ -d "$SOURCE" ] || die "--source $SOURCE: not a directory"
SOURCE="$(cd "$SOURCE" && pwd -P)"
for f in setup.cfg edge_digits/__init__.py config.example.yaml "systemd/$UNIT"; do
  [ -f "$SOURCE/$f" ] || die "$SOURCE/$f: missing; --source must be an edge-digits checkout"
done
for f in "${MODEL_FILES[@]}"; do
  [ -f "$SOURCE/models/$f" ] || die "$SOURCE/models/$f: missing; build the model first (make model)"
done

# ------------------------------------------------------------------------------------------ venv

STAGE=""
cleanup() { [ -n "$STAGE" ] && rm -rf "$STAGE"; return 0; }
trap cleanup EXIT

# pip builds in the directory it is given (build/, *.egg-info): build from a copy, never in the checkout.
stage_source() {
  STAGE="$(mktemp -d "${TMPDIR:-/tmp}/edge-digits-install.XXXXXX")"
  tar -C "$SOURCE" \
    --exclude=.git --exclude=.venv --exclude=venv --exclude=__pycache__ --exclude='*.pyc' \
    --exclude='*.egg-info' --exclude=build --exclude=dist --exclude=.pytest_cache --exclude=.ruff_cache \
    --exclude=.hypothesis --exclude=./tests --exclude=./bench --exclude=./models --exclude=./runs \
    --exclude=./out -cf - . | tar -C "$STAGE/" -xf -
}

# What the venv was built from: changes in the source, the Python or the pip options rebuild it.
venv_stamp() {
  local py_version
  py_version="$("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
  echo "python=$(command -v "$PYTHON") $py_version"
  echo "system-site-packages=$SYSTEM_SITE"
  echo "pip-args=$PIP_ARGS"
  echo "extras=$EXTRAS"
  echo "source=$(cd "$STAGE" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
}

venv_matches_python() {
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c '' 2>/dev/null || return 1
  local want="false"
  [ "$SYSTEM_SITE" -eq 1 ] && want="true"
  grep -qx "include-system-site-packages = $want" "$VENV/pyvenv.cfg"
}

install_venv() {
  command -v "$PYTHON" >/dev/null 2>&1 || die "--python $PYTHON: not found"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || die "--python $PYTHON: Python >= 3.10 needed"
  "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null \
    || die "$PYTHON cannot create venvs: install the python3-venv package (apt install python3-venv)"
  stage_source
  local stamp
  stamp="$(venv_stamp)"
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$stamp" ] && venv_matches_python; then
    say "venv $VENV up to date"
    return 0
  fi
  local recreate=0
  if [ -e "$VENV" ] && ! venv_matches_python; then
    act "remove $VENV (other Python or site-packages setting)" rm -rf "$VENV"
    recreate=1
  fi
  if [ ! -e "$VENV" ] || [ "$recreate" -eq 1 ]; then
    local venv_args=()
    [ "$SYSTEM_SITE" -eq 1 ] && venv_args+=(--system-site-packages)
    act "create venv $VENV" "$PYTHON" -m venv "${venv_args[@]}" "$VENV"
  fi
  local pip_args=()
  # shellcheck disable=SC2206  # --pip-args is a word list on purpose
  [ -n "$PIP_ARGS" ] && pip_args=($PIP_ARGS)
  # The runtime only (numpy, OpenCV, pydantic, PyYAML, the TFLite runtime) plus the chosen --extras.
  local target="$STAGE"
  [ -n "$EXTRAS" ] && target="$STAGE[$EXTRAS]"
  act "pip install edge-digits${EXTRAS:+[$EXTRAS]} from $SOURCE into $VENV" \
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${pip_args[@]}" "$target"
  if [ "$SYSTEM_SITE" -eq 1 ]; then
    # apt's picamera2 imports apt's simplejpeg, compiled for Debian's numpy 1; OpenCV brings numpy 2 into
    # the venv, so the venv gets its own numpy-2 simplejpeg (as the picamera2 maintainers advise).
    act "pip install a numpy-2 simplejpeg for picamera2 into $VENV" \
      "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${pip_args[@]}" \
      --ignore-installed --no-deps simplejpeg
  fi
  act "write $STAMP" write_file "$STAMP" 0644 "$stamp"
}

write_file() {  # write_file PATH MODE CONTENT: atomically, so an interrupted install leaves no half file
  local tmp
  tmp="$(mktemp "$1.XXXXXX")"
  printf '%s\n' "$3" >"$tmp"
  chmod "$2" "$tmp"
  mv -f "$tmp" "$1"
}

# set_key SECTION KEY VALUE WHY: a YAML filter that sets a top-level section's key (replacing the line, or
# adding it at the end of the section, or adding the section), leaving every other line and comment as is.
set_key() {
  awk -v sec="$1" -v key="$2" -v val="$3" -v why="$4" '
    function put() { print "  " key ": " val "  # " why; done = 1 }
    function flush(  i) { for (i = 1; i <= held; i++) print hold[i]; held = 0 }
    $0 ~ "^" sec ":[ \t]*(#.*)?$" { print; insec = 1; next }
    # Blank lines and column-0 comments may introduce the next section: the added key goes before them.
    insec && (/^[ \t]*$/ || /^#/) { hold[++held] = $0; next }
    insec && /^[^ \t]/ { if (!done) put(); insec = 0 }
    insec && $0 ~ "^[ \t]+" key ":" { flush(); if (!done) put(); next }
    { flush(); print }
    END {
      if (insec && !done) put()
      flush()
      if (!done) { print ""; print sec ":"; put() }
    }'
}

# The example config, adjusted for the service:
# - model.path, model.turning_path: the models installed under /opt/edge-digits/models (the package
#   default would look inside the venv);
# - source.location: 0 instead of null, because null falls back to the bundled sample clip when no camera
#   is present: a webcam that enumerates late at boot would leave the service reading a video and exiting.
write_config() {  # write_config EXAMPLE DEST
  local tmp
  tmp="$(mktemp "$2.XXXXXX")"
  set_key model path "$MODEL_PATH" "set by install.sh: the model installed with the service" <"$1" \
    | set_key model turning_path "$TURNING_PATH" "set by install.sh: installed with the service" \
    | set_key source location 0 "set by install.sh: camera 0 (null would read the sample clip if no camera)" \
    >"$tmp"
  chmod 0640 "$tmp"
  mv -f "$tmp" "$2"
}

# install_file SRC DST MODE: copy when missing or different; fix the mode either way.
install_file() {
  local src="$1" dst="$2" mode="$3"
  if [ -f "$dst" ] && cmp -s "$src" "$dst"; then
    if [ "$(stat -c %a "$dst")" != "${mode#0}" ]; then
      act "chmod $mode $dst" chmod "$mode" "$dst"
    fi
    return 0
  fi
  act "install $dst" install -D -m "$mode" "$src" "$dst"
}

ensure_dir() {  # ensure_dir PATH MODE: our own directories, created or set to MODE
  if [ -d "$1" ]; then
    [ "$(stat -c %a "$1")" = "${2#0}" ] || act "chmod $2 $1" chmod "$2" "$1"
  else
    act "create $1" install -d -m "$2" "$1"
  fi
}

enable_by_symlink() {  # what `systemctl enable` does for WantedBy=multi-user.target
  install -d -m 0755 "$(dirname "$WANTS_LINK")"
  ln -sfn "/etc/systemd/system/$UNIT" "$WANTS_LINK"
}

ensure_parent() {  # ensure_parent PATH: system directories (/opt, /etc): created if missing, never changed
  [ -d "$1" ] || act "create $1" install -d -m 0755 "$1"
}

if [ "$SKIP_VENV" -eq 1 ]; then
  say "venv skipped (--skip-venv)"
else
  install_venv
fi
# ------------------------------------------------------------------------------------------ model

ensure_parent "$ROOT/opt"
ensure_dir "$OPT" 0755
ensure_dir "$MODELS" 0755
for f in "${MODEL_FILES[@]}"; do
  install_file "$SOURCE/models/$f" "$MODELS/$f" 0644
done

# ------------------------------------------------------------------------------------------ config

# Root-only: it may hold the MQTT password. The service never reads it directly (LoadCredential=).
ensure_parent "$ROOT/etc"
ensure_dir "$ETC" 0750
if [ -e "$CONFIG" ]; then
  say "kept existing $CONFIG"
else
  act "install $CONFIG from config.example.yaml (model.path: $MODEL_PATH, source.location: 0)" \
    write_config "$SOURCE/config.example.yaml" "$CONFIG"
fi

# ------------------------------------------------------------------------------------------ unit

ensure_parent "$UNIT_DIR"
BEFORE_UNIT=$CHANGED
CHANGED=0
install_file "$SOURCE/systemd/$UNIT" "$UNIT_FILE" 0644
UNIT_CHANGED=$CHANGED
CHANGED=$((BEFORE_UNIT | CHANGED))

if [ "$ENABLE" -eq 1 ]; then
  if [ -L "$WANTS_LINK" ] && [ "$(readlink "$WANTS_LINK")" = "/etc/systemd/system/$UNIT" ]; then
    :
  elif command -v systemctl >/dev/null 2>&1; then
    # Works offline: with --root it only writes the WantedBy= symlink.
    act "enable $UNIT" systemctl --root="${ROOT:-/}" --quiet enable "$UNIT"
  else
    act "enable $UNIT (multi-user.target.wants symlink)" enable_by_symlink
  fi
fi

if [ "$LIVE" -eq 1 ]; then
  [ "$UNIT_CHANGED" -eq 1 ] && act "reload systemd" systemctl daemon-reload
  if [ "$START" -eq 1 ]; then
    # --no-block: without a camera the service does not report READY and `start` would wait for
    # TimeoutStartSec; the state is for `systemctl status` to show.
    if ! systemctl is-active --quiet "$UNIT"; then
      systemctl reset-failed "$UNIT" >/dev/null 2>&1 || true  # a start limit hit earlier must not block
      act "start $UNIT (check: systemctl status $NAME)" systemctl start --no-block "$UNIT"
    elif [ "$CHANGED" -eq 1 ]; then
      act "restart $UNIT (check: systemctl status $NAME)" systemctl restart --no-block "$UNIT"
    fi
  fi
elif [ -z "$ROOT" ]; then
  say "no running systemd: the service starts at the next boot"
fi

if [ "$CHANGED" -eq 0 ]; then
  say "everything up to date"
elif [ "$DRY" -eq 1 ]; then
  say "dry run: nothing was changed"
else
  say "done; edit $CONFIG, then: systemctl restart $UNIT; journalctl -u $NAME -f"
fi
