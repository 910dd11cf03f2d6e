"""One module per subcommand: orchestration only, callable from Python and tests."""
