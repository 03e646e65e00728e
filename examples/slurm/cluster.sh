#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, to try aelab's sbatch scripts without a real one: munged,
# slurmctld and slurmd as plain daemons (no systemd), one node with this machine's cores and memory, one
# partition, everything (configuration, key, state, logs) in one folder. Needs Debian's slurm-wlm and
# munge, and root (slurmd starts jobs as the user who submits them).
#
#   sudo examples/slurm/cluster.sh start       # prints the line that points sbatch at this cluster
#   export SLURM_CONF=/tmp/aelab-slurm/slurm.conf
#   sbatch --wait --wrap=hostname && sinfo
#   sudo examples/slurm/cluster.sh stop
#
# The folder is $AELAB_SLURM_DIR (default /tmp/aelab-slurm). Every wait has a timeout: a daemon that
# does not come up stops the start, naming it and its log's last lines, with every daemon stopped again.
set -euo pipefail

dir=${AELAB_SLURM_DIR:-/tmp/aelab-slurm}
# Seconds a daemon is given to come up, or to go once told to stop.
patience=${AELAB_SLURM_TIMEOUT:-60}

# Prints the last lines of daemon $1's log and exits 1 after stopping the cluster.
fail() {
  echo "error: $1 did not $2 within ${patience}s; the last lines of $dir/$1.log:" >&2
  tail -n 20 "$dir/$1.log" >&2 || true
  stop >/dev/null 2>&1 || true
  exit 1
}

# Waits until the command "$@" succeeds, at most $patience seconds; returns 1 if it never does.
wait_for() {
  local deadline=$((SECONDS + patience))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

# Whether the daemon whose pid file is $1 is alive.
alive() {
  [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

configure() {
  local host cores memory
  host=$(hostname -s)
  cores=$(nproc)
  memory=$(($(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 1024 - 512))
  mkdir -p "$dir/state" "$dir/spool"
  if [ ! -s "$dir/munge.key" ]; then
    (umask 077 && head -c 1024 /dev/urandom >"$dir/munge.key")
  fi
  cat >"$dir/slurm.conf" <<EOF
# A single-node cluster for aelab's examples, written by examples/slurm/cluster.sh.
ClusterName=aelab
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
# No cgroups: a job's processes tracked by their process group, no task binding, no accounting.
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=5
NodeName=$host CPUs=$cores RealMemory=$memory State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
  for daemon in munged slurmctld slurmd; do
    command -v "$daemon" >/dev/null || {
      echo "error: no $daemon: apt-get install slurm-wlm munge" >&2
      exit 1
    }
  done
  stop >/dev/null 2>&1 || true
  configure
  export SLURM_CONF="$dir/slurm.conf"
  munged --force --key-file="$dir/munge.key" --socket="$dir/munge.socket" \
    --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munged.seed"
  wait_for munge --socket="$dir/munge.socket" --string=ping || fail munged "answer"
  slurmctld
  wait_for scontrol ping || fail slurmctld "answer scontrol ping"
  slurmd
  wait_for node_idle || fail slurmd "bring its node up"
  echo "a single-node SLURM cluster is up ($(nproc) cores); point sbatch at it with:"
  echo "export SLURM_CONF=$dir/slurm.conf"
}

# Whether the node is up and idle.
node_idle() {
  [ "$(sinfo --noheader --format=%t)" = idle ]
}

# Whether the cluster's queue is empty.
no_jobs() {
  [ -z "$(squeue --noheader --format=%A)" ]
}

stop() {
  local stopped=0 pid
  # Jobs still there are cancelled first, so that no process of theirs outlives the cluster.
  if alive "$dir/slurmctld.pid"; then
    export SLURM_CONF="$dir/slurm.conf"
    squeue --noheader --format=%A | xargs -r scancel
    wait_for no_jobs || echo "error: jobs still in the queue after ${patience}s" >&2
  fi
  for daemon in slurmd slurmctld munged; do
    alive "$dir/$daemon.pid" || continue
    pid=$(cat "$dir/$daemon.pid")
    kill "$pid"
    if ! wait_for sh -c "! kill -0 $pid"; then
      echo "error: $daemon did not stop within ${patience}s; killed" >&2
      kill -KILL "$pid" 2>/dev/null || true
      stopped=1
    fi
  done
  return "$stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop && echo "the single-node SLURM cluster in $dir is stopped" ;;
  *)
    echo "usage: $0 start|stop (the cluster's folder: \$AELAB_SLURM_DIR, default /tmp/aelab-slurm)" >&2
    exit 2
    ;;
esac
