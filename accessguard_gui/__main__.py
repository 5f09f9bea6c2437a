"""``python -m accessguard_gui``: start the desktop app."""

from accessguard_gui.app import main

raise SystemExit(main())
