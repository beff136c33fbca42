"""The shipped conformance suite: ``pytest --pyargs gradcheck.suite --gradcheck-adapter=NAME``.

Every test is parametrized by a `gradcheck.report.Case`, so its id says what failed
(``test_op[vjp-tanh-float32]``) and its xfail id is ``check::op-or-family::dtype::device``.
"""
