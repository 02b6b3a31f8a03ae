-- camera_app.sitelink (issue 16, a site): the viewers a site granted. A viewer with a row here
-- came from the site's grant for `account` (the site's opaque id); `grant_digest` is the digest of
-- the grant the device accepted (a ticket request from the site must name that grant, or it is
-- refused). Viewers without a row are the owner's own invitations and class lists.
CREATE TABLE IF NOT EXISTS site_viewers (
    viewer_id    TEXT PRIMARY KEY REFERENCES viewers (id),
    account      TEXT NOT NULL UNIQUE,
    grant_digest TEXT NOT NULL
);
