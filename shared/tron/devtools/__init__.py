"""Developer tools: start the local Google Cloud stand-ins and serve the functions at virtual time.

Used by the tests, `tron run-day --backend emulators` and the benchmarks; never by a deployed function."""
