"""Report functions: the work behind each notebook, callable without a kernel.

Each notebook in ``notebooks/`` is a parameters cell, a few calls into one of
these modules, figures and prose; tests call the same functions directly.
"""
