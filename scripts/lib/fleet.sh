# shellcheck shell=bash
# Helpers shared by scripts/bench-daemon and scripts/soak: a fleet of N images on a
# local docker-registry (see oci.sh), a bare Git remote with one marked manifest per
# image, a `baton run` configuration for them, and probes of the running daemon.
# Also `bench_result`, which scripts/bench uses to collect figures.

# bench_result KEY VALUE: appends KEY=VALUE to the file named by BATON_BENCH_RESULTS
# (scripts/bench sets it; standalone runs leave it unset and nothing is written).
bench_result() {
  if [ -n "${BATON_BENCH_RESULTS:-}" ]; then
    printf '%s=%s\n' "$1" "$2" >>"$BATON_BENCH_RESULTS"
  fi
}

# fleet_name INDEX: the image (and policy) name of image INDEX.
fleet_name() { printf 'img-%03d' "$1"; }

# fleet_push_images HOST COUNT TAG: pushes bench/img-000 .. img-(COUNT-1) with TAG,
# 16 at a time.
fleet_push_images() {
  local host=$1 count=$2 tag=$3
  export -f oci_push_tag oci_upload_blob
  # shellcheck disable=SC2016 # expanded by the inner bash
  seq 0 $((count - 1)) | xargs -P 16 -I{} bash -c \
    'oci_push_tag "$0" "bench/$(printf "img-%03d" "$1")" "$2" >/dev/null' "$host" {} "$tag"
}

# fleet_git ARGS...: git with a fixed identity and no user or system configuration.
fleet_git() {
  GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null \
    git -c user.name=Bench -c user.email=bench@example.com -c init.defaultBranch=main "$@"
}

# fleet_seed_remote WORK HOST COUNT: creates the bare remote WORK/fleet.git with one
# manifest per image in clusters/staging, each at tag 1.0.0 with a Flux marker.
fleet_seed_remote() {
  local work=$1 host=$2 count=$3 i name
  fleet_git init --quiet --bare "$work/fleet.git"
  fleet_git clone --quiet "$work/fleet.git" "$work/seed" 2>/dev/null
  mkdir -p "$work/seed/clusters/staging"
  for i in $(seq 0 $((count - 1))); do
    name=$(fleet_name "$i")
    # shellcheck disable=SC2016 # "$imagepolicy" is the marker's literal key
    printf 'image: %s/bench/%s:1.0.0 # {"$imagepolicy": "flux-system:%s"}\n' \
      "$host" "$name" "$name" >"$work/seed/clusters/staging/$name.yaml"
  done
  fleet_git -C "$work/seed" add -A
  fleet_git -C "$work/seed" commit --quiet -m "Seed $count manifests"
  fleet_git -C "$work/seed" push --quiet origin HEAD:main
  rm -rf "$work/seed"
}

# fleet_config WORK HOST COUNT PORT INTERVAL_SECONDS: prints a `baton run` configuration
# for the fleet (state in WORK/state, listening on 127.0.0.1:PORT, every image polled
# every INTERVAL_SECONDS with a semver 1.x policy). Append [webhooks] and the like after.
fleet_config() {
  local work=$1 host=$2 count=$3 port=$4 interval=$5 i name
  cat <<TOML
[daemon]
state_dir = "$work/state"
listen = "127.0.0.1:$port"

[git]
url = "$work/fleet.git"
author_name = "baton"
author_email = "baton@example.com"
interval = "10m"

[registries."$host"]
insecure = true

[environments.staging]
paths = ["clusters/staging"]
TOML
  for i in $(seq 0 $((count - 1))); do
    name=$(fleet_name "$i")
    printf '\n[images.%s]\nrepository = "%s/bench/%s"\ninterval = "%ss"\n' "$name" "$host" "$name" "$interval"
    printf '\n[policies.%s]\nimage = "%s"\nsemver = "1.x"\n' "$name" "$name"
  done
}

# fleet_wait_ready PID PORT LOG: waits until the daemon answers /readyz (fails if it exits).
fleet_wait_ready() {
  local pid=$1 port=$2 log=$3
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "baton exited before it was ready; its log:" >&2
      tail -50 "$log" >&2
      return 1
    fi
    sleep 0.1
  done
}

# fleet_cpu_ticks PID: user + system CPU time of PID in clock ticks.
fleet_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# fleet_status_kb PID FIELD: a /proc/PID/status field in kB (VmRSS, VmHWM, RssAnon, RssFile).
fleet_status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# fleet_metric PORT NAME: the sum of every series of metric NAME on the daemon's /metrics.
fleet_metric() {
  curl -fsS "http://127.0.0.1:$1/metrics" |
    awk -v m="$2" '$1 ~ "^"m"[{ ]" || $1 == m { s += $2 } END { printf "%d\n", s }'
}

# fleet_now: the time in seconds, with nanoseconds.
fleet_now() { date +%s.%N; }

# fleet_elapsed FROM TO: TO - FROM in seconds, two decimals.
fleet_elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# fleet_median NUMBER...: the median (mean of the middle two for an even count).
fleet_median() {
  printf '%s\n' "$@" | sort -g |
    awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# fleet_max NUMBER...: the largest.
fleet_max() { printf '%s\n' "$@" | sort -g | tail -1; }
