#!/usr/bin/env bash
# Stop the one-node cluster that .ci/slurm-up.sh started, by the PIDs its daemons wrote.
set -uo pipefail
STATE=${SLURM_CI_STATE:-/var/tmp/tasktransfer-slurm}
for name in slurmd slurmctld munged; do
    pidfile="$STATE/$name.pid"
    [ -s "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$pidfile"
done
echo "slurm-down: stopped"
