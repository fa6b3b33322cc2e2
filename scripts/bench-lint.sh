#!/usr/bin/env bash
# Generates 1,000 task definitions (EFS, EBS at launch, host and Docker volumes, some with mistakes)
# in a temporary directory and times one `berth lint` over all of them: the issue's target is under
# 1 s. Release build; prints the figure, asserts nothing. COUNT=… changes the number of files.
set -euo pipefail
cd "$(dirname "$0")/.."
count="${COUNT:-1000}"
swift build -c release --product berth >/dev/null
berth="$PWD/.build/release/berth"
dir="$(mktemp -d "${TMPDIR:-/tmp}/berth-bench-lint.XXXXXX")"
trap 'rm -rf "$dir"' EXIT

for ((i = 0; i < count; i++)); do
    case $((i % 4)) in
        0) volume='{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-0123456789abcdef0", "transitEncryption": "ENABLED", "authorizationConfig": {"accessPointId": "fsap-0123456789abcdef0", "iam": "ENABLED"}}}'
           compat=FARGATE image="repo/app-$i:1" ;;
        1) volume='{"name": "data", "configuredAtLaunch": true}'
           compat=FARGATE image="postgres:16" ;;
        2) volume='{"name": "data", "host": {"sourcePath": "/mnt/data"}}'
           compat=EC2 image="repo/app-$i:1" ;;
        3) volume='{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-0123456789abcdef0", "authorizationConfig": {"iam": "ENABLED"}}}'
           compat=FARGATE image="mysql:8" ;;
    esac
    cat > "$dir/td-$i.json" <<JSON
{
  "family": "app-$i",
  "requiresCompatibilities": ["$compat"],
  "networkMode": "awsvpc",
  "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
  "cpu": "512",
  "memory": "1024",
  "containerDefinitions": [
    {
      "name": "app-$i",
      "image": "$image",
      "essential": true,
      "environment": [{"name": "DATA_DIR", "value": "/data"}, {"name": "INSTANCE", "value": "$i"}],
      "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": false}]
    }
  ],
  "volumes": [
    $volume
  ]
}
JSON
done

start=$(date +%s.%N)
set +e
"$berth" lint "$dir" --format json > "$dir/findings.out" 2> "$dir/stderr.out"
status=$?
set -e
end=$(date +%s.%N)
if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then
    echo "berth lint failed (exit $status):" >&2
    cat "$dir/stderr.out" >&2
    exit 1
fi
findings=$(grep -c '"ruleId"' "$dir/findings.out" || true)
seconds=$(awk -v s="$start" -v e="$end" 'BEGIN { print e - s }')
printf 'berth lint: %d task definitions in %.3f s (%d findings, exit %d; target < 1 s)\n' "$count" "$seconds" "$findings" "$status"
