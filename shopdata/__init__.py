"""Raw datasets for the CLV warehouse, all written in one raw data contract.

``python -m shopdata <command>`` (:mod:`shopdata.__main__`) builds a dataset folder:

* :mod:`shopdata.cdnow` -- the vendored CDNOW log;
* :mod:`shopdata.synthetic` -- a seeded synthetic shop (vocabulary in :mod:`shopdata.vocabulary`,
  deliberately broken rows from :mod:`shopdata.dirty`);
* :mod:`shopdata.completejourney` -- the dunnhumby / 84.51 Complete Journey panel;
* :mod:`shopdata.invoices` -- an invoice-line CSV export (UCI Online Retail II shape).

:mod:`shopdata.contract` holds the contract's tables, schemas and writer;
``python -m shopdata.summary`` prints a short summary of a built warehouse.
"""
