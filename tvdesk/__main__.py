from tvdesk.cli import main

raise SystemExit(main())
