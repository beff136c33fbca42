"""python -m reference_engine: run the autograd tutorial on the reference engine."""

import runpy

runpy.run_module("reference_engine.tutorial", run_name="__main__")
