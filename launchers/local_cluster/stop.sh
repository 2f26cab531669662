#!/usr/bin/env bash
# Stop the daemons launchers/local_cluster/start.sh started in DIR, by the pids in DIR/run, never by name.
#   launchers/local_cluster/stop.sh DIR [--rm]   (--rm also deletes DIR)
set -uo pipefail

DIR="${1:?usage: stop.sh DIR [--rm]}"
log() { echo "[local_cluster] $*" >&2; }

stop_pid_file() {
  local name="$1" file="$DIR/run/$1.pid" pid
  [ -f "$file" ] || return 0
  pid="$(cat "$file")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then log "$name ($pid) ignored SIGTERM for 5 s; SIGKILL"; kill -KILL "$pid"; fi
  fi
  rm -f "$file"
}

# Job step daemons (slurmstepd) of this cluster: they carry its SLURM_CONF in their environment.
step_pids() {
  local p
  for p in $(pgrep -x slurmstepd 2>/dev/null); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "SLURM_CONF=$DIR/slurm.conf" && echo "$p"
  done
}

if [ -f "$DIR/slurm.conf" ] && [ -f "$DIR/run/slurmctld.pid" ]; then
  # Cancel what is still queued or running, and wait for it to end, so no job outlives the cluster.
  export SLURM_CONF="$DIR/slurm.conf"
  timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
  for _ in $(seq 100); do [ -z "$(timeout 5 squeue -h 2>/dev/null)" ] && break; sleep 0.1; done
fi
# slurmd first, then the controller, then munge that both authenticate through.
stop_pid_file slurmd
stop_pid_file slurmctld
stop_pid_file munged
for pid in $(step_pids); do log "ending leftover job step daemon $pid"; kill -KILL "$pid" 2>/dev/null; done
if [ "${2:-}" = "--rm" ]; then rm -rf "$DIR"; fi
log "stopped the cluster in $DIR"
