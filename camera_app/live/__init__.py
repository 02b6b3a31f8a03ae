"""The live subsystem: which camera streams (``controller``), the privacy stage on the live
camera (``feed``), publishing to a relay (``relay``), and the once-a-second supervision that ends
what may no longer run. Built once by the composition root (``camera_app.app``)."""
