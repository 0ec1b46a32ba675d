from tvdesk.cli.main import main

raise SystemExit(main())
