-- GDPR: erased visitors, per-site retention, and what erasure keeps of a conversation for
-- analytics once its messages and rating are gone.

-- When the visitor's data was erased (the row stays for its anonymous conversations).
ALTER TABLE visitors ADD COLUMN erased_at INTEGER;
-- The erasure lookup by email within an organization's sites.
CREATE INDEX visitors_site_email ON visitors (site_id, lower(email)) WHERE email IS NOT NULL;

-- Conversations older than this many days are deleted by the retention job (NULL: kept).
ALTER TABLE sites ADD COLUMN retention_days INTEGER;

-- Counted by analytics beside the messages and rating still there.
ALTER TABLE conversations ADD COLUMN erased_assistant_messages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN erased_agent_messages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN erased_rating INTEGER;
-- Retention reads a site's conversations by last activity.
CREATE INDEX conversations_site_activity ON conversations (site_id, last_activity_at);
