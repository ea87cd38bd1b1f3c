"""Pure stream processors: indicators, time bars and the pattern engine that turns ticks into signals."""
