"""``python -m pytaaa.jobs.montecarlo --json-file CFG``: the Monte Carlo job.

The entry point named in the user's plan; the job itself lives with the
Monte Carlo backtest (:func:`pytaaa.montecarlo.start.main`), this module only
starts it.
"""

if __name__ == "__main__":
    import sys

    from pytaaa.montecarlo.start import main

    sys.exit(main())
