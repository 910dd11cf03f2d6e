from genomekit.cli import main

main()
