#!/bin/sh
# single-active: an app with no election code. It learns whether it leads
# from two sources and does its work only while both say so:
#
#   (a) the downward API: a volume with the pod's labels (role="leader" on the
#       leader) and its elector.dev/term annotation, refreshed by the kubelet;
#   (b) elector's leader API, GET /leader/NAMESPACE/GROUP, which answers
#       {"name": "<leader pod>", "term": N, "lease": "<lease>"} as the classic
#       leader-elector sidecar did: the app leads when name == $POD_NAME.
#
# It stops leader work as soon as either source says it does not lead, when
# elector has not confirmed it for RENEW_DEADLINE seconds, and at once on
# SIGTERM. It logs every change of role with the term.
#
# POSIX sh: runs under busybox (wget) and on a Debian host (wget or curl).
# Environment (all but POD_NAME and POD_NAMESPACE have defaults):
#   POD_NAME, POD_NAMESPACE  this pod (downward API env: metadata.name, .namespace)
#   GROUP                    the ElectionGroup (single-active)
#   ELECTOR_URL              elector's leader API (http://elector-leader-api.elector-system.svc:8082)
#   LEADER_URL               the whole URL ($ELECTOR_URL/leader/$POD_NAMESPACE/$GROUP)
#   PODINFO_DIR              the downward API volume (/etc/podinfo) with the files
#   LABELS_FILE, TERM_FILE   ($PODINFO_DIR/labels, $PODINFO_DIR/term)
#   LEADER_LABEL             the group's leaderLabel as key=value (role=leader)
#   INTERVAL                 seconds between checks (2; fractions where sleep allows)
#   RENEW_DEADLINE           seconds elector may go unanswered before an active app stands by (10)
#   HTTP_TIMEOUT             seconds one request to elector may take (3)
#   STATUS_FILE              if set, the current role is written there (served by the pod's httpd)
set -u

: "${POD_NAME:?set POD_NAME (downward API env: metadata.name)}"
: "${POD_NAMESPACE:?set POD_NAMESPACE (downward API env: metadata.namespace)}"
GROUP=${GROUP:-single-active}
ELECTOR_URL=${ELECTOR_URL:-http://elector-leader-api.elector-system.svc:8082}
LEADER_URL=${LEADER_URL:-$ELECTOR_URL/leader/$POD_NAMESPACE/$GROUP}
PODINFO_DIR=${PODINFO_DIR:-/etc/podinfo}
LABELS_FILE=${LABELS_FILE:-$PODINFO_DIR/labels}
TERM_FILE=${TERM_FILE:-$PODINFO_DIR/term}
LEADER_LABEL=${LEADER_LABEL:-role=leader}
INTERVAL=${INTERVAL:-2}
RENEW_DEADLINE=${RENEW_DEADLINE:-10}
HTTP_TIMEOUT=${HTTP_TIMEOUT:-3}
STATUS_FILE=${STATUS_FILE:-}

# The line the kubelet writes for the label: key="value".
label_line="${LEADER_LABEL%%=*}=\"${LEADER_LABEL#*=}\""

log() { printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }

# fetch URL: the answer into $work_dir/leader.json, errors into $work_dir/fetch.err.
if command -v wget >/dev/null 2>&1; then
  fetch() { timeout "$HTTP_TIMEOUT" wget -q -t 1 -O - "$1" >"$work_dir/leader.json" 2>"$work_dir/fetch.err"; }
elif command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsS -m "$HTTP_TIMEOUT" "$1" >"$work_dir/leader.json" 2>"$work_dir/fetch.err"; }
else
  log "error: neither wget nor curl is installed" >&2
  exit 1
fi

work_dir=$(mktemp -d) || exit 1
child=
role=starting  # starting, active or standby
term=          # of the last answer from elector
said=          # the last state logged
confirmed_at=0 # when elector last named this pod (date +%s)
ticks=0

# A command in the background, waited for: a trapped SIGTERM interrupts
# `wait` at once, where it would wait for a foreground command to finish.
# (No redirection around `run`: the trap would run with it in place.)
run() {
  "$@" &
  child=$!
  wait "$child"
  set -- $?
  child=
  return "$1"
}

write_status() {
  [ -n "$STATUS_FILE" ] || return 0
  printf '%s\n' "$*" >"$STATUS_FILE.tmp" && mv -f "$STATUS_FILE.tmp" "$STATUS_FILE"
}

# Logs a state once, when it differs from the last one logged.
say() {
  [ "$1" = "$said" ] && return 0
  said=$1
  log "$1"
}

on_term() {
  trap '' TERM INT
  [ -n "$child" ] && kill "$child" 2>/dev/null
  if [ "$role" = active ]; then
    log "SIGTERM: stopping leader work now (term $term)"
  else
    log "SIGTERM: exiting (standby)"
  fi
  role=stopped
  write_status "stopped pod=$POD_NAME"
  rm -rf "$work_dir"
  exit 0
}
trap on_term TERM INT

become() {  # become ROLE MESSAGE
  if [ "$1" != "$role" ]; then
    role=$1
    said=
  fi
  say "$2"
  write_status "$role pod=$POD_NAME term=$term"
}

# The leader work: here one line per tick; a real app writes $term with
# every write to shared storage so that storage can refuse an older term.
leader_work() {
  ticks=$((ticks + 1))
  log "working as leader: tick $ticks (term $term)"
}

log "starting: pod $POD_NAME, group $POD_NAMESPACE/$GROUP, asking $LEADER_URL, downward API $LABELS_FILE and $TERM_FILE"
write_status "standby pod=$POD_NAME"
while :; do
  now=$(date +%s)
  api=unknown
  leader=
  if run fetch "$LEADER_URL"; then
    body=$(cat "$work_dir/leader.json")
    leader=$(printf '%s' "$body" | sed -n 's/.*"name"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
    answered_term=$(printf '%s' "$body" | sed -n 's/.*"term"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p')
    if [ -n "$leader" ]; then
      term=$answered_term
      if [ "$leader" = "$POD_NAME" ]; then api=me; confirmed_at=$now; else api=other; fi
    fi
  fi
  labelled=no
  grep -Fqx "$label_line" "$LABELS_FILE" 2>/dev/null && labelled=yes
  file_term=$(cat "$TERM_FILE" 2>/dev/null)

  if [ "$api" = me ] && [ "$labelled" = yes ]; then
    become active "ACTIVE: elector names this pod and it is labelled $LEADER_LABEL: leader work starts (term $term, downward API term ${file_term:-none})"
    leader_work
  elif [ "$api" = other ]; then
    become standby "STANDBY: the leader is $leader (term $term)"
  elif [ "$api" = me ]; then
    become standby "STANDBY: elector names this pod (term $term); waiting for the downward API label $LEADER_LABEL"
  else
    # No leader named: a 503 (no leader elected and renewed), or no answer.
    why=$(head -n 1 "$work_dir/fetch.err" 2>/dev/null)
    why="elector named no leader${why:+ ($why)}"
    if [ "$role" = active ] && [ "$labelled" = yes ] && [ $((now - confirmed_at)) -lt "$RENEW_DEADLINE" ]; then
      # As client-go's renewDeadline: keep leading a little while, not longer.
      say "$why; leader work goes on until ${RENEW_DEADLINE}s after elector last named this pod (term $term)"
      leader_work
    else
      become standby "STANDBY: $why"
    fi
  fi
  run sleep "$INTERVAL"
done
