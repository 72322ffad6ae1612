-- Views for common queries ---------------------------------------------------

CREATE OR REPLACE VIEW `{p}v_user_task_summary` AS
SELECT u.id AS user_id,
       u.email AS email,
       u.display_name AS display_name,
       COUNT(t.id) AS total_tasks,
       COALESCE(SUM(t.status = 'pending'), 0) AS pending_tasks,
       COALESCE(SUM(t.status = 'processing'), 0) AS processing_tasks,
       COALESCE(SUM(t.status = 'completed'), 0) AS completed_tasks,
       COALESCE(SUM(t.status = 'failed'), 0) AS failed_tasks,
       COALESCE(SUM(t.status = 'cancelled'), 0) AS cancelled_tasks,
       COALESCE(SUM(CASE WHEN t.status = 'completed' THEN t.page_count ELSE 0 END), 0) AS pages_processed,
       COALESCE((SELECT SUM(f.size_bytes) FROM `{p}task_files` f
                 JOIN `{p}tasks` ft ON ft.id = f.task_id WHERE ft.user_id = u.id), 0) AS storage_bytes,
       MAX(t.created_at) AS last_task_at
FROM `{p}users` u
LEFT JOIN `{p}tasks` t ON t.user_id = u.id
GROUP BY u.id, u.email, u.display_name;

CREATE OR REPLACE VIEW `{p}v_recent_activity` AS
SELECT t.id AS task_id,
       u.email AS email,
       t.filename AS filename,
       t.status AS status,
       t.engine AS engine,
       t.page_count AS page_count,
       t.created_at AS created_at,
       t.completed_at AS completed_at,
       t.processing_seconds AS processing_seconds
FROM `{p}tasks` t
JOIN `{p}users` u ON u.id = t.user_id
WHERE t.created_at >= NOW() - INTERVAL 7 DAY;

-- Maintenance procedures -----------------------------------------------------
-- These remove rows only; the files of deleted tasks stay in storage until
-- `manage.py storage_report --fix` (or use `manage.py cleanup_tasks`, which removes both).

DELIMITER //

DROP PROCEDURE IF EXISTS `{p}sp_delete_old_tasks` //
CREATE PROCEDURE `{p}sp_delete_old_tasks`(IN days_to_keep INT)
    COMMENT 'Delete tasks (and their file rows) created more than days_to_keep days ago'
BEGIN
    DECLARE cutoff DATETIME(6) DEFAULT UTC_TIMESTAMP(6) - INTERVAL days_to_keep DAY;
    DELETE f FROM `{p}task_files` f JOIN `{p}tasks` t ON t.id = f.task_id WHERE t.created_at < cutoff;
    DELETE FROM `{p}task_storage` WHERE created_at < cutoff;  -- history.TaskStorage: same task, same created_at
    DELETE FROM `{p}tasks` WHERE created_at < cutoff;
    SELECT ROW_COUNT() AS tasks_deleted;
END //

DROP PROCEDURE IF EXISTS `{p}sp_delete_expired_sessions` //
CREATE PROCEDURE `{p}sp_delete_expired_sessions`()
    COMMENT 'Delete revoked or expired token sessions and expired Django sessions'
BEGIN
    DELETE FROM `{p}sessions` WHERE revoked_at IS NOT NULL OR expires_at < UTC_TIMESTAMP(6);
    SELECT ROW_COUNT() AS sessions_deleted;
    DELETE FROM `{p}django_session` WHERE expire_date < UTC_TIMESTAMP(6);
END //

DELIMITER ;
