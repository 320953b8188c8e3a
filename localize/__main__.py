from localize.apps.cli import main

main()
