from release.cli.entry import main

main()
