#!/usr/bin/env bash
# The small profile's one ECS task (terraform/modules/dagster, profile = "small"): the code server,
# the webserver and the daemon, each with its production command, all on loopback. Runs are
# subprocesses of the code server (deploy/dagster-small.yaml: the default run launcher). If any of
# the three exits, the others are stopped and the script exits with that status, so that ECS
# replaces the whole task; SIGTERM (a deployment, a scale-in) stops all three.
#   DAGSTER_HOME       the instance (the image: /opt/dagster/home-small, deploy/dagster-small.yaml)
#   DAGSTER_CODE_PORT  the code server's loopback port (default 4000)
#   DAGSTER_UI_PORT    the webserver's loopback port (default 3000; operators reach it through a
#                      Session Manager port forward, docs/operations/deploying.md)
set -uo pipefail
# Job control: each child leads its own process group and keeps SIGINT, which Dagster's processes
# also take SIGTERM as (a script's background jobs would otherwise ignore both).
set -m

code_port="${DAGSTER_CODE_PORT:-4000}"
ui_port="${DAGSTER_UI_PORT:-3000}"
children=()

# SIGTERM to each child's process group (a run and the code server's gRPC process with it), then,
# after 25 s (ECS's stopTimeout is 30 s), SIGKILL to what is left.
stop_all() {
  trap - TERM INT
  local pid alive
  for pid in "${children[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
  for _ in $(seq 25); do
    alive=0
    for pid in "${children[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && break
    sleep 1
  done
  for pid in "${children[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
  wait
}
trap 'stop_all; exit 143' TERM INT

dagster code-server start --host 127.0.0.1 --port "$code_port" \
  --module-name health_pipeline.definitions --location-name health_pipeline &
children+=("$!")

# The webserver and the daemon start once the code location answers, so that neither begins with
# the location in error.
until dagster api grpc-health-check --host 127.0.0.1 --port "$code_port" >/dev/null 2>&1; do
  if ! kill -0 "${children[0]}" 2>/dev/null; then
    wait "${children[0]}"
    status=$?
    echo "small-task: the code server exited ($status) before it served" >&2
    exit "$status"
  fi
  sleep 2
done

# Their workspace: the code server on loopback, under the name the standard profile's has too.
workspace="$(mktemp -d)/workspace.yaml"
printf 'load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: %s\n      location_name: %s\n' \
  "$code_port" health_pipeline >"$workspace"

dagster-webserver --host 127.0.0.1 --port "$ui_port" --workspace "$workspace" &
children+=("$!")
dagster-daemon run --workspace "$workspace" &
children+=("$!")

wait -n "${children[@]}"
status=$?
[ "$status" -eq 0 ] && status=1 # a server that ends is a failure of the task all the same
echo "small-task: a process exited; stopping the task (exit $status)" >&2
stop_all
exit "$status"
