"""Click commands, one module per feature; each lists its commands in COMMANDS."""

# Exit codes shared by every command: 0 all good, 1 some items failed, 2 blocked or fatal,
# 130 interrupted by Ctrl-C (128 + SIGINT, as a shell reports it).
EXIT_OK, EXIT_SOME_FAILED, EXIT_FATAL, EXIT_INTERRUPTED = 0, 1, 2, 130
