#!/usr/bin/env bash
# Prints how long one `berth recommend` takes as a whole process, and how many profiles a second the
# planner ranks in-process. Release build; figures, not assertions.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product berth >/dev/null
swift build -c release --product berth-bench >/dev/null
.build/release/berth-bench recommend --profiles Profiles --berth .build/release/berth --runs "${RUNS:-30}"
