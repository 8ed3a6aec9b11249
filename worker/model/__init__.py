"""The model layer: value types, outcome enums, the one clock and canonical addresses.

Every stage package (``worker.http``, ``worker.poll``, ``worker.normalise``, ``worker.dedupe``,
``worker.stories``) and ``storage`` speak in these types. Modules here import nothing from the
project outside ``worker.model`` (``tests/unit/test_architecture.py`` enforces it), so loading
them never pulls in a parser, an HTTP client, numpy or the ORM.
"""
