# Exits 0 when this interpreter can import pandas (find-python.ts probes candidates with it).
import pandas  # noqa: F401
