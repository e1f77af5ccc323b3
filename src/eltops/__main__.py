from eltops.cli import main

main()
