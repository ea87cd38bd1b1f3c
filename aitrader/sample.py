"""The bundled sample day (see data/README.md)."""

from pathlib import Path

SAMPLE_DAY = Path(__file__).resolve().parent.parent / "data" / "es_2013-09-01_03_ticks.csv.gz"
