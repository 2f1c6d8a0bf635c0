#!/bin/sh
# failed-runs.sh [SINCE]: failed runs per workflow since SINCE (default 1d),
# most first, as "COUNT WORKFLOW LAST-RUN-ID": a pipeline of
# `loom ... -o json` (one JSON object a line) and jq(1).
#   $ contrib/examples/failed-runs.sh 7d
#   3 nightly-export exec-...
set -eu
loom execution list --status failed --since "${1:-1d}" --all -o json |
    jq -s -r 'group_by(.workflowId)
        | map({workflow: .[0].workflowId, n: length,
               last: (max_by(.createdAt) | .id)})
        | sort_by(-.n, .workflow)[]
        | "\(.n) \(.workflow) \(.last)"'
