"""Click commands, one module per feature; each lists its commands in COMMANDS."""

# Exit codes shared by every command: 0 all good, 1 some items failed, 2 blocked or fatal.
EXIT_OK, EXIT_SOME_FAILED, EXIT_FATAL = 0, 1, 2
