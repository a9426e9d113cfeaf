#!/usr/bin/env bash
# Reads the output directory of tests/soak/soak.sh, prints the result table, writes
# summary.json there, and exits 0 when every check passed, 1 when one failed.
# soak.sh runs it at the end; it can be run again on a kept directory:
#   tests/soak/analyze.sh /tmp/mmc-soak.XXXXXX
set -euo pipefail
export LC_ALL=C
out=${1:?usage: tests/soak/analyze.sh OUTPUT_DIR}
# shellcheck disable=SC1091
. "$out/params.env"
: >>"$out/stalls.tsv"

# ---- requests: access log lines classified by phase and by fault window
# access.log: "<start s.µs> <status> <duration µs> <child pid> <error text...>"
# windows.tsv: kind target start_us end_us; phases.tsv: name start_us
awk -v bound="$bound_us" -v grace="$grace_us" -v out="$out" '
BEGIN { nw = 0; np = 0; ns = 0 }
# the longest scheduling stall (lateness of a 50 ms nap, µs) overlapping [from, to]
function stall_near(from, to,   lo, hi, mid, m) {
  if (ns == 0) return 0
  lo = 0; hi = ns
  while (lo < hi) { mid = int((lo + hi) / 2); if (ss[mid] < from - 2000000) lo = mid + 1; else hi = mid }
  m = 0
  for (; lo < ns && ss[lo] <= to; lo++) if (ss[lo] + 50000 + sl[lo] >= from && sl[lo] > m) m = sl[lo]
  return m
}
function phase_of(t,   i, p) { p = "before"; for (i = 0; i < np; i++) if (ps[i] <= t) p = pn[i]; return p }
# index of the last window starting at or before t, or -1 (windows are in time order)
function last_window(t,   lo, hi, mid) {
  lo = 0; hi = nw - 1
  if (nw == 0 || ws[0] > t) return -1
  while (lo < hi) { mid = int((lo + hi + 1) / 2); if (ws[mid] <= t) lo = mid; else hi = mid - 1 }
  return lo
}
FILENAME ~ /windows\.tsv$/ { split($0, f, "\t"); wk[nw] = f[1]; wt[nw] = f[2]; ws[nw] = f[3] + 0; we[nw] = f[4] + 0; nw++; next }
FILENAME ~ /phases\.tsv$/  { split($0, f, "\t"); pn[np] = f[1]; ps[np] = f[2] + 0
                             if (f[1] == "main") ps_main = ps[np]; if (f[1] == "after-main") ps_after = ps[np]; np++; next }
