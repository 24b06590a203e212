from incidentscope.cli import main

main()
