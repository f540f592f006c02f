"""The analyst report: one self-contained HTML file built from the warehouse marts.

``python -m report`` (``make report``, ``clv-report``) reads the scored warehouse read-only
(report.data), draws the charts with matplotlib (report.charts, PNG images inlined as data
URIs: no CDN, opens offline) and writes the page (report.page). Importable without torch.
"""