FILENAME ~ /stalls\.tsv$/  { split($0, f, "\t"); ss[ns] = f[1] + 0; sl[ns] = f[2] + 0; ns++; next }
{
  split($1, a, "."); t = a[1] * 1000000 + a[2]; st = $2; d = $3 + 0; e = t + d
  ph = phase_of(t)
  n[ph]++; total++
  k = last_window(e)
  inwin = (k >= 0 && we[k] + grace >= t)
  if (inwin) { nin++; if (d > maxin) maxin = d; if (d > wmax[k]) wmax[k] = d; wreq[k]++ }
  else       { nout++; if (d > maxout) { maxout = d; maxout_t = t } }
  if (st !~ /^2/) {
    msg = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ [^ ]+ ?/, "", msg); if (msg == "" || msg == "-") msg = "(no error text)"
    reason[st " " msg]++
    if (inwin) { non_in++; non_kind[wk[k]]++; wnon[k]++ }
    else {
      non_out++
      sn = stall_near(t - 1000000, e); if (sn >= 100000) non_out_stalled++
      if (non_out <= 50) printf "%s  phase=%s  (%s; longest scheduling stall from 1 s before to the end: %.0f ms)\n", $0, ph, (k >= 0 ? sprintf("%.3f s after window %d %s %s ended", (t - we[k]) / 1e6, k, wk[k], wt[k]) : "before any window"), sn / 1000 > (out "/non2xx-outside.txt")
    }
  }
  if (d > bound) { over++; if (over <= 50) printf "%s  phase=%s window=%s longest stall %.0f ms\n", $0, ph, (inwin ? wk[k] " " wt[k] : "none"), stall_near(t - 1000000, e) / 1000 > (out "/over-bound.txt") }
  if (ph == "trickle-end") tpid[$4] = 1
  if (ph == "trickle-start") spid[$4] = 1
}
END {
  printf "requests_total=%d\n", total
  printf "requests_warmup=%d\nrequests_main=%d\nrequests_trickle=%d\n", n["warmup"], n["main"], n["trickle-start"] + n["trickle-end"]
  printf "requests_other=%d\n", total - n["warmup"] - n["main"] - n["trickle-start"] - n["trickle-end"]
  printf "requests_in_windows=%d\nrequests_outside_windows=%d\n", nin, nout
  printf "non2xx_in_windows=%d\nnon2xx_outside_windows=%d\n", non_in, non_out
  printf "non2xx_kill=%d\nnon2xx_stop=%d\nnon2xx_graceful=%d\n", non_kind["kill"], non_kind["stop"], non_kind["graceful"]
  printf "max_us_in_windows=%d\nmax_us_outside_windows=%d\nover_bound=%d\n", maxin, maxout, over
  printf "non2xx_outside_stalled=%d\n", non_out_stalled
  printf "max_outside_stall_us=%d\n", stall_near(maxout_t - 1000000, maxout_t + maxout)
  for (i = 0; i < ns; i++) if (ss[i] >= ps_main && ss[i] < ps_after) { if (sl[i] >= 100000) st100++; if (sl[i] > stmax) stmax = sl[i] }
  printf "stalls_100ms=%d\nstall_max_us=%d\n", st100, stmax
  c = 0; for (p in tpid) c++; printf "trickle_end_children=%d\n", c
  c = 0; for (p in spid) c++; printf "trickle_start_children=%d\n", c
  # per window: kind target start end requests non2xx max_us
  for (i = 0; i < nw; i++)
    printf "%s\t%s\t%.6f\t%.3f\t%d\t%d\t%d\n", wk[i], wt[i], ws[i] / 1e6, (we[i] - ws[i]) / 1e6, wreq[i], wnon[i], wmax[i] > (out "/windows-detail.tsv")
  for (r in reason) printf "%d\t%s\n", reason[r], r > (out "/non2xx-reasons.txt")
}' "$out/windows.tsv" "$out/phases.tsv" "$out/stalls.tsv" "$out/access.log" >"$out/requests.env"
: >>"$out/windows-detail.tsv"; : >>"$out/non2xx-reasons.txt"
# shellcheck disable=SC1091
. "$out/requests.env"

# ---- fault windows, by kind
count_kind() { awk -F'\t' -v k="$1" '$1 == k' "$out/windows.tsv" | wc -l; }
max_kind() { awk -F'\t' -v k="$1" '$1 == k && $7 > m { m = $7 } END { print m + 0 }' "$out/windows-detail.tsv"; }
windows_kill=$(count_kind kill) windows_stop=$(count_kind stop) windows_graceful=$(count_kind graceful)
max_us_kill=$(max_kind kill) max_us_stop=$(max_kind stop) max_us_graceful=$(max_kind graceful)

# ---- wrk's own count (the main run)
wrk_requests=$(awk '/requests in/ { print $1 }' "$out/wrk-main.txt" 2>/dev/null || true)
wrk_non2xx=$(awk -F': ' '/Non-2xx/ { print $2 }' "$out/wrk-main.txt" 2>/dev/null || true)
wrk_socket_errors=$(sed -n 's/.*Socket errors: //p' "$out/wrk-main.txt" 2>/dev/null || true)
wrk_rps=$(awk '/Requests\/sec/ { print $2 }' "$out/wrk-main.txt" 2>/dev/null || true)
wrk_p99=$(awk '$1 == "99%" { print $2 }' "$out/wrk-main.txt" 2>/dev/null || true)

# ---- crashes
crash_pattern='exit signal|Segmentation fault|AH0005[012]|dumped core|terminate called|double free|stack smashing|AH00060|AH00061'
cat "$out/error.log" "$out/httpd.stderr" 2>/dev/null | grep -E "$crash_pattern" >"$out/crash-lines.txt" || true
crash_lines=$(wc -l <"$out/crash-lines.txt")
mc_errors=$(grep -c '\[memcache:error\]' "$out/error.log" || true)
mc_infos=$(grep -c '\[memcache:info\]' "$out/error.log" || true)

