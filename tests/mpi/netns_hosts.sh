#!/usr/bin/env bash
# Three MPI hosts on one machine: a network namespace per host (veth pairs on an address-less
# bridge, addresses only inside the namespaces), its own host name (unshare --uts), and Open MPI
# launching over TCP between them through an rsh agent that enters the right namespace.
# Usage: netns_hosts.sh MPIRUN PROGRAM [ARGS...]     Exit 77 (skipped) when the machine does not allow it.
set -uo pipefail
mpirun=$1
shift
hosts=3

skip() { echo "netns_hosts: SKIPPED: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root to create network namespaces"
command -v ip >/dev/null || skip "needs ip (iproute2)"
command -v unshare >/dev/null || skip "needs unshare (util-linux)"

id=$$
subnet="10.77.$(( id % 200 + 20 ))"
bridge="frb$id"
work=$(mktemp -d)
ns() { echo "fronta$id-h$1"; }

cleanup() {
  for i in $(seq 1 $hosts); do
    ip netns del "$(ns "$i")" 2>/dev/null
    rm -rf "/etc/netns/$(ns "$i")"
  done
  ip link del "$bridge" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

ip netns add "$(ns 1)" 2>/dev/null || skip "cannot create a network namespace here (no CAP_SYS_ADMIN?)"
ip link add "$bridge" type bridge && ip link set "$bridge" up || skip "cannot create a bridge here"
for i in $(seq 1 $hosts); do
  n=$(ns "$i")
  [[ $i -eq 1 ]] || ip netns add "$n"
  ip link add "frv$id$i" type veth peer name "frp$id$i"
  ip link set "frv$id$i" master "$bridge" up
  ip link set "frp$id$i" netns "$n"
  ip -n "$n" link set lo up
  ip -n "$n" link set "frp$id$i" name eth0
  ip -n "$n" addr add "$subnet.$i/24" dev eth0
  ip -n "$n" link set eth0 up
  # `ip netns exec` puts /etc/netns/NAME/hosts over /etc/hosts: every host can resolve the others.
  mkdir -p "/etc/netns/$n"
  { echo "127.0.0.1 localhost"; for j in $(seq 1 $hosts); do echo "$subnet.$j h$j"; done; } >"/etc/netns/$n/hosts"
done

# Open MPI's rsh launcher runs: AGENT HOST COMMAND...
cat >"$work/agent" <<AGENT
#!/usr/bin/env bash
host=\$1; shift
exec ip netns exec "fronta$id-\$host" unshare --uts bash -c 'hostname "\$0"; eval "\$*"' "\$host" "\$@"
AGENT
chmod +x "$work/agent"
for i in $(seq 1 $hosts); do echo "h$i slots=1"; done >"$work/hostfile"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mca_base_component_disable_dlclose=1
echo "netns_hosts: $hosts hosts h1..h$hosts on $subnet.0/24; rank 0 on h1"
ip netns exec "$(ns 1)" unshare --uts bash -c 'hostname h1; exec "$@"' _ \
  timeout 240 "$mpirun" --hostfile "$work/hostfile" -n $hosts --mca plm_rsh_agent "$work/agent" \
  --mca btl tcp,self --mca btl_tcp_if_include "$subnet.0/24" --mca oob_tcp_if_include "$subnet.0/24" \
  -x FRONTA_MPI_EXPECT_HOSTS=$hosts "$@"
status=$?
echo "netns_hosts: exit status $status"
exit $status
