"""Click commands, one module per feature; each lists its commands in COMMANDS."""

# Exit codes shared by every command: 0 all good, 1 some items failed, 2 blocked or fatal.
EXIT_OK, EXIT_SOME_FAILED, EXIT_FATAL = 0, 1, 2
# The archive asked us (Retry-After) to wait longer than http.backoff_max: the run stopped
# asking; try again after the wait. 75 is sysexits' EX_TEMPFAIL ("try again later").
EXIT_WAIT = 75
