"""What every stage stands on: the project's one error type (``errors``), files read with clear errors
and written whole (``files``), the BLAS threads (``threads``), the fields of a config schema (``schema``),
a YAML config file read as a mapping (``yaml_file``).

May import: nothing of windowner but itself.
"""
