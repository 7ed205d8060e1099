"""Usage and cost: the price table (`prices`), the per-call usage meter (`meter`), the report
behind `usage` in chat and on the command line (`report`, `cli`)."""
