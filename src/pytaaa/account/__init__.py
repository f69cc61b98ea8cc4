"""The user's account: holdings ledger, trade suggestions, market calendar.

- :mod:`~pytaaa.account.ledger`: ``PyTAAA_holdings.params`` and ``PyTAAA_status.params``.
- :mod:`~pytaaa.account.trades`: valuation of the holdings and the suggested trades.
- :mod:`~pytaaa.account.market`: exchange calendar (open, closed, month end).
- :mod:`~pytaaa.site.notify`: the email sent when something changed.
"""
