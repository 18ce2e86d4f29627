# Shared by the PBS and LSF shims (tests/cluster/pbs_lsf): a fake scheduler kept in a state
# folder ($SHIM_STATE). Each command records its arguments in $SHIM_STATE/calls.log. Jobs
# advance one state per status call: queued -> (the element's batch script runs, for real,
# synchronously) running -> finished with the script's exit status. Outputs follow the formats
# of the fixture files in ../data (documented formats of PBS Pro, Torque and LSF).
set -u
STATE=${SHIM_STATE:?SHIM_STATE must name the shim state folder}
mkdir -p "$STATE/jobs"
printf '%s' "$(basename "$0")" >> "$STATE/calls.log"
for a in "$@"; do printf ' %q' "$a" >> "$STATE/calls.log"; done
echo >> "$STATE/calls.log"

# Next job number (one counter shared by every scheduler).
next_id() {
  local n=1233
  [ -f "$STATE/counter" ] && n=$(cat "$STATE/counter")
  n=$((n + 1))
  echo "$n" > "$STATE/counter"
  echo "$n"
}

# run_element DIR INDEX ENV...: runs the job's script with the scheduler's environment; records rc.
# With SHIM_RUNLIMIT_ONCE=FILE and no FILE yet, the element runs but is then reported as stopped
# at its time limit (rc "runlimit", FILE created): qstat says PBS's walltime kill, bjobs
# TERM_RUNLIMIT, whatever exit status the script recorded (as when the scheduler's SIGTERM kills
# the program and the script still records 128+15).
run_element() {
  local dir=$1 i=$2; shift 2
  if [ -n "${SHIM_RUNLIMIT_ONCE:-}" ] && [ ! -e "$SHIM_RUNLIMIT_ONCE" ]; then
    touch "$SHIM_RUNLIMIT_ONCE"
    ( cd "$STATE" && env "$@" /bin/bash "$(cat "$dir/script")" > "$dir/$i.log" 2>&1 ) || true
    echo runlimit > "$dir/$i.exit"
    return
  fi
  local rc=0
  ( cd "$STATE" && env "$@" /bin/bash "$(cat "$dir/script")" > "$dir/$i.log" 2>&1 ) || rc=$?
  echo "$rc" > "$dir/$i.exit"
}
