"""``python -m pytaaa.jobs.charts --data-file F --max-workers N``: the charts job.

The entry point named in the user's plan; the job itself lives with the
charts (:func:`pytaaa.charts.job.main`), this module only starts it.
"""

if __name__ == "__main__":
    from pytaaa.charts.job import run_as_main

    run_as_main()
