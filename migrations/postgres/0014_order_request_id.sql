-- 0014 (issue 33, the add-a-column recipe followed once): each order keeps
-- the X-Request-ID of the request that created it, shown as `request_id`
-- in its answers. The create copies it from the order's reservation
-- intent; orders created before this migration have none (NULL).

ALTER TABLE orders ADD COLUMN request_id text;

INSERT INTO schema_migrations (version) VALUES (14);
