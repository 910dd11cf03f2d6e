#!/usr/bin/env bash
# A throwaway single-node SLURM cluster on this machine, for testing the slurm profile.
#
#   workflows/ci/slurm.sh up     # install (apt-get) if needed, start munged, slurmctld, slurmd
#   workflows/ci/slurm.sh down   # stop what `up` started (by PID file), remove its files
#   workflows/ci/slurm.sh status
#
# Needs root (or passwordless sudo) and a Debian/Ubuntu machine without a SLURM cluster of
# its own: it writes /etc/slurm/slurm.conf (the plugin's job step drops SLURM_CONF before
# its inner srun, so the file must be at the default path) and refuses to replace one it
# did not write. No systemd: the daemons are started here and stopped by their PID files,
# never by name. State, spool, logs and PID files live in $GENOMEKIT_SLURM_DIR
# (default /tmp/genomekit-slurm). Accounting is off: use `slurm-status-command: squeue`
# (MinJobAge below is long enough for it). Exit status: 0 ok, 1 failure, 3 cannot run here
# (no root, no apt-get, or a real cluster's slurm.conf), so a caller can tell "skip" from
# "broken".
set -euo pipefail

DIR=${GENOMEKIT_SLURM_DIR:-/tmp/genomekit-slurm}
CONF=/etc/slurm/slurm.conf
MARKER="# genomekit-ci-cluster"
PARTITION=${GENOMEKIT_SLURM_PARTITION:-ci}
PACKAGES="slurmctld slurmd slurm-client munge"

