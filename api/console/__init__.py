"""The web console: pages served by the API over its own JSON endpoints (README "Operate: the web console")."""
