"""The device's link to a site (issue 16): its cameras out, the site's grants in, tickets for
the site's accounts decided by the device. ``protocol`` is shared with ``site_app``."""
