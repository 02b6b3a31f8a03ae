-- What a registration says beyond the columns of 0002's registrations table: the identity
-- document it was made with (the number itself stays in registrations.resident_id_enc, encrypted,
-- and masked in masked_id) and, for an institution or business, its name as registered.
-- Registrations made before this migration have no row: a PRC resident ID (CN), no name.
CREATE TABLE IF NOT EXISTS registration_details (
    registration_id TEXT PRIMARY KEY REFERENCES registrations (id),
    document_type   TEXT NOT NULL
        CHECK (document_type IN ('resident_id', 'passport', 'hk_macao_permit', 'taiwan_permit')),
    country         TEXT NOT NULL,          -- ISO 3166-1 alpha-2: issuer, or a permit's region
    organisation    TEXT                    -- institution or business name; NULL for an owner
);
