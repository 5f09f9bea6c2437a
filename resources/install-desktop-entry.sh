#!/bin/sh
# Install AccessGuard's desktop entry, icons and AppStream metadata for the current user
# (freedesktop paths).
#
#   resources/install-desktop-entry.sh                        # the `accessguard` on PATH
#   resources/install-desktop-entry.sh --bundle dist/accessguard   # a ./dev bundle folder
#   resources/install-desktop-entry.sh --uninstall
#
# Without --bundle the `accessguard` command must be on PATH (pip install . or pipx install .).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
apps="$data/applications"
icons="$data/icons/hicolor"
metainfo="$data/metainfo"
appstream=io.github.accessguard.AccessGuard.metainfo.xml

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$apps/accessguard.desktop" "$icons/scalable/apps/accessguard.svg" "$metainfo/$appstream"
    for png in "$icons"/*/apps/accessguard.png; do rm -f "$png"; done
else
    exec_path=accessguard
    if [ "${1:-}" = "--bundle" ]; then
        bundle=$(cd "${2:?usage: --bundle DIR}" && pwd)
        exec_path="$bundle/accessguard"
        [ -x "$exec_path" ] || { echo "no accessguard program in $bundle" >&2; exit 1; }
    fi
    mkdir -p "$apps" "$icons/scalable/apps" "$metainfo"
    sed -e "s|^Exec=accessguard|Exec=$exec_path|" -e "s|^TryExec=accessguard|TryExec=$exec_path|" \
        "$here/accessguard.desktop" > "$apps/accessguard.desktop"
    chmod 644 "$apps/accessguard.desktop"
    install -m 644 "$here/$appstream" "$metainfo/$appstream"
    install -m 644 "$here/icons/accessguard.svg" "$icons/scalable/apps/accessguard.svg"
    for dir in "$here"/icons/hicolor/*/apps; do
        size=$(basename "$(dirname "$dir")")
        mkdir -p "$icons/$size/apps"
        install -m 644 "$dir/accessguard.png" "$icons/$size/apps/accessguard.png"
    done
    [ "$exec_path" != accessguard ] || command -v accessguard >/dev/null 2>&1 || \
        echo "note: 'accessguard' is not on PATH yet; install the package (pip install .)" >&2
fi
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$apps" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$icons" || true
echo "done: $apps/accessguard.desktop"
