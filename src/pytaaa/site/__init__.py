"""What the user reads: the static web site, the email, and ``pytaaa serve``.

- :mod:`~pytaaa.site.pages`: writes ``pyTAAAweb.html`` and the chart pages.
- :mod:`~pytaaa.site.context`: run objects → template values (shared with the email).
- :mod:`~pytaaa.site.notify`: the email, sent only when something changed.
- :mod:`~pytaaa.site.serve`: a loopback HTTP server for the site folder.
"""
