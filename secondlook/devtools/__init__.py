"""Process helpers that the tests and the scripts share, never used by the servers themselves: real bot
processes on free loopback ports (servers.py), the production topology behind nginx (cluster.py),
throw-away PostgreSQL databases (databases.py) and the web chat in Chromium (webchat.py)."""
