# shellcheck shell=bash
# Helpers shared by scripts/systemd-test and scripts/container-test: whether this machine
# can boot containers at all, a cached mmdebstrap rootfs, and a one-manifest Git remote.

# real_can_boot_containers: succeeds when namespaces and cgroups allow a container here;
# otherwise prints the reason and fails.
real_can_boot_containers() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "needs root"
    return 1
  fi
  if ! command -v unshare >/dev/null 2>&1 || ! command -v nsenter >/dev/null 2>&1; then
    echo "unshare/nsenter (util-linux) are missing"
    return 1
  fi
  if ! unshare --mount --pid --net --uts --ipc --fork true 2>/dev/null; then
    echo "cannot create mount, pid, network, uts and ipc namespaces here (a locked-down container?)"
    return 1
  fi
  if [ ! -w /sys/fs/cgroup ] && [ ! -w /sys/fs/cgroup/unified ]; then
    echo "the cgroup file system is not writable"
    return 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "not a Debian system (needs apt-get for systemd-container, mmdebstrap, podman)"
    return 1
  fi
}

# real_suite: the host's Debian suite, else bookworm.
real_suite() {
  local suite=""
  if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    suite=$(. /etc/os-release && [ "${ID:-}" = debian ] && echo "${VERSION_CODENAME:-}")
  fi
  echo "${suite:-bookworm}"
}

# real_rootfs DIR [PACKAGES]: prints the path of a tarball of an mmdebstrap minbase rootfs
# with the comma-separated PACKAGES, made once and cached in DIR (keyed by suite and list).
real_rootfs() {
  local dir=$1 packages=${2:-} suite key tar include=()
  suite=$(real_suite)
  key=$(printf '%s %s' "$suite" "$packages" | sha256sum | cut -c1-12)
  tar="$dir/rootfs-$suite-$key.tar"
  mkdir -p "$dir"
  [ -z "$packages" ] || include=(--include="$packages")
  if [ ! -s "$tar" ]; then
    echo "mmdebstrap --variant=minbase $suite ${packages:+(+ $packages) }into $tar" >&2
    mmdebstrap --quiet --format=tar --variant=minbase "${include[@]}" "$suite" "$tar.part" \
      "http://deb.debian.org/debian" >&2
    mv "$tar.part" "$tar"
  fi
  echo "$tar"
}

# real_seed_remote BARE IMAGE: a bare repository with one marked manifest,
# clusters/staging/web.yaml, naming IMAGE (REGISTRY/REPO:TAG) under policy `web`.
real_seed_remote() {
  local bare=$1 image=$2 seed
  seed=$(mktemp -d)
  git_seed() {
    GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null \
      git -c user.name=Operator -c user.email=operator@example.com -c init.defaultBranch=main "$@"
  }
  git_seed init --quiet --bare "$bare"
  git_seed clone --quiet "$bare" "$seed/work" 2>/dev/null
  mkdir -p "$seed/work/clusters/staging"
  # shellcheck disable=SC2016 # "$imagepolicy" is the marker's literal key
  printf 'image: %s # {"$imagepolicy": "flux-system:web"}\n' "$image" \
    >"$seed/work/clusters/staging/web.yaml"
  git_seed -C "$seed/work" add -A
  git_seed -C "$seed/work" commit --quiet -m "Add web"
  git_seed -C "$seed/work" push --quiet origin HEAD:main
  rm -rf "$seed"
}
