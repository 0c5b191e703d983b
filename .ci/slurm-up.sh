#!/usr/bin/env bash
# Start a one-node SLURM cluster on this machine (Debian 12, as root, no systemd) for the
# `slurm` tests: installs munge + slurm, writes /etc/slurm/slurm.conf (one node with one GPU) and
# gres.conf, starts munged, slurmctld and slurmd directly and waits until the node is idle. Stop
# it with .ci/slurm-down.sh.
# Safe to rerun: a cluster that already answers is left alone.
set -euo pipefail
STATE=${SLURM_CI_STATE:-/var/tmp/tasktransfer-slurm}

if command -v sinfo >/dev/null && sinfo -h -o %T 2>/dev/null | grep -qx idle; then
    echo "slurm-up: a cluster already answers; leaving it alone"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "slurm-up: needs root (installs packages, starts daemons)" >&2
    exit 1
fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
    || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends munge slurmctld slurmd slurm-client >/dev/null
fi

host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
mkdir -p /etc/slurm "$STATE"/{ctld,spool,log} /run/munge /var/log/munge /var/lib/munge
# The executor's job step drops SLURM_CONF before calling srun: the config must sit at the
# default path. Without slurmdbd there is no sacct: the workflow's profile uses squeue for
# status, so finished jobs must stay visible to squeue for a while (MinJobAge).
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=tasktransfer-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MinJobAge=600
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MpiDefault=none
GresTypes=gpu
NodeName=$host CPUs=$cpus RealMemory=$mem_mb Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF

# One GPU on the node, so that the profile's GPU requests (sbatch --gpus=1) are scheduled as on a
# real cluster. Slurm drops a GPU without a device file ("Removing file-less GPU"), so it names
# /dev/null: bookkeeping only (no cgroup device limits here); jobs get CUDA_VISIBLE_DEVICES, torch
# finds no CUDA driver and runs on the CPU.
cat > /etc/slurm/gres.conf <<GRES
NodeName=$host Name=gpu Count=1 File=/dev/null
GRES

# munge: a key, then the daemon (as root; --force accepts root-owned paths)
if [ ! -s /etc/munge/munge.key ]; then
    if command -v mungekey >/dev/null; then mungekey --create --force; else
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none; fi
fi
chown root:root /etc/munge /etc/munge/munge.key /var/lib/munge /var/log/munge /run/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0600 /etc/munge/munge.key
chmod 0755 /run/munge
if ! munge -n >/dev/null 2>&1; then
    munged --force --pid-file="$STATE/munged.pid"
fi
for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
munge -n | unmunge >/dev/null

slurmctld -c
slurmd -c
for _ in $(seq 100); do
    if sinfo -h -o %T 2>/dev/null | grep -qx idle; then
        echo "slurm-up: node $host idle ($cpus CPUs, ${mem_mb} MB); state in $STATE"
        exit 0
    fi
    sleep 0.2
done
echo "slurm-up: the node did not become idle; logs:" >&2
tail -n 30 "$STATE"/log/*.log >&2 || true
sinfo -N -l >&2 || true
exit 1
