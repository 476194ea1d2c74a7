"""Real-client agents that drive the stand-in provider (one module per agent).

Each is runnable as ``python -m heron.standin.agents.<name> --base-url URL
--ca CAFILE`` and importable (``main(argv) -> int``, ``run(argv) -> Summary``).
"""
