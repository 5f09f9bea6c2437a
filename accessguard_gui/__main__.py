"""``python -m accessguard_gui``: the desktop app, or ``import|export|publish`` on the
command line (cli.py, which never imports Qt)."""

import sys

if len(sys.argv) > 1 and sys.argv[1] in ("import", "export", "publish"):
    from accessguard_gui.cli import main as cli_main

    raise SystemExit(cli_main(sys.argv[1:]))

from accessguard_gui.app import main  # noqa: E402 - the GUI only when no command is given

raise SystemExit(main())
