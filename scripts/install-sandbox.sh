#!/usr/bin/env bash
# Makes the render sandbox work on this machine: installs bubblewrap (Debian and
# Ubuntu package `bubblewrap`) when it is missing, and, where AppArmor restricts
# unprivileged user namespaces (Ubuntu 23.10 and later, so the GitHub-hosted
# ubuntu-24.04 / ubuntu-latest runners: kernel.apparmor_restrict_unprivileged_userns=1,
# and bwrap fails with "setting up uid map: Permission denied"), loads an
# AppArmor profile that lets /usr/bin/bwrap alone create them. The restriction
# stays on for every other program. Needs root or passwordless sudo (as on
# GitHub-hosted runners). Ends by starting one sandbox, so a machine where it
# cannot work fails here, not in the middle of a render.
set -euo pipefail

as_root=()
if [[ "$(id -u)" != 0 ]]; then as_root=(sudo --non-interactive); fi

if [[ ! -x /usr/bin/bwrap ]]; then
  export DEBIAN_FRONTEND=noninteractive
  # The runner's package lists may be stale: refresh them only when the install needs it.
  if ! "${as_root[@]}" apt-get install -y -qq bubblewrap >/dev/null; then
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" apt-get install -y -qq bubblewrap >/dev/null
  fi
fi

restrict=/proc/sys/kernel/apparmor_restrict_unprivileged_userns
if [[ -r "$restrict" && "$(cat "$restrict")" == 1 ]]; then
  profile=/etc/apparmor.d/fleet-promote-bwrap
  printf '%s\n' \
    '# Written by fleet-promote scripts/install-sandbox.sh: bubblewrap may create user namespaces.' \
    'abi <abi/4.0>,' \
    'include <tunables/global>' \
    'profile fleet-promote-bwrap /usr/bin/bwrap flags=(unconfined) {' \
    '  userns,' \
    '}' | "${as_root[@]}" tee "$profile" >/dev/null
  "${as_root[@]}" apparmor_parser --replace "$profile"
fi

# The same namespaces a render uses.
shell="$(readlink -f /bin/sh)"
binds=()
for file in "$shell" $(ldd "$shell" 2>/dev/null | grep -o '/[^ ]*' || true); do
  binds+=(--ro-bind "$file" "$file")
done
/usr/bin/bwrap --unshare-all --unshare-user --disable-userns --die-with-parent --new-session \
  --proc /proc --dev /dev --tmpfs /tmp "${binds[@]}" -- "$shell" -c 'exit 0'
echo "bubblewrap $(/usr/bin/bwrap --version | cut -d' ' -f2) can start a sandbox here"
