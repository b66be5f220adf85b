# Sourced by scripts/test.sh and scripts/demo.sh: installs missing Debian packages.
#
#   need "cmd1 cmd2" pkg...   queue pkg... unless one of the commands is on PATH
#   need_build_tools          what building arigate needs beyond Rust: cmake (pingora-core asks
#                             for flate2's zlib-ng, which builds with cmake; apt's recommends
#                             bring make and gcc)
#   install_needed [opt...]   install what is queued (as root, or through sudo), if anything;
#                             opt... go to `apt-get install` (e.g. --no-install-recommends)

need_apt=()

need() {
  local cmds=$1 cmd
  shift
  for cmd in $cmds; do
    command -v "$cmd" >/dev/null 2>&1 && return 0
  done
  need_apt+=("$@")
}

need_build_tools() {
  need cmake cmake
  need make make
}

install_needed() {
  [ ${#need_apt[@]} -gt 0 ] || return 0
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing ${need_apt[*]} (Debian packages)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" "${need_apt[@]}" >/dev/null
  need_apt=()
}
