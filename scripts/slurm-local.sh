#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for the `slurm` tests and for trying
# `interphase run --executor slurm` without a real cluster (docs/cluster.md).
#
#   scripts/slurm-local.sh start    install slurm-wlm + munge if missing, write the config,
#                                   start munged, slurmctld, slurmd; wait until the node is idle
#   scripts/slurm-local.sh stop     stop the daemons this script started
#   scripts/slurm-local.sh status   say whether the cluster answers (exit 0 when it does)
#   scripts/slurm-local.sh restart-ctld   restart slurmctld only (tests: a controller restart)
#
# Idempotent: `start` on a running cluster checks it; the config is rewritten only when its
# content changes (then the daemons are restarted). A Slurm that is already running is compared
# with the config this script writes (partitions `debug` and `urgent` with their priority tiers,
# PreemptType, PreemptMode, MaxArraySize, as `scontrol show partition`/`show config` report
# them); when it differs, `start` runs `scontrol reconfigure`, then restarts the daemons if that
# was not enough, and checks again. It refuses, with one line saying what differs, when the
# running controller reads another slurm.conf than $conf, when $conf was not written by this
# script, or when it is not root and has no sudo. Runs as root (or through sudo), without
# systemd, so it works in containers and CI. The daemons are started directly, and their pid
# files and logs live in $SLURM_LOCAL_DIR (default /var/lib/interphase-slurm).
#
# The cluster: one node (this host, with the CPUs and memory `slurmd -C` reports), one default
# partition `debug`, select/cons_tres (jobs share the node by cores), proctrack/linuxproc and
# task/none (no cgroups in containers), a second partition `urgent` whose jobs preempt (cancel)
# those of `debug` (PREEMPTED tests), no accounting daemon (the executor reads final states
# from `scontrol show job`, kept for an hour by MinJobAge), job arrays up to 100000 tasks.
set -euo pipefail

state_dir="${SLURM_LOCAL_DIR:-/var/lib/interphase-slurm}"
conf_dir=/etc/slurm
conf="$conf_dir/slurm.conf"
partition=debug

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
say() { echo "slurm-local: $*" >&2; }
die() { say "$*"; exit 1; }
# The first line of every config this script writes: a slurm.conf without it belongs to someone else.
header="# Written by interphase scripts/slurm-local.sh"

install_packages() {
  local missing=()
  for p in munge slurmctld slurmd slurm-client; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  # The packages' postinst scripts try to start the services: refuse that (no systemd here,
  # and we start the daemons ourselves below).
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" > /dev/null
    $SUDO chmod +x "$policy"
    created_policy=1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
  if [ $created_policy -eq 1 ]; then $SUDO rm -f "$policy"; fi
}

munge_key() {
  local key=/etc/munge/munge.key
  if [ ! -s "$key" ]; then
    say "creating the munge key"
    $SUDO mkdir -p /etc/munge
    $SUDO dd if=/dev/urandom of="$key" bs=1 count=1024 status=none
  fi
  $SUDO chown munge:munge /etc/munge "$key"
  $SUDO chmod 700 /etc/munge
  $SUDO chmod 400 "$key"
  $SUDO mkdir -p /run/munge /var/lib/munge /var/log/munge
  $SUDO chown munge:munge /run/munge /var/lib/munge /var/log/munge
  $SUDO chmod 755 /run/munge
}

