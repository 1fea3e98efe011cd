-- Why messages were refused, most frequent first: what the producing team has to fix.
SELECT reason, model, COUNT(*) AS messages, MIN(received_at) AS first_seen, MAX(received_at) AS last_seen
FROM dead_letters
GROUP BY reason, model
ORDER BY messages DESC, reason;
