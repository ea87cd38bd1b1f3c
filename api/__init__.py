"""The analysts' REST API over the read models (FastAPI): reads only, never writes the models."""
