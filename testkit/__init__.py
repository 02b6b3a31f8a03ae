"""Harnesses shared by the tests (``tests/``) and the benchmarks (``bench/``).

Real servers and peers on loopback (the owner API, WebRTC viewers, mosquitto, Janus, the
``camera-app`` service in a subprocess), a device tree made by the install script, a vendor
update repository, footage made on the fly, a fake clock, and the scripted steps several test
modules share. Test modules import from here, never from one another, and ``bench/`` never
imports ``tests``.

This package lives in the checkout only: it is not installed with the app (``setup.cfg``'s
``packages.find`` lists the four app packages), and no app package imports it.
"""
