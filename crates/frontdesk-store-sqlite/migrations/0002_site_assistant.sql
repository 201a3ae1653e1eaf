-- Per-site settings of the AI assistant (frontdesk_core::model::AssistantSettings as JSON).
ALTER TABLE sites ADD COLUMN assistant TEXT NOT NULL DEFAULT '{}';
