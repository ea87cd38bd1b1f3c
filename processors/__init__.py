"""The processes that drive the kernel over the log: ``live`` (the Faust worker and the account monitor) and ``replay``."""
