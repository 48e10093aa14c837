from rolecall.cli.main import main

raise SystemExit(main())
