#!/usr/bin/env bash
# A one-node Slurm cluster from Debian's packages (slurm-wlm, munge), private to this run: its own
# munge key and socket, its own ports, state and logs in a scratch folder. Runs PROGRAM under
# `srun --mpi=pmix -n 3` and again through `sbatch --wait`, then stops both daemons.
# Usage: slurm_local.sh PROGRAM [ARGS...]      Exit 77 (skipped) when the machine does not allow it.
set -uo pipefail
skip() { echo "slurm_local: SKIPPED: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root to start slurmctld, slurmd and munged"
for tool in slurmctld slurmd munged srun sbatch scontrol; do
  command -v $tool >/dev/null || skip "needs $tool (Debian packages slurm-wlm and munge)"
done
id munge >/dev/null 2>&1 || skip "no munge user"

work=$(mktemp -d /tmp/fronta-slurm.XXXXXX)
chmod 755 "$work"
host=$(hostname -s)
port=$(( 20000 + $$ % 20000 ))
cleanup() {
  SLURM_CONF="$work/slurm.conf" scontrol shutdown >/dev/null 2>&1
  for pidfile in "$work/slurmctld.pid" "$work/slurmd.pid" "$work/munged.pid"; do
    [[ -s $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  sleep 0.5
  for pidfile in "$work/slurmctld.pid" "$work/slurmd.pid" "$work/munged.pid"; do
    [[ -s $pidfile ]] && kill -9 "$(cat "$pidfile")" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# munge: a key of our own, run as the munge user, on a socket of our own.
dd if=/dev/urandom of="$work/munge.key" bs=1024 count=1 status=none
chown munge:munge "$work/munge.key" && chmod 400 "$work/munge.key"
mkdir -p "$work/munge" && chown munge:munge "$work/munge"
runuser -u munge -- munged --socket="$work/munge/munge.socket" --key-file="$work/munge.key" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge/seed" \
  || skip "munged did not start"
cp "$work/munge/munged.pid" "$work/munged.pid" 2>/dev/null

mkdir -p "$work/state" "$work/spool"
cat >"$work/slurm.conf" <<CONF
ClusterName=fronta
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/munge.socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=pmix
ReturnToService=2
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=10 State=UP OverSubscribe=FORCE
CONF
export SLURM_CONF="$work/slurm.conf"
slurmctld -f "$SLURM_CONF" || skip "slurmctld did not start: $(tail -3 "$work/slurmctld.log" 2>/dev/null)"
slurmd -f "$SLURM_CONF" || skip "slurmd did not start: $(tail -3 "$work/slurmd.log" 2>/dev/null)"
for _ in $(seq 1 100); do
  sinfo -h -o %T 2>/dev/null | grep -qE "^idle" && break
  sleep 0.2
done
sinfo -h -o %T 2>/dev/null | grep -qE "^idle" || { echo "slurm_local: the node did not come up:"; tail -5 "$work/slurmd.log" "$work/slurmctld.log"; exit 1; }
echo "slurm_local: controller and node $host up (port $port)"

ranks=$(nproc)  # no more tasks than the node's CPUs, or the job waits in the queue forever
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mca_base_component_disable_dlclose=1
echo "slurm_local: srun --mpi=pmix -n $ranks $*"
timeout 120 srun --mpi=pmix -n "$ranks" --time=2 "$@" || { echo "slurm_local: srun failed"; exit 1; }

{ echo "#!/bin/bash"; echo "#SBATCH --ntasks=$ranks"; echo "#SBATCH --time=2";
  printf 'srun --mpi=pmix'; printf ' %q' "$@"; echo; } >"$work/job.sh"
echo "slurm_local: sbatch --wait job.sh"
timeout 120 sbatch --wait --chdir="$PWD" -o "$work/job.out" "$work/job.sh" >/dev/null || { echo "slurm_local: sbatch failed"; cat "$work/job.out"; exit 1; }
cat "$work/job.out"
echo "slurm_local: done"
