"""The test suite, laid out like the app: ``firmware/``, ``privacy/``, ``streaming/`` and
``camera_app/`` test the package of the same name, ``system/`` the whole system (end to end,
deploy), and the top level the contracts across packages. Harnesses shared by tests and
benchmarks are in the ``testkit`` package; test modules never import one another."""
