"""The viewer web page's static files (HTML, JavaScript modules, CSS, an icon); no Python.

A package (not a bare folder) so that setuptools installs the files as this package's data and
``importlib.resources`` finds them in an installed or an editable copy alike.
"""