# The config for this machine. NodeName is the host name slurmd sees (slurmd -C), addressed
# through 127.0.0.1 so that no name service is needed.
write_config() {
  local node cpus mem
  node="$(hostname -s)"
  read -r cpus mem < <(slurmd -C | awk '/^NodeName/ {for (i = 1; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}
                                          print v["CPUs"], v["RealMemory"]}')
  [ -n "$cpus" ] && [ -n "$mem" ] || { say "cannot read CPUs/RealMemory from 'slurmd -C'"; exit 1; }
  $SUDO mkdir -p "$conf_dir" "$state_dir/ctld" "$state_dir/d" "$state_dir/log"
  local tmp
  tmp="$(mktemp)"
  cat > "$tmp" <<EOF
$header: a single-node test cluster on $node.
ClusterName=interphase-local
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$state_dir/ctld
SlurmdSpoolDir=$state_dir/d
SlurmctldPidFile=$state_dir/slurmctld.pid
SlurmdPidFile=$state_dir/slurmd.pid
SlurmctldLogFile=$state_dir/log/slurmctld.log
SlurmdLogFile=$state_dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmctldPort=6817
SlurmdPort=6818
# No cgroups in containers: processes tracked through /proc, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
LaunchParameters=use_interactive_step
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Schedule every second rather than every minute: tests and tiny tasks wait less.
SchedulerParameters=sched_interval=1,bf_interval=1,sched_min_interval=0,batch_sched_delay=0,default_queue_depth=1000
MaxArraySize=100001
MaxJobCount=200000
# Finished jobs stay visible to scontrol for an hour (no accounting database here).
MinJobAge=3600
ReturnToService=2
SlurmdTimeout=60
SlurmctldTimeout=30
InactiveLimit=0
KillWait=5
Waittime=0
# Preemption (tests of the PREEMPTED state): a job of the high-tier partition "urgent" cancels
# the jobs of "$partition" whose cores it needs.
PreemptType=preempt/partition_prio
PreemptMode=CANCEL
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$partition Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO PriorityTier=1
PartitionName=urgent Nodes=$node Default=NO MaxTime=INFINITE State=UP OverSubscribe=NO PriorityTier=2
EOF
  if ! $SUDO cmp -s "$tmp" "$conf" 2>/dev/null; then
    $SUDO install -m 644 "$tmp" "$conf"
    rm -f "$tmp"
    return 0  # changed
  fi
  rm -f "$tmp"
  return 1
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_munge() {
  if munge -n 2>/dev/null | unmunge > /dev/null 2>&1; then return 0; fi
  munge_key
  say "starting munged"
  $SUDO runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do
    munge -n 2>/dev/null | unmunge > /dev/null 2>&1 && return 0
    sleep 0.1
  done
  say "munged does not answer"; exit 1
}

# Whether a controller answers (ours, or one started otherwise).
ctld_answers() { scontrol ping 2>/dev/null | grep -q 'is UP'; }

start_ctld() {
  pid_alive "$state_dir/slurmctld.pid" && return 0
  if ctld_answers; then return 0; fi  # started by someone else: checked by ensure_config
  say "starting slurmctld"
  $SUDO /usr/sbin/slurmctld -f "$conf"
  for _ in $(seq 100); do ctld_answers && return 0; sleep 0.2; done
  die "slurmctld does not answer; logs in $state_dir/log"
}

start_slurmd() {
  pid_alive "$state_dir/slurmd.pid" && return 0
  if pgrep -x slurmd > /dev/null; then return 0; fi
  say "starting slurmd"
  $SUDO /usr/sbin/slurmd -f "$conf"
}

# Refuses to overwrite a slurm.conf this script did not write (a real cluster's, someone's own).
check_conf_owner() {
  if [ -e "$conf" ] && ! head -1 "$conf" | grep -qF "$header"; then
    die "$conf was not written by this script (its first line is not '$header'); not touching it. Move it away or use a machine without another Slurm"
  fi
}

# What the running Slurm lacks compared with the config this script writes, as one line; empty
# when it matches. The tests need both partitions (PREEMPTED: `urgent` preempts `debug`).
config_differences() {
  local parts conf_out diffs=() name tier want
  parts="$(scontrol show partition -o 2>/dev/null)" || { echo "scontrol show partition fails"; return; }
  conf_out="$(scontrol show config 2>/dev/null)" || { echo "scontrol show config fails"; return; }
  for want in "$partition:1" "urgent:2"; do
    name="${want%%:*}"; tier="${want##*:}"
    if ! grep -q "^PartitionName=$name " <<< "$parts"; then
      diffs+=("partition '$name' missing")
    elif ! grep "^PartitionName=$name " <<< "$parts" | grep -q " PriorityTier=$tier "; then
      diffs+=("partition '$name' has not PriorityTier=$tier")
    fi
  done
  local key value expected
  for want in PreemptType=preempt/partition_prio PreemptMode=CANCEL MaxArraySize=100001; do
    key="${want%%=*}"; expected="${want#*=}"
    value="$(awk -v k="$key" '$1 == k {print $3}' <<< "$conf_out")"
    [ "$value" = "$expected" ] || diffs+=("$key=${value:-unset} (want $expected)")
  done
  (IFS=';'; echo "${diffs[*]}") | sed 's/;/; /g'
}

# The config file the running controller read.
# (Empty when no controller answers; `|| true`: pipefail would otherwise end the script.)
running_conf() { scontrol show config 2>/dev/null | awk '$1 == "SLURM_CONF" {print $3}' || true; }

# Stops every slurmctld and slurmd on this machine that reads $conf (ours or started by hand).
stop_everything() {
  stop_all
  local pid
  for pid in $(pgrep -x slurmctld) $(pgrep -x slurmd); do
    say "stopping $(ps -o comm= -p "$pid") (pid $pid, not started by this script)"
    $SUDO kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { $SUDO kill -9 "$pid" 2>/dev/null || true; }
  done
}

# A controller that reads another slurm.conf is not this script's to change: refused when it
# differs from the cluster the tests need.
refuse_foreign_ctld() {
  local used diff
  used="$(running_conf)"
  [ -z "$used" ] || [ "$used" = "$conf" ] && return 0
  diff="$(config_differences)"
  [ -z "$diff" ] && return 0
  die "the running slurmctld reads $used, not $conf, and differs from this script's cluster: $diff"
}

# Makes the running Slurm match $conf: reconfigure, else restart, else say what differs.
ensure_config() {
  local diff used
  diff="$(config_differences)"
  [ -z "$diff" ] && return 0
  used="$(running_conf)"
  if [ -n "$used" ] && [ "$used" != "$conf" ]; then
    die "the running slurmctld reads $used, not $conf, and differs from this script's cluster: $diff"
  fi
  if [ -n "$SUDO" ] && ! sudo -n true 2>/dev/null; then
    die "the running Slurm differs ($diff) and this script cannot reconfigure it: not root and no sudo"
  fi
  say "the running Slurm differs from $conf ($diff): scontrol reconfigure"
  $SUDO scontrol reconfigure > /dev/null 2>&1 || true
  for _ in $(seq 50); do ctld_answers && break; sleep 0.2; done
  diff="$(config_differences)"
  [ -z "$diff" ] && return 0
  say "still differs after reconfigure ($diff): restarting slurmctld and slurmd"
  stop_everything
  start_ctld
  start_slurmd
  wait_idle
  diff="$(config_differences)"
  [ -z "$diff" ] || die "the running Slurm still differs from $conf after a restart: $diff (logs in $state_dir/log)"
}

node_state() { sinfo -h -N -o '%T' 2>/dev/null | head -1; }

wait_idle() {
  local s=""
  for _ in $(seq 120); do
    s="$(node_state)"
    case "$s" in
      idle|mixed|allocated|completing) return 0 ;;
      down*|drain*|fail*) $SUDO scontrol update NodeName="$(hostname -s)" State=RESUME > /dev/null 2>&1 || true ;;
    esac
    sleep 0.5
  done
  say "the node did not become idle (state '${s:-no answer}'); logs in $state_dir/log"
  exit 1
}

