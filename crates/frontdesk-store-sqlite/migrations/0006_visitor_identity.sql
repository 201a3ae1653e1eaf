-- The widget's `identify`: the site's own user id for the visitor, and whether it came with a
-- valid HMAC of the site's secret. Several visitors (devices) may carry one user id.
ALTER TABLE visitors ADD COLUMN user_id TEXT;
ALTER TABLE visitors ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;
CREATE INDEX visitors_site_user ON visitors (site_id, user_id) WHERE user_id IS NOT NULL;

-- Identity verification enforced per site.
ALTER TABLE sites ADD COLUMN require_verified_identity INTEGER NOT NULL DEFAULT 0;
