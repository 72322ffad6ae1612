-- Views for common queries ---------------------------------------------------
-- Each object's "-- doc:" lines above it are its description in docs/database.md (manage.py describe_schema).

-- doc: One row per user: tasks per status, pages read and bytes stored, and the time of the newest task.
-- doc: For reports and ad-hoc SQL; the app's own statistics read the tables through indexes instead.
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

-- doc: Tasks created in the past 7 days with their owner's email, newest work first when ordered by created_at.
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

DELIMITER //

-- doc: `CALL {p}sp_delete_old_tasks(days)`: deletes the same rows as `manage.py cleanup_tasks --days N`:
-- doc: finished tasks (completed, failed, cancelled) created more than `days` days ago with their file,
-- doc: storage and text rows (the text index's rows go with the texts, by trigger), and finished task-queue
-- doc: rows as old; waiting and processing tasks are never touched.
-- doc: It removes ROWS ONLY: the files stay on disk (or in the bucket) until `manage.py storage_report --fix`.
-- doc: Prefer `manage.py cleanup_tasks`, which removes the rows and their files and runs on a schedule.
DROP PROCEDURE IF EXISTS `{p}sp_delete_old_tasks` //
CREATE PROCEDURE `{p}sp_delete_old_tasks`(IN days_to_keep INT)
    COMMENT 'Delete finished tasks older than days_to_keep (rows only; files: manage.py cleanup_tasks)'
BEGIN
    DECLARE cutoff DATETIME(6) DEFAULT UTC_TIMESTAMP(6) - INTERVAL days_to_keep DAY;
    DECLARE deleted INT DEFAULT 0;
    START TRANSACTION;
    DELETE f FROM `{p}task_files` f JOIN `{p}tasks` t ON t.id = f.task_id
        WHERE t.created_at < cutoff AND t.status IN ('completed', 'failed', 'cancelled');
    DELETE s FROM `{p}task_storage` s JOIN `{p}tasks` t ON t.id = s.task_id
        WHERE t.created_at < cutoff AND t.status IN ('completed', 'failed', 'cancelled');
    DELETE x FROM `{p}task_texts` x JOIN `{p}tasks` t ON t.id = x.task_id
        WHERE t.created_at < cutoff AND t.status IN ('completed', 'failed', 'cancelled');
    DELETE FROM `{p}tasks` WHERE created_at < cutoff AND status IN ('completed', 'failed', 'cancelled');
    SET deleted = ROW_COUNT();
    DELETE FROM `{p}django_tasks_database_dbtaskresult`
        WHERE status IN ('SUCCESSFUL', 'FAILED') AND finished_at < cutoff;
    IF deleted > 0 THEN
        INSERT INTO `{p}audit_log` (created_at, user_email, action, object_type, object_id, outcome, user_agent, details)
        VALUES (UTC_TIMESTAMP(6), '', 'maintenance.cleanup_tasks', 'task', '', 'allowed', '',
                JSON_OBJECT('tasks', deleted, 'retention_days', days_to_keep, 'via', 'sp_delete_old_tasks',
                            'files', 'left in storage: run manage.py storage_report --fix'));
    END IF;
    COMMIT;
    SELECT deleted AS tasks_deleted;
END //

-- doc: `CALL {p}sp_delete_expired_sessions()`: deletes token sessions revoked or expired more than 24 hours
-- doc: ago (the default grace of `manage.py cleanup_sessions`) and expired Django browser sessions.
DROP PROCEDURE IF EXISTS `{p}sp_delete_expired_sessions` //
CREATE PROCEDURE `{p}sp_delete_expired_sessions`()
    COMMENT 'Delete token sessions revoked or expired over 24 h ago and expired Django sessions'
BEGIN
    DECLARE cutoff DATETIME(6) DEFAULT UTC_TIMESTAMP(6) - INTERVAL 24 HOUR;
    DELETE FROM `{p}sessions` WHERE revoked_at < cutoff OR expires_at < cutoff;
    SELECT ROW_COUNT() AS sessions_deleted;
    DELETE FROM `{p}django_session` WHERE expire_date < UTC_TIMESTAMP(6);
END //

DELIMITER ;
