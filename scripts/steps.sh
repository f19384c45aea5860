# Sourced by the scripts here: `step NAME CMD...` runs CMD with its output kept in a log
# under .setup-logs/, prints one line for the step with its time, and on failure shows the
# end of the log and exits with the step's status. STEP_PREFIX names the script.
: "${STEP_PREFIX:=setup}"
step_logs="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.setup-logs"

step() {
  local name=$1; shift
  mkdir -p "$step_logs"
  local log="$step_logs/$(printf '%s' "$name" | tr -cs 'A-Za-z0-9' '-' | cut -c1-60).log"
  local started=$EPOCHREALTIME
  printf '%s: %s ...' "$STEP_PREFIX" "$name"
  # In the background so that `set -e` still applies inside CMD (it is ignored in an `if`).
  "$@" >"$log" 2>&1 </dev/null &
  local rc=0
  wait $! || rc=$?
  local secs
  secs=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  if [ "$rc" -eq 0 ]; then
    printf ' done (%ss)\n' "$secs"
  else
    printf ' FAILED (exit %s after %ss); the end of its output (whole log: %s):\n' "$rc" "$secs" "$log"
    tail -n 80 "$log" | sed 's/^/    /'
    exit "$rc"
  fi
}
