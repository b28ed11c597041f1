# shellcheck shell=bash
# Helpers shared by scripts/demo, scripts/bench-daemon and scripts/soak: a throwaway Debian
# docker-registry on a free loopback port, and pushing a tiny single-layer image
# through the registry API with curl (blob uploads, then a manifest PUT).

# Prints a loopback TCP port nobody listens on right now.
oci_free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$(((RANDOM % 20000) + 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "no free loopback port found" >&2
  return 1
}

# oci_start_registry DIR: starts docker-registry with its storage under DIR on a
# free 127.0.0.1 port; sets OCI_REGISTRY_PID and OCI_REGISTRY_HOST (127.0.0.1:PORT).
# Optional, from the environment:
#   OCI_REGISTRY_PORT=PORT   listen on PORT (e.g. to restart on the same storage and
#                            address) instead of a free port;
#   OCI_NOTIFY_URL=URL       send the registry's notifications (`notifications:
#                            endpoints:`, pushes only) to URL, with the header
#                            `Authorization: $OCI_NOTIFY_AUTHORIZATION`;
#   OCI_REGISTRY_ACCESSLOG=1  log every request (Apache format) to DIR/registry.log, for
#                            counting requests;
#   OCI_REGISTRY_HTPASSWD=FILE require Basic auth for the users in FILE (htpasswd -B);
#                            the push helpers then read curl's `user = ...` from
#                            OCI_CURL_CONFIG (kept out of process arguments).
oci_start_registry() {
  local dir=$1 port notify="" auth=""
  mkdir -p "$dir"
  if [ -n "${OCI_NOTIFY_URL:-}" ]; then
    notify="notifications:
  endpoints:
    - name: baton
      url: $OCI_NOTIFY_URL
      headers:
        Authorization: [\"${OCI_NOTIFY_AUTHORIZATION:-}\"]
      timeout: 5s
      threshold: 5
      backoff: 200ms
      ignore:
        actions: [pull]"
  fi
  if [ -n "${OCI_REGISTRY_HTPASSWD:-}" ]; then
    auth="auth:
  htpasswd:
    realm: baton-test
    path: $OCI_REGISTRY_HTPASSWD"
  fi
  for _ in 1 2 3 4 5; do
    port=${OCI_REGISTRY_PORT:-$(oci_free_port)}
    cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: $([ "${OCI_REGISTRY_ACCESSLOG:-0}" = 1 ] && echo false || echo true)
storage:
  filesystem:
    rootdirectory: $dir/data
http:
  addr: 127.0.0.1:$port
$notify
$auth
YAML
    chmod 600 "$dir/config.yml"
    /usr/bin/docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
    OCI_REGISTRY_PID=$!
    for _ in $(seq 1 100); do
      if oci_curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null; then
        export OCI_REGISTRY_HOST="127.0.0.1:$port"
        return 0
      fi
      kill -0 "$OCI_REGISTRY_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill "$OCI_REGISTRY_PID" 2>/dev/null || true
    wait "$OCI_REGISTRY_PID" 2>/dev/null || true
    [ -z "${OCI_REGISTRY_PORT:-}" ] || break
  done
  echo "docker-registry would not start; its log:" >&2
  cat "$dir/registry.log" >&2
  return 1
}

# oci_curl ARGS...: curl with OCI_CURL_CONFIG (a curl config file: `user = "NAME:PASSWORD"`)
# when it is set.
oci_curl() {
  curl ${OCI_CURL_CONFIG:+-K "$OCI_CURL_CONFIG"} "$@"
}

# oci_stop_registry: stops the registry oci_start_registry started (if any).
oci_stop_registry() {
  if [ -n "${OCI_REGISTRY_PID:-}" ]; then
    kill "$OCI_REGISTRY_PID" 2>/dev/null || true
    wait "$OCI_REGISTRY_PID" 2>/dev/null || true
    OCI_REGISTRY_PID=""
  fi
}

# oci_upload_blob HOST REPO FILE: uploads FILE as a blob of REPO (monolithic
# POST + PUT); prints its digest.
oci_upload_blob() {
  local host=$1 repo=$2 file=$3 digest location sep
  digest="sha256:$(sha256sum "$file" | cut -d' ' -f1)"
  location=$(oci_curl -fsS -o /dev/null -D - -X POST "http://$host/v2/$repo/blobs/uploads/" |
    tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
  case $location in
    http*) ;;
    *) location="http://$host$location" ;;
  esac
  case $location in
    *\?*) sep='&' ;;
    *) sep='?' ;;
  esac
  oci_curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' \
    --data-binary "@$file" "$location${sep}digest=$digest"
  echo "$digest"
}

# oci_push_tag HOST REPO TAG: pushes a tiny OCI image (one config, one layer
# unique to REPO:TAG) as REPO:TAG; prints the manifest digest.
oci_push_tag() {
  local host=$1 repo=$2 tag=$3 tmp layer_digest config_digest manifest
  tmp=$(mktemp -d)
  printf 'baton demo layer for %s:%s\n' "$repo" "$tag" >"$tmp/layer"
  layer_digest=$(oci_upload_blob "$host" "$repo" "$tmp/layer")
  printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]}}' \
    "$layer_digest" >"$tmp/config"
  config_digest=$(oci_upload_blob "$host" "$repo" "$tmp/config")
  manifest=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
    "$config_digest" "$(stat -c %s "$tmp/config")" "$layer_digest" "$(stat -c %s "$tmp/layer")")
  printf '%s' "$manifest" >"$tmp/manifest"
  oci_curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary "@$tmp/manifest" "http://$host/v2/$repo/manifests/$tag"
  echo "sha256:$(sha256sum "$tmp/manifest" | cut -d' ' -f1)"
  rm -rf "$tmp"
}

# oci_install_missing PACKAGE...: installs the Debian packages that are missing
# (apt-get update first; sudo only when not root).
oci_install_missing() {
  local missing=() package sudo=""
  for package in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$package")
    fi
  done
  if ((${#missing[@]})); then
    echo "installing ${missing[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}