# ---- children: descriptors and RSS, idle at the start vs idle at the end
tag_stat() {  # tag column(4 fd, 5 rss) min|max|count
  awk -F'\t' -v t="$1" -v c="$2" -v w="$3" '$1 == t { n++; v = $c + 0; if (n == 1 || v < lo) lo = v; if (v > hi) hi = v }
    END { if (w == "min") print lo + 0; else if (w == "max") print hi + 0; else print n + 0 }' "$out/samples.tsv"
}
children_start=$(tag_stat start 4 count) children_end=$(tag_stat end 4 count)
fd_start_min=$(tag_stat start 4 min) fd_start_max=$(tag_stat start 4 max)
fd_end_min=$(tag_stat end 4 min) fd_end_max=$(tag_stat end 4 max)
rss_start_max=$(tag_stat start 5 max) rss_end_max=$(tag_stat end 5 max)
fd_run_max=$(tag_stat run 4 max) rss_run_max=$(tag_stat run 5 max)
fd_run_bound=$((fd_start_max + servers * pool_max + connections + 8))
parent_fd_start=$(awk -F'\t' '$1 == "start" { print $2 }' "$out/parent.tsv" 2>/dev/null || true)
parent_fd_end=$(awk -F'\t' '$1 == "end" { print $2 }' "$out/parent.tsv" 2>/dev/null || true)
parent_rss_start=$(awk -F'\t' '$1 == "start" { print $3 }' "$out/parent.tsv" 2>/dev/null || true)
parent_rss_end=$(awk -F'\t' '$1 == "end" { print $3 }' "$out/parent.tsv" 2>/dev/null || true)
parent_fd_start=${parent_fd_start:-0} parent_fd_end=${parent_fd_end:-0}
parent_rss_start=${parent_rss_start:-0} parent_rss_end=${parent_rss_end:-0}
children_seen=$(awk -F'\t' '{ p[$3] = 1 } END { for (k in p) c++; print c + 0 }' "$out/samples.tsv")

# ---- memcached connections once idle (curr_connections counts the stats connection)
mc_rows=""
mc_over=0 mc_under=0
for tag in start end; do
  nch=$([ "$tag" = start ] && echo "$children_start" || echo "$children_end")
  while IFS=$'\t' read -r t i curr; do
    [ "$t" = "$tag" ] || continue
    conns=$(( ${curr:-0} - 1 ))
    lo=$((nch * pool_min)) hi=$((nch * pool_smax))
    [ "$conns" -gt "$hi" ] && mc_over=$((mc_over + 1))
    [ "$conns" -lt "$lo" ] && mc_under=$((mc_under + 1))
    mc_rows+="$tag $i $conns $lo $hi"$'\n'
  done <"$out/mc-conns.tsv"
done

# ---- checks
fail=()
[ "$crash_lines" -eq 0 ] || fail+=("crash lines in the error log: $crash_lines")
[ "$unexpected_exits" -eq 0 ] || fail+=("httpd children gone without a graceful restart: $unexpected_exits")
[ "$non2xx_outside_windows" -eq 0 ] || fail+=("non-2xx outside fault windows: $non2xx_outside_windows")
[ "$over_bound" -eq 0 ] || fail+=("requests longer than the bound (${bound_us} µs): $over_bound")
[ "$fd_end_max" -le $((fd_start_max + fd_slack)) ] || fail+=("descriptors of idle children grew: $fd_start_max at the start, $fd_end_max at the end")
[ "$parent_fd_end" -le "$parent_fd_start" ] || fail+=("descriptors of the httpd parent grew: $parent_fd_start at the start, $parent_fd_end at the end")
[ "$fd_run_max" -le "$fd_run_bound" ] || fail+=("a child held $fd_run_max descriptors under load (bound $fd_run_bound)")
[ "$mc_over" -eq 0 ] || fail+=("idle memcached connections above children x smax on $mc_over server sample(s)")
[ "${requests_main:-0}" -gt 0 ] || fail+=("no request served in the main run")
[ "$windows_kill" -gt 0 ] && [ "$windows_stop" -gt 0 ] && [ "$windows_graceful" -gt 0 ] ||
  fail+=("not every fault kind ran (kill $windows_kill, stop $windows_stop, graceful $windows_graceful): run longer")
warn=()
[ "$mc_under" -eq 0 ] || warn+=("idle memcached connections below children x min on $mc_under server sample(s)")
[ "$children_end" -eq "$trickle_end_children" ] || warn+=("the end trickle reached $trickle_end_children of $children_end children (their pools were not trimmed)")

