# shellcheck shell=bash
# Shared apt helpers for the scripts that fetch Debian packages (source it:
# `. "$(dirname "$0")/_apt.sh"`). No mirror host is written anywhere: the
# mirror is read from the system's own apt sources, so a machine behind
# another mirror or an apt proxy (configured in /etc/apt/apt.conf.d, which a
# private configuration still reads) works as it is.
#
# Functions:
#
#   apt_codename
#       Prints the release codename (VERSION_CODENAME of /etc/os-release,
#       e.g. "bookworm").
#
#   apt_mirror_uri [SUITE]
#       Prints the URI of the first enabled apt source (type "deb") whose
#       suites include SUITE (default: apt_codename), read from
#       /etc/apt/sources.list, /etc/apt/sources.list.d/*.list (one-line
#       format) and /etc/apt/sources.list.d/*.sources (deb822). Other files
#       (*.disabled, *.save...) are not read, as apt does not read them.
#       Fails (status 1, a message on stderr) when there is none.
#       APT_SOURCES_ROOT (default /etc/apt) points it elsewhere, for tests.
#
#   apt_signed_by [SUITE]
#       Prints the Signed-By keyring of that same source, or Debian's
#       archive keyring when the source names none.
#
#   apt_private_init DIR
#       Starts a private apt configuration under DIR (created if needed):
#       its own source parts and package lists, the system's sources and
#       lists left alone. Sets the array APT_PRIVATE_OPTS, to pass to
#       apt-get: `apt-get "${APT_PRIVATE_OPTS[@]}" update`. Needs no root.
#
#   apt_private_source DIR SUITE [ARCH] [COMPONENTS]
#       Adds a deb822 source for SUITE on the system's mirror to the private
#       configuration in DIR. ARCH (e.g. i386) also sets the private
#       configuration's architecture; COMPONENTS defaults to "main".
#
#   apt_private_get DIR ARGS...
#       Runs `apt-get ARGS...` with the private configuration of DIR, e.g.
#       `apt_private_get "$w" update -qq` then
#       `(cd "$w" && apt_private_get "$w" download hello)`; unpack with
#       `dpkg-deb -x FILE.deb ROOT`, installing nothing.

apt_codename() {
  (. /etc/os-release && echo "${VERSION_CODENAME:-}")
}

# Prints "URI<TAB>SIGNED-BY" of the first enabled deb source for SUITE.
_apt_source_for() {
  local suite=${1:-$(apt_codename)} root=${APT_SOURCES_ROOT:-/etc/apt} f
  local files=()
  [ -f "$root/sources.list" ] && files+=("$root/sources.list")
  for f in "$root"/sources.list.d/*.list; do [ -f "$f" ] && files+=("$f"); done
  if [ ${#files[@]} -gt 0 ]; then
    # One-line format: deb [options] URI SUITE COMPONENT...
    awk -v suite="$suite" '
      { sub(/#.*/, "") }
      $1 != "deb" { next }
      {
        i = 2; signed = ""
        if ($i ~ /^\[/) {
          while (i <= NF) {
            if ($i ~ /^\[?signed-by=/) { s = $i; sub(/^\[?signed-by=/, "", s); sub(/\]$/, "", s); signed = s }
            if ($i ~ /\]$/) { i++; break }
            i++
          }
        }
        if ($(i + 1) == suite) { print $i "\t" signed; found = 1; exit }
      }
      END { exit found ? 0 : 1 }' "${files[@]}" && return 0
  fi
  files=()
  for f in "$root"/sources.list.d/*.sources; do [ -f "$f" ] && files+=("$f"); done
  [ ${#files[@]} -gt 0 ] || return 1
  # deb822: stanzas separated by blank lines, "Field: value" lines.
  awk -v suite="$suite" '
    function flush() {
      if (types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "" && (" " suites " ") ~ (" " suite " ")) {
        split(uris, u, " "); print u[1] "\t" signed; found = 1; exit
      }
      types = uris = suites = signed = enabled = ""
    }
    FNR == 1 { flush() }
    /^[ \t]*#/ { next }
    /^[ \t]*$/ { flush(); next }
    {
      key = tolower($1); sub(/:$/, "", key); v = $0; sub(/^[^:]*:[ \t]*/, "", v)
      if (key == "types") types = v
      else if (key == "uris") uris = v
      else if (key == "suites") suites = v
      else if (key == "signed-by") signed = v
      else if (key == "enabled") enabled = tolower(v)
    }
    END { if (!found) flush(); exit found ? 0 : 1 }' "${files[@]}"
}

apt_mirror_uri() {
  local line
  if ! line=$(_apt_source_for "$@") || [ -z "$line" ]; then
    echo "_apt.sh: no enabled deb source for suite ${1:-$(apt_codename)} in ${APT_SOURCES_ROOT:-/etc/apt}/sources.list(.d)" >&2
    return 1
  fi
  printf '%s\n' "${line%%$'\t'*}"
}

apt_signed_by() {
  local line signed
  line=$(_apt_source_for "$@") || return 1
  signed=${line#*$'\t'}
  printf '%s\n' "${signed:-/usr/share/keyrings/debian-archive-keyring.gpg}"
}

apt_private_init() {
  local dir=$1
  mkdir -p "$dir/parts" "$dir/lists/partial" "$dir/cache/archives/partial"
  chmod 755 "$dir" "$dir/lists" "$dir/lists/partial" 2>/dev/null || true # apt's _apt user fetches there
  APT_PRIVATE_OPTS=(-o "Dir::Etc::sourcelist=/dev/null" -o "Dir::Etc::sourceparts=$dir/parts"
    -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o "APT::Get::List-Cleanup=0")
  if [ -f "$dir/arch" ]; then
    local arch
    arch=$(cat "$dir/arch")
    APT_PRIVATE_OPTS+=(-o "APT::Architectures::=$arch" -o "APT::Architecture=$arch")
  fi
}

apt_private_source() {
  local dir=$1 suite=$2 arch=${3:-} components=${4:-main} uri signed
  uri=$(apt_mirror_uri) || return 1
  signed=$(apt_signed_by) || return 1
  mkdir -p "$dir/parts"
  {
    printf 'Types: deb\n'
    [ -n "$arch" ] && printf 'Architectures: %s\n' "$arch"
    printf 'URIs: %s\nSuites: %s\nComponents: %s\nSigned-By: %s\n' "$uri" "$suite" "$components" "$signed"
  } >"$dir/parts/$suite${arch:+-$arch}.sources"
  if [ -n "$arch" ]; then printf '%s\n' "$arch" >"$dir/arch"; fi
  apt_private_init "$dir"
}

apt_private_get() {
  local dir=$1
  shift
  apt_private_init "$dir"
  apt-get "${APT_PRIVATE_OPTS[@]}" "$@"
}
