"""The site (issue 16): one place where a kindergarten or a shop chain manages several devices,
so that a parent has one login for their child's room on whichever device films it.

It runs on the relay host beside Janus. Devices connect out to its MQTT broker
(``camera_app.sitelink``); the site pushes its grants to the devices that film the rooms and
asks a device for a relay ticket whenever one of its accounts wants to watch. The device stays
the authority: the site never signs a ticket, never gets a frame, a recording or an ID number.
"""