log() { echo "slurm.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi

alive() { [ -s "$1" ] && $SUDO kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pidfile() {  # stop_pidfile NAME PIDFILE: TERM, wait up to 15 s, then KILL
    local name=$1 pidfile=$2 pid i
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if $SUDO kill -0 "$pid" 2>/dev/null; then
        log "stopping $name (pid $pid)"
        $SUDO kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 30); do $SUDO kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        if $SUDO kill -0 "$pid" 2>/dev/null; then
            log "$name (pid $pid) ignored TERM; killing it"
            $SUDO kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    $SUDO rm -f "$pidfile"
}

install_packages() {
    local missing=""
    for b in slurmctld slurmd sbatch squeue munged mungekey; do
        command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || missing=1
    done
    [ -z "$missing" ] && return 0
    command -v apt-get >/dev/null || { log "SLURM is not installed and there is no apt-get"; exit 3; }
    log "installing $PACKAGES with apt-get"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PACKAGES >/dev/null
}

start_munge() {
    # An already running munged (a real cluster's, or a previous run's) is used, not restarted.
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        log "munged already running; using it"
        return 0
    fi
    if [ ! -s /etc/munge/munge.key ]; then
        log "creating /etc/munge/munge.key"
        $SUDO mungekey -c -k /etc/munge/munge.key 2>/dev/null \
            || $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    $SUDO chown munge:munge /etc/munge/munge.key
    $SUDO chmod 400 /etc/munge/munge.key
    $SUDO mkdir -p /run/munge
    $SUDO chown munge:munge /run/munge
    $SUDO chmod 755 /run/munge
    $SUDO su -s /bin/sh munge -c "/usr/sbin/munged --pid-file=/run/munge/munged.pid"
    $SUDO cp /run/munge/munged.pid "$DIR/munged.pid"  # ours to stop at `down`
    for _ in $(seq 1 20); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
        sleep 0.25
    done
    die "munged does not answer (see /var/log/munge/munged.log)"
}

write_conf() {
    local node cpus_mem host
    host=$(hostname -s)
    # slurmd -C prints this machine's node line, e.g.
    # NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105
    node=$(/usr/sbin/slurmd -C | head -1)
    [[ $node == NodeName=* ]] || die "unexpected 'slurmd -C' output: $node"
    cpus_mem=${node#NodeName=* }
    $SUDO mkdir -p /etc/slurm
    $SUDO tee "$CONF" >/dev/null <<EOF
$MARKER state=$DIR
# Written by workflows/ci/slurm.sh for a test run; removed by 'slurm.sh down'.
ClusterName=genomekit-ci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups or systemd on a test machine.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Finished jobs stay visible to squeue for 10 minutes: the executor plugin's squeue status
# command needs MinJobAge >= 3 x slurm-init-seconds-before-status-checks.
MinJobAge=600
MailProg=/bin/true
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 $cpus_mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

wait_idle() {
    local host state
    host=$(hostname -s)
    for _ in $(seq 1 60); do
        state=$(sinfo -h -n "$host" -o %T 2>/dev/null | head -1 || true)
        case $state in
            idle|mixed|allocated) log "node $host is $state"; return 0 ;;
            down*|drain*) $SUDO scontrol update nodename="$host" state=resume 2>/dev/null || true ;;
        esac
        sleep 0.5
    done
    die "node $host did not become idle (state '$state'); see $DIR/log/"
}

up() {
    [ "$SUDO" = none ] && { log "needs root or passwordless sudo"; exit 3; }
    command -v apt-get >/dev/null || command -v slurmctld >/dev/null || [ -x /usr/sbin/slurmctld ] \
        || { log "no apt-get and no SLURM"; exit 3; }
    if [ -e "$CONF" ]; then
        if ! head -1 "$CONF" | grep -q "^$MARKER"; then
            log "$CONF exists and was not written by this script: not replacing a real cluster's configuration"
            exit 3
        fi
        # Left by an earlier run that was killed before its `down`: stop it (its PID files).
        local old
        old=$(head -1 "$CONF" | sed 's/.*state=//')
        if alive "$old/slurmctld.pid" || alive "$old/slurmd.pid" || alive "$old/munged.pid"; then
            log "stopping the test cluster left running in $old"
            GENOMEKIT_SLURM_DIR=$old bash "$0" down
        fi
    fi
    install_packages
    $SUDO mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
    start_munge
    write_conf
    $SUDO /usr/sbin/slurmctld -i  # -i: ignore (absent) saved state
    $SUDO /usr/sbin/slurmd
    for _ in $(seq 1 40); do scontrol ping >/dev/null 2>&1 && break; sleep 0.25; done
    scontrol ping >/dev/null 2>&1 || die "slurmctld does not answer; see $DIR/log/slurmctld.log"
    wait_idle
    log "cluster up: partition '$PARTITION', state in $DIR"
}

down() {
    [ "$SUDO" = none ] && { log "needs root or passwordless sudo"; exit 3; }
    if alive "$DIR/slurmctld.pid"; then
        # Jobs left by a killed run: cancel them while the cluster can still do it.
        scancel --partition="$PARTITION" 2>/dev/null || true
        for _ in $(seq 1 20); do
            [ -z "$(squeue -h -t PENDING,RUNNING,COMPLETING -p "$PARTITION" 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
    stop_pidfile slurmd "$DIR/slurmd.pid"
    stop_pidfile slurmctld "$DIR/slurmctld.pid"
    if [ -s "$DIR/munged.pid" ]; then
        stop_pidfile munged "$DIR/munged.pid"
        $SUDO rm -f /run/munge/munged.pid
    fi
    if [ -e "$CONF" ] && head -1 "$CONF" | grep -q "^$MARKER state=$DIR\$"; then
        $SUDO rm -f "$CONF"
    fi
    case $DIR in /tmp/*|/var/tmp/*) $SUDO rm -rf "$DIR" ;; esac
    log "cluster down"
}

status() {
    alive "$DIR/slurmctld.pid" && echo "slurmctld running (pid $(cat "$DIR/slurmctld.pid"))" || echo "slurmctld not running"
    alive "$DIR/slurmd.pid" && echo "slurmd running (pid $(cat "$DIR/slurmd.pid"))" || echo "slurmd not running"
    sinfo 2>/dev/null || true
}

case ${1:-} in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
