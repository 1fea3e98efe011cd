-- Notifications that failed for good (a 4xx, a refused recipient) or are still being
-- retried, with the receiver's last answer: what to fix in a channel's config.
SELECT n.id, n.channel, n.event, n.status, n.attempts, n.next_attempt_at, n.last_error, n.created_at,
       a.rule, a.model, a.feature
FROM notifications n
LEFT JOIN alerts a ON a.id = n.alert_id
WHERE n.status IN ('failed', 'pending')
ORDER BY n.created_at DESC;
