"""The planted-bug suite (``make mutants``): named plausible bugs, each caught by its unit tests and its lesson."""
