from lessons.cli import main

raise SystemExit(main())
