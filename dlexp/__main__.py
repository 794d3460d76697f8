from dlexp.cli import main

main()
