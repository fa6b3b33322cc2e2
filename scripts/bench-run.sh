#!/usr/bin/env bash
# Measures `berth run` against the container engine alone (docs/RUN.md, "Measured"):
#   start:   time from `berth run` to the first line of container output, minus the same for
#            `podman run` of the same image and command without Berth (target: under 1 s);
#   cleanup: time from Berth seeing the last container exit to `berth run` returning with every
#            container, mount, attachment and per-task EBS volume released (target: under 1 s).
# Needs root, /dev/fuse, podman and busybox-static; builds its own image. Prints figures, asserts nothing.
# Usage: scripts/bench-run.sh [ROUNDS]   (default 5; medians are printed)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
berth=${BERTH:-.build/debug/berth}
[ -x "$berth" ] || swift build >/dev/null
work=$(mktemp -d /tmp/berth-bench-run.XXXXXX)
chmod 700 "$work"
export BERTH_STATE_DIR=$work/state BERTH_RUN_DIR=$work/runs
trap 'rm -rf "$work"' EXIT

busybox=$(command -v busybox || echo /bin/busybox)
mkdir -p "$work/rootfs/bin"
cp "$busybox" "$work/rootfs/bin/busybox"
for a in sh echo cat sleep; do ln -s busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
image=localhost/berth-bench-busybox:1
podman import "$work/rootfs.tar" "$image" >/dev/null

runtime=(); command -v runc >/dev/null && runtime=(--runtime runc)
limits=(--ulimit "nofile=$(ulimit -Sn):$(ulimit -Hn)" --ulimit "nproc=4096:4096")

fs=$("$berth" volume create --type efs --az us-east-1a)
cat > "$work/td.json" <<JSON
{"volumes": [{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "$fs"}},
             {"name": "db", "configuredAtLaunch": true}],
 "containerDefinitions": [{"name": "app", "image": "$image", "command": ["echo", "first line"],
   "mountPoints": [{"sourceVolume": "data", "containerPath": "/data"}, {"sourceVolume": "db", "containerPath": "/db"}]}]}
JSON

now() { date +%s%N; }
# Runs "$@", printing: ns to the first line of output, ns from the line matching $marker to the end.
measure() {
  local marker=$1; shift
  local start first=0 mark=0 end
  start=$(now)
  while IFS= read -r line; do
    [ "$first" = 0 ] && [[ "$line" != "berth run: "* ]] && first=$(now)
    [[ "$line" == *"$marker"* ]] && mark=$(now)
  done < <("$@" 2>&1)
  end=$(now)
  echo "$((first - start)) $(( mark > 0 ? end - mark : 0 ))"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { awk -v ns="$1" 'BEGIN {printf "%.0f ms", ns / 1e6}'; }

engine_first=(); berth_first=(); berth_cleanup=()
for _ in $(seq "$rounds"); do
  read -r f _ < <(measure "no marker" podman "${runtime[@]}" run --rm "${limits[@]}" "$image" echo "first line")
  engine_first+=("$f")
  read -r f c < <(measure "exited with" "$berth" run "$work/td.json" --ebs db=1)
  berth_first+=("$f"); berth_cleanup+=("$c")
done
ef=$(printf '%s\n' "${engine_first[@]}" | median)
bf=$(printf '%s\n' "${berth_first[@]}" | median)
bc=$(printf '%s\n' "${berth_cleanup[@]}" | median)
echo "rounds: $rounds (medians); task: 1 EFS mount + 1 new 1 GiB EBS volume, image $image"
echo "engine alone, podman run to first line:   $(ms "$ef")"
echo "berth run to first line:                  $(ms "$bf")"
echo "berth's own start (difference):           $(ms $((bf - ef)))   target < 1000 ms"
echo "cleanup after the last container exited:  $(ms "$bc")   target < 1000 ms"
left=$("$berth" run list 2>/dev/null; "$berth" volume list --format json | grep -c '"vol-' || true)
echo "left behind after the rounds: runs/EBS volumes: ${left:-none}"
podman rmi "$image" >/dev/null 2>&1 || true
