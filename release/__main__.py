from release.cli.app import main

main()
