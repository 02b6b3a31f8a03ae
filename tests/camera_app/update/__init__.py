"""Signed updates: the TUF client, bundles and slots, installing and rolling back, the notice
period, the command line."""
