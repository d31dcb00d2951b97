"""The command line: parsing, output, and the commands that call the areas. The process starts in
`entry`, which loads `app` (the commands and their runner)."""