stop_daemon() {  # pidfile name
  local pidfile="$1" name="$2"
  if pid_alive "$pidfile"; then
    local pid
    pid="$(cat "$pidfile")"
    say "stopping $name (pid $pid)"
    $SUDO kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && $SUDO kill -9 "$pid" 2>/dev/null || true
  fi
  $SUDO rm -f "$pidfile"
}

stop_all() {
  stop_daemon "$state_dir/slurmd.pid" slurmd
  stop_daemon "$state_dir/slurmctld.pid" slurmctld
  # munged is left running: other users of munge on this machine may need it, and it holds
  # no job state. Its pid file is munge's own.
}

case "${1:-}" in
  start)
    install_packages
    start_munge
    check_conf_owner
    refuse_foreign_ctld
    if write_config; then
      # A changed config: daemons started with the old one must restart (also those this
      # script did not start, when they read the same file).
      stop_everything
    fi
    start_ctld
    start_slurmd
    wait_idle
    ensure_config
    say "up: $(sinfo -h -o '%P %D %c CPUs %m MB %T' | tr '\n' ' ')"
    ;;
  stop)
    stop_all
    ;;
  status)
    if sinfo -h > /dev/null 2>&1; then
      sinfo -N -o '%N %T %c %m'
      exit 0
    fi
    say "not running"
    exit 1
    ;;
  restart-ctld)
    stop_daemon "$state_dir/slurmctld.pid" slurmctld
    start_ctld
    wait_idle
    ;;
  *)
    echo "usage: $0 start|stop|status|restart-ctld" >&2
    exit 2
    ;;
esac
