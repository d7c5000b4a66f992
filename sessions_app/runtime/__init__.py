"""Live sessions: one ``SessionRuntime`` per call, in the process that holds its transport."""
