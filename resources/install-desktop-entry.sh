#!/bin/sh
# Install AccessGuard's desktop entry and icons for the current user (freedesktop paths).
#
#   resources/install-desktop-entry.sh            # install into ~/.local/share
#   resources/install-desktop-entry.sh --uninstall
#
# The `accessguard` command must be on PATH (pip install . or pipx install .).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
apps="$data/applications"
icons="$data/icons/hicolor"

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$apps/accessguard.desktop" "$icons/scalable/apps/accessguard.svg"
    for png in "$icons"/*/apps/accessguard.png; do rm -f "$png"; done
else
    mkdir -p "$apps" "$icons/scalable/apps"
    install -m 644 "$here/accessguard.desktop" "$apps/accessguard.desktop"
    install -m 644 "$here/icons/accessguard.svg" "$icons/scalable/apps/accessguard.svg"
    for dir in "$here"/icons/hicolor/*/apps; do
        size=$(basename "$(dirname "$dir")")
        mkdir -p "$icons/$size/apps"
        install -m 644 "$dir/accessguard.png" "$icons/$size/apps/accessguard.png"
    done
    command -v accessguard >/dev/null 2>&1 || \
        echo "note: 'accessguard' is not on PATH yet; install the package (pip install .)" >&2
fi
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$apps" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$icons" || true
echo "done: $apps/accessguard.desktop"