# ---- table
ms() { awk -v u="$1" 'BEGIN { printf "%.1f ms", u / 1000 }'; }
{
  echo
  echo "mod_memcache fault soak: $mpm MPM, $servers memcached, $((seconds / 60)) min $((seconds % 60)) s loaded, $cycles fault cycles"
  echo "command: $command"
  echo
  printf '%-52s %s\n' "requests served (access log, all phases)" "$requests_total"
  printf '%-52s %s\n' "  main run / warm-up / idle trickles" "$requests_main / $requests_warmup / $requests_trickle"
  printf '%-52s %s\n' "  wrk (main run): requests, req/s, p99, non-2xx" "${wrk_requests:-?}, ${wrk_rps:-?}, ${wrk_p99:-?}, ${wrk_non2xx:-0}"
  printf '%-52s %s\n' "  wrk socket errors (main run)" "${wrk_socket_errors:-none}"
  printf '%-52s %s\n' "fault windows: kill+restart / stop+cont / graceful" "$windows_kill / $windows_stop / $windows_graceful"
  printf '%-52s %s\n' "requests in / outside fault windows" "$requests_in_windows / $requests_outside_windows"
  printf '%-52s %s\n' "non-2xx during fault windows" "$non2xx_in_windows (kill $non2xx_kill, stop $non2xx_stop, graceful $non2xx_graceful)"
  printf '%-52s %s\n' "non-2xx outside fault windows (must be 0)" "$non2xx_outside_windows"
  printf '%-52s %s\n' "longest request in fault windows" "$(ms "$max_us_in_windows") (kill $(ms "$max_us_kill"), stop $(ms "$max_us_stop"), graceful $(ms "$max_us_graceful"))"
  printf '%-52s %s\n' "longest request outside fault windows" "$(ms "$max_us_outside_windows")"
  printf '%-52s %s\n' "bound: 2 ops x (acquire+connect+timeout) + slack" "$(ms "$bound_us"); requests over it: $over_bound"
  if [ -n "${cpu_pressure_pct:-}" ]; then
    printf '%-52s %s\n' "  outside-window non-2xx near a stall >= 100 ms" "$non2xx_outside_stalled"
    printf '%-52s %s\n' "  longest stall near the longest request outside" "$(ms "$max_outside_stall_us")"
  fi
  printf '%-52s %s\n' "crash lines in error log / children lost" "$crash_lines / $unexpected_exits"
  printf '%-52s %s\n' "memcache error / info lines in error log" "$mc_errors / $mc_infos"
  if [ -n "${cpu_pressure_pct:-}" ]; then
    printf '%-52s %s\n' "machine: load avg at start / end of the main run" "$load_start / $load_end"
    printf '%-52s %s\n' "  CPU pressure (some task waiting), main run" "$cpu_pressure_pct%"
    printf '%-52s %s\n' "  scheduling stalls >= 100 ms / longest" "$stalls_100ms / $(ms "$stall_max_us")"
  fi
  printf '%-52s %s\n' "httpd children sampled (all generations)" "$children_seen"
  printf '%-52s %s\n' "idle children at start: count, fds, max RSS" "$children_start, $fd_start_min-$fd_start_max, $rss_start_max kB"
  printf '%-52s %s\n' "idle children at end:   count, fds, max RSS" "$children_end, $fd_end_min-$fd_end_max, $rss_end_max kB"
  printf '%-52s %s\n' "httpd parent at start / end: fds, RSS" "$parent_fd_start, $parent_rss_start kB / $parent_fd_end, $parent_rss_end kB"
  printf '%-52s %s\n' "most fds / RSS of any child under load" "$fd_run_max (bound $fd_run_bound) / $rss_run_max kB"
  echo
  echo "per idle child (tag pid fds rss_kB):"
  awk -F'\t' '$1 == "start" || $1 == "end" { printf "  %-6s %-8s %4s %8s\n", $1, $3, $4, $5 }' "$out/samples.tsv"
  echo "memcached connections once idle (tag server conns expected children x min..smax):"
  printf '%s' "$mc_rows" | awk 'NF { printf "  %-6s mc%-4s %4s   %s..%s\n", $1, $2, $3, $4, $5 }'
  echo "non-2xx by status and error:"
  sort -rn "$out/non2xx-reasons.txt" | awk -F'\t' '{ printf "  %7d  %s\n", $1, $2 }'
  echo
  for w in "${warn[@]}"; do echo "NOTE: $w"; done
  if [ ${#fail[@]} -eq 0 ]; then echo "RESULT: PASS"; else for f in "${fail[@]}"; do echo "FAIL: $f"; done; echo "RESULT: FAIL"; fi
  echo "details: $out (windows-detail.tsv, non2xx-outside.txt, over-bound.txt, crash-lines.txt, events.log)"
} | tee "$out/report.txt"

# ---- summary.json
json_list() { local s="" x; for x in "$@"; do x=${x//\\/\\\\}; s+="${s:+, }\"${x//\"/\\\"}\""; done; echo "[$s]"; }
children_json() {
  awk -F'\t' -v t="$1" 'BEGIN { s = "" } $1 == t { s = s (s == "" ? "" : ", ") sprintf("{\"pid\": %s, \"fds\": %s, \"rss_kb\": %s}", $3, $4, $5) } END { print "[" s "]" }' "$out/samples.tsv"
}
mc_json=$(printf '%s' "$mc_rows" | awk 'NF { s = s (s == "" ? "" : ", ") sprintf("{\"when\": \"%s\", \"server\": %s, \"connections\": %s, \"expected_min\": %s, \"expected_max\": %s}", $1, $2, $3, $4, $5) } END { print "[" s "]" }')
windows_json=$(awk -F'\t' '{ s = s (s == "" ? "" : ",\n    ") sprintf("{\"kind\": \"%s\", \"target\": \"%s\", \"start\": %s, \"seconds\": %s, \"requests\": %d, \"non2xx\": %d, \"max_us\": %d}", $1, $2, $3, $4, $5, $6, $7) } END { print "[" s "]" }' "$out/windows-detail.tsv")
cat >"$out/summary.json" <<JSON
{
  "result": "$([ ${#fail[@]} -eq 0 ] && echo pass || echo fail)",
  "failures": $(json_list "${fail[@]}"),
  "notes": $(json_list "${warn[@]}"),
  "command": "$command",
  "mpm": "$mpm", "servers": $servers, "seconds": $seconds, "cycles": $cycles,
  "wrk_threads": $threads, "wrk_connections": $connections,
  "timeout_ms": $timeout_ms, "bound_us": $bound_us, "grace_us": $grace_us,
  "pool": {"min": $pool_min, "smax": $pool_smax, "max": $pool_max, "ttl_s": $pool_ttl_s, "retry_s": $retry_s},
  "requests": {"total": $requests_total, "main": $requests_main, "warmup": $requests_warmup,
               "trickle": $requests_trickle, "in_windows": $requests_in_windows,
               "outside_windows": $requests_outside_windows,
               "wrk_main": ${wrk_requests:-0}, "wrk_main_non2xx": ${wrk_non2xx:-0},
               "wrk_socket_errors": "${wrk_socket_errors:-}"},
  "non2xx": {"in_windows": $non2xx_in_windows, "outside_windows": $non2xx_outside_windows,
             "kill": $non2xx_kill, "stop": $non2xx_stop, "graceful": $non2xx_graceful},
  "max_us": {"in_windows": $max_us_in_windows, "outside_windows": $max_us_outside_windows,
             "kill": $max_us_kill, "stop": $max_us_stop, "graceful": $max_us_graceful},
  "over_bound": $over_bound,
  "non2xx_outside_with_stall_100ms": $non2xx_outside_stalled,
  "machine": {"load_start": "${load_start:-}", "load_end": "${load_end:-}",
              "cpu_pressure_pct": ${cpu_pressure_pct:--1},
              "stalls_100ms": $stalls_100ms, "stall_max_us": $stall_max_us},
  "windows": {"kill": $windows_kill, "stop": $windows_stop, "graceful": $windows_graceful},
  "crash_lines": $crash_lines, "unexpected_child_exits": $unexpected_exits,
  "memcache_error_lines": $mc_errors,
  "children": {"start": $(children_json start), "end": $(children_json end),
               "fd_run_max": $fd_run_max, "fd_run_bound": $fd_run_bound, "rss_run_max_kb": $rss_run_max},
  "parent": {"fds_start": $parent_fd_start, "fds_end": $parent_fd_end,
             "rss_kb_start": $parent_rss_start, "rss_kb_end": $parent_rss_end},
  "memcached_idle_connections": $mc_json,
  "window_detail": $windows_json
}
JSON
[ ${#fail[@]} -eq 0 ]
