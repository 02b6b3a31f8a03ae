"""The streaming gates: what must hold before a camera may stream live, and who may watch.

``policy`` decides (pure), ``store`` and ``viewers`` remember, ``schedule`` reads weekly hours,
``roles`` names the closed sets (roles, profiles, registration kinds). The stream controller that
acts on the decisions is ``camera_app.live.controller``. Import from the modules themselves: this
package's ``__init__`` stays empty so that ``roles`` can be imported from anywhere below it.
"""
