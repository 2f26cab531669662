#!/usr/bin/env bash
# Start a single-node SLURM cluster on localhost, everything (munge key and socket, slurm.conf, state, logs, pid
# files) under one directory, for tests and benchmarks. Installs Debian's slurm-wlm and munge first if missing.
#
#   dir=$(launchers/local_cluster/start.sh [DIR])   # prints DIR (a new temp dir when not given)
#   . "$dir/env.sh"                                 # SLURM_CONF and PATH for sinfo/srun/sbatch/sacct
#   launchers/local_cluster/stop.sh "$dir"          # stops every daemon this script started, by pid
#
# Needs root (as in CI containers): munged and slurmd run as root so jobs can run as the submitting user.
# Facts this follows (Debian 12, slurm-wlm 22.05): no cgroup.conf (CgroupPlugin=disabled is invalid in 22.05), so
# proctrack/linuxproc and task/none; the node is called localhost (`slurmd -N localhost`) whatever the hostname is.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
DIR="${1:-$(mktemp -d "${TMPDIR:-/tmp}/sgen-slurm.XXXXXX")}"
CPUS="${SGEN_SLURM_CPUS:-2}"
log() { echo "[local_cluster] $*" >&2; }

install_if_missing() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
    && command -v munged >/dev/null && return 0
  if [ "$(id -u)" != 0 ]; then
    log "slurm-wlm/munge are not installed and installing needs root: apt-get install -y slurm-wlm munge"
    exit 1
  fi
  log "installing slurm-wlm and munge (about 20 s)"
  export DEBIAN_FRONTEND=noninteractive
  # Other processes may hold the dpkg lock for a while: wait for it rather than fail.
  apt-get update -qq
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 slurm-wlm munge >"$DIR/apt.log" 2>&1 \
    || { tail -20 "$DIR/apt.log" >&2; exit 1; }
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.1 s
  local deadline=$(( $(date +%s) + $1 )) what="$2"; shift 2
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then log "timed out waiting for $what"; return 1; fi
    sleep 0.1
  done
}

if [ "$(id -u)" != 0 ]; then
  log "the local cluster runs munged and slurmd as root; run as root (CI containers are)"
  exit 1
fi
mkdir -p "$DIR"/{munge,state/ctld,state/d,log,run}
# The munge socket directory must be searchable by everyone (o+x) or clients cannot reach the socket.
chmod 0755 "$DIR" "$DIR/munge"
install_if_missing

# --- munge: its own key, socket, pid, log and seed, never the system's /etc/munge or /run/munge --------------
dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
chmod 0400 "$DIR/munge/munge.key"
SOCKET="$DIR/munge/munge.socket.2"
munged --force --key-file="$DIR/munge/munge.key" --socket="$SOCKET" --pid-file="$DIR/run/munged.pid" \
  --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed"
wait_for 10 munged test -S "$SOCKET"

# --- slurm.conf -------------------------------------------------------------------------------------------
# RealMemory as the node reports it, so slurmd never finds less memory than configured and drains the node.
MEM_MB="$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -1)"
MEM_MB="${MEM_MB:-$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)}"
CTLD_PORT="$(free_port)"; SLURMD_PORT="$(free_port)"
cat >"$DIR/slurm.conf" <<EOF
ClusterName=sgenlocal
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire also sets how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$SOCKET,cred_expire=${SGEN_SLURM_CRED_EXPIRE:-10}
StateSaveLocation=$DIR/state/ctld
SlurmdSpoolDir=$DIR/state/d
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without a default, a job asking no memory takes the whole node and array tasks run one at a time.
DefMemPerCPU=1024
SchedulerType=sched/backfill
# Trust the configured CPUs/memory: the test node may claim fewer CPUs than the machine has.
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
# No slurmdbd here: finished jobs are written to a job-completion file that \`sacct -c\` reads (see bin/sacct).
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.log
JobAcctGatherType=jobacct_gather/none
# Keep finished jobs visible to scontrol for a while, and schedule quickly (tests submit and wait).
MinJobAge=600
SchedulerParameters=sched_interval=1
# A requeued or cancelled job gets SIGTERM, then SIGKILL this many seconds later.
KillWait=2
InactiveLimit=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
cat >"$DIR/env.sh" <<EOF
export SLURM_CONF=$DIR/slurm.conf
export PATH=$HERE/bin:\$PATH
EOF
export SLURM_CONF="$DIR/slurm.conf"

# --- daemons ------------------------------------------------------------------------------------------------
slurmctld -f "$SLURM_CONF"
wait_for 20 slurmctld scontrol ping
slurmd -f "$SLURM_CONF" -N localhost
wait_for 20 "node localhost to be idle" bash -c 'sinfo -h -n localhost -o %t | grep -qx idle'
log "cluster up in $DIR (ctld port $CTLD_PORT, ${CPUS} CPUs, ${MEM_MB} MB); stop with $HERE/stop.sh $DIR"
echo "$DIR"
