"""Pure rules and values of sriovstack: no I/O, no clocks, no environment."""
