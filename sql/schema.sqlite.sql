-- driftwatch schema for sqlite, generated from monitor/store/tables.py.
-- Do not edit: run `python -m monitor.store.render_sql` after changing the tables.

CREATE TABLE alert_evaluations (
	id INTEGER NOT NULL, 
	rule VARCHAR(255) NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	last_window_start DATETIME, 
	last_window_end DATETIME, 
	evaluated_at DATETIME NOT NULL, 
	computed_through DATETIME, 
	CONSTRAINT pk_alert_evaluations PRIMARY KEY (id), 
	CONSTRAINT uq_alert_evaluations_rule_model UNIQUE (rule, model)
);

CREATE TABLE alerts (
	id INTEGER NOT NULL, 
	rule VARCHAR(255) NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	model_version VARCHAR(64), 
	feature VARCHAR(255), 
	metric VARCHAR(64) NOT NULL, 
	severity VARCHAR(16) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	condition VARCHAR(128) NOT NULL, 
	consecutive INTEGER DEFAULT '0' NOT NULL, 
	started_at DATETIME NOT NULL, 
	fired_at DATETIME, 
	resolved_at DATETIME, 
	last_value FLOAT, 
	last_window_start DATETIME, 
	last_window_end DATETIME, 
	last_notified_at DATETIME, 
	updated_at DATETIME NOT NULL, 
	segment VARCHAR(255), 
	compare VARCHAR(80), 
	CONSTRAINT pk_alerts PRIMARY KEY (id), 
	CONSTRAINT ck_alerts_state CHECK (state IN ('pending', 'firing', 'resolved'))
);

CREATE INDEX ix_alerts_rule_model_feature_state ON alerts (rule, model, feature, state);

CREATE TABLE dead_letters (
	id INTEGER NOT NULL, 
	topic VARCHAR(255) NOT NULL, 
	partition INTEGER NOT NULL, 
	"offset" BIGINT NOT NULL, 
	model VARCHAR(64), 
	raw BLOB NOT NULL, 
	raw_size INTEGER NOT NULL, 
	reason TEXT NOT NULL, 
	received_at DATETIME NOT NULL, 
	CONSTRAINT pk_dead_letters PRIMARY KEY (id), 
	CONSTRAINT uq_dead_letters_topic_partition_offset UNIQUE (topic, partition, "offset")
);

CREATE INDEX ix_dead_letters_received_at ON dead_letters (received_at);

CREATE TABLE job_runs (
	id INTEGER NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	model_version VARCHAR(64), 
	window_start DATETIME, 
	window_end DATETIME, 
	"trigger" VARCHAR(32) NOT NULL, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	status VARCHAR(16) NOT NULL, 
	metrics_written INTEGER, 
	error TEXT, 
	worker VARCHAR(128), 
	CONSTRAINT pk_job_runs PRIMARY KEY (id)
);

CREATE INDEX ix_job_runs_model_started_at ON job_runs (model, started_at);

CREATE TABLE labels (
	id INTEGER NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	prediction_id VARCHAR(128) NOT NULL, 
	label TEXT NOT NULL, 
	label_numeric FLOAT, 
	event_time DATETIME NOT NULL, 
	kafka_topic VARCHAR(255), 
	kafka_partition INTEGER, 
	kafka_offset BIGINT, 
	ingested_at DATETIME NOT NULL, 
	CONSTRAINT pk_labels PRIMARY KEY (id), 
	CONSTRAINT uq_labels_model_prediction_id UNIQUE (model, prediction_id)
);

CREATE INDEX ix_labels_model_ingested_at ON labels (model, ingested_at);

CREATE TABLE metric_values (
	id INTEGER NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	model_version VARCHAR(64) NOT NULL, 
	window_start DATETIME NOT NULL, 
	window_end DATETIME NOT NULL, 
	metric VARCHAR(64) NOT NULL, 
	feature VARCHAR(255), 
	value FLOAT, 
	threshold FLOAT, 
	is_breach BOOLEAN, 
	is_partial BOOLEAN DEFAULT 0 NOT NULL, 
	details JSON, 
	computed_at DATETIME NOT NULL, 
	segment VARCHAR(255), 
	compare VARCHAR(80), 
	CONSTRAINT pk_metric_values PRIMARY KEY (id)
);

CREATE INDEX ix_metric_values_model_metric_window_start ON metric_values (model, metric, window_start);

CREATE UNIQUE INDEX uq_metric_values_point ON metric_values (model, model_version, window_start, window_end, metric, coalesce(feature, ''), coalesce(segment, ''), coalesce(compare, ''));

CREATE TABLE prediction_batches (
	id INTEGER NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	model_version VARCHAR(64) NOT NULL, 
	row_count INTEGER NOT NULL, 
	min_event_time DATETIME NOT NULL, 
	max_event_time DATETIME NOT NULL, 
	max_ingested_at DATETIME NOT NULL, 
	data BLOB NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_prediction_batches PRIMARY KEY (id)
);

CREATE INDEX ix_prediction_batches_model_model_version_max_event_time ON prediction_batches (model, model_version, max_event_time);

CREATE TABLE predictions (
	id INTEGER NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	model_version VARCHAR(64) NOT NULL, 
	prediction_id VARCHAR(128) NOT NULL, 
	event_time DATETIME NOT NULL, 
	features JSON NOT NULL, 
	prediction TEXT NOT NULL, 
	prediction_numeric FLOAT, 
	score FLOAT, 
	probabilities JSON, 
	latency_ms FLOAT, 
	status VARCHAR(8) DEFAULT 'ok' NOT NULL, 
	error TEXT, 
	extra JSON, 
	kafka_topic VARCHAR(255), 
	kafka_partition INTEGER, 
	kafka_offset BIGINT, 
	ingested_at DATETIME NOT NULL, 
	CONSTRAINT pk_predictions PRIMARY KEY (id), 
	CONSTRAINT uq_predictions_model_prediction_id UNIQUE (model, prediction_id), 
	CONSTRAINT ck_predictions_status CHECK (status IN ('ok', 'error'))
);

CREATE INDEX ix_predictions_model_event_time_model_version_prediction_id ON predictions (model, event_time, model_version, prediction_id);

CREATE INDEX ix_predictions_model_ingested_at ON predictions (model, ingested_at);

CREATE TABLE reference_sets (
	id INTEGER NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	model_version VARCHAR(64) NOT NULL, 
	source TEXT NOT NULL, 
	row_count INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	columns BLOB, 
	CONSTRAINT pk_reference_sets PRIMARY KEY (id), 
	CONSTRAINT uq_reference_sets_model_model_version UNIQUE (model, model_version)
);

CREATE TABLE silences (
	id INTEGER NOT NULL, 
	rule VARCHAR(255) NOT NULL, 
	model VARCHAR(64), 
	feature VARCHAR(255), 
	starts_at DATETIME NOT NULL, 
	ends_at DATETIME NOT NULL, 
	comment TEXT NOT NULL, 
	created_by VARCHAR(255), 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_silences PRIMARY KEY (id)
);

CREATE TABLE window_state (
	id INTEGER NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	model_version VARCHAR(64) NOT NULL, 
	window_start DATETIME NOT NULL, 
	window_end DATETIME NOT NULL, 
	computed_at DATETIME, 
	data_watermark DATETIME, 
	is_partial BOOLEAN DEFAULT 0 NOT NULL, 
	claimed_by VARCHAR(128), 
	claimed_until DATETIME, 
	claimed_at DATETIME, 
	claimed_process VARCHAR(128), 
	CONSTRAINT pk_window_state PRIMARY KEY (id), 
	CONSTRAINT uq_window_state_model_model_version_window_start UNIQUE (model, model_version, window_start)
);

CREATE TABLE notifications (
	id INTEGER NOT NULL, 
	alert_id BIGINT, 
	channel VARCHAR(255) NOT NULL, 
	event VARCHAR(16) NOT NULL, 
	payload JSON NOT NULL, 
	idempotency_key VARCHAR(128) NOT NULL, 
	status VARCHAR(16) DEFAULT 'pending' NOT NULL, 
	attempts INTEGER DEFAULT '0' NOT NULL, 
	next_attempt_at DATETIME, 
	delivered_at DATETIME, 
	last_error TEXT, 
	silenced_by BIGINT, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_notifications PRIMARY KEY (id), 
	CONSTRAINT uq_notifications_idempotency_key UNIQUE (idempotency_key), 
	CONSTRAINT ck_notifications_status CHECK (status IN ('pending', 'delivered', 'failed', 'silenced')), 
	CONSTRAINT fk_notifications_alert_id_alerts FOREIGN KEY(alert_id) REFERENCES alerts (id) ON DELETE CASCADE
);

CREATE INDEX ix_notifications_status_next_attempt_at ON notifications (status, next_attempt_at);

CREATE TABLE reference_data (
	id INTEGER NOT NULL, 
	reference_set_id BIGINT NOT NULL, 
	row_index INTEGER NOT NULL, 
	features JSON NOT NULL, 
	prediction TEXT, 
	prediction_numeric FLOAT, 
	score FLOAT, 
	label TEXT, 
	label_numeric FLOAT, 
	prediction_id VARCHAR(128), 
	CONSTRAINT pk_reference_data PRIMARY KEY (id), 
	CONSTRAINT uq_reference_data_reference_set_id_row_index UNIQUE (reference_set_id, row_index), 
	CONSTRAINT fk_reference_data_reference_set_id_reference_sets FOREIGN KEY(reference_set_id) REFERENCES reference_sets (id) ON DELETE CASCADE
);

CREATE TABLE reference_models (
	id INTEGER NOT NULL, 
	reference_set_id BIGINT NOT NULL, 
	config_key VARCHAR(64) NOT NULL, 
	fingerprint VARCHAR(128) NOT NULL, 
	library_versions JSON NOT NULL, 
	chunk_size INTEGER NOT NULL, 
	thresholds JSON NOT NULL, 
	fitted BLOB NOT NULL, 
	fitted_at DATETIME NOT NULL, 
	CONSTRAINT pk_reference_models PRIMARY KEY (id), 
	CONSTRAINT uq_reference_models_reference_set_id_config_key UNIQUE (reference_set_id, config_key), 
	CONSTRAINT fk_reference_models_reference_set_id_reference_sets FOREIGN KEY(reference_set_id) REFERENCES reference_sets (id) ON DELETE CASCADE
);

CREATE VIEW latest_vitals AS
SELECT m.model, m.model_version, m.metric, m.feature, m.window_start, m.window_end,
       m.value, m.threshold, m.is_breach, m.is_partial, m.computed_at,
       CASE WHEN m.metric IN ('prediction_count', 'label_count', 'dead_letter_count')
            THEN CAST(m.value AS BIGINT) END AS count_value
FROM metric_values m
JOIN (
    SELECT model, model_version, metric, COALESCE(feature, '') AS feature_key,
           MAX(window_start) AS window_start
    FROM metric_values
    WHERE NOT is_partial AND segment IS NULL
    GROUP BY model, model_version, metric, COALESCE(feature, '')
) latest
  ON m.model = latest.model
 AND m.model_version = latest.model_version
 AND m.metric = latest.metric
 AND COALESCE(m.feature, '') = latest.feature_key
 AND m.window_start = latest.window_start
WHERE NOT m.is_partial AND m.segment IS NULL;

CREATE VIEW partial_vitals AS
SELECT m.model, m.model_version, m.metric, m.feature, m.window_start, m.window_end,
       m.value, m.threshold, m.is_breach, m.is_partial, m.computed_at,
       CASE WHEN m.metric IN ('prediction_count', 'label_count', 'dead_letter_count')
            THEN CAST(m.value AS BIGINT) END AS count_value
FROM metric_values m
JOIN (
    SELECT model, model_version, metric, COALESCE(feature, '') AS feature_key,
           MAX(window_start) AS window_start
    FROM metric_values
    WHERE is_partial AND segment IS NULL
    GROUP BY model, model_version, metric, COALESCE(feature, '')
) latest
  ON m.model = latest.model
 AND m.model_version = latest.model_version
 AND m.metric = latest.metric
 AND COALESCE(m.feature, '') = latest.feature_key
 AND m.window_start = latest.window_start
WHERE m.is_partial AND m.segment IS NULL;

CREATE VIEW feature_drift AS
SELECT s.model, s.model_version, s.window_start, s.window_end, s.feature,
       s.value AS score, s.threshold, s.is_breach AS drifted, s.is_partial,
       s.details ->> 'method' AS method, CAST(s.details ->> 'p_value' AS DOUBLE PRECISION) AS p_value,
       s.computed_at
FROM metric_values s
WHERE s.metric = 'feature_drift_score' AND s.segment IS NULL;

CREATE VIEW confusion_counts AS
SELECT m.model, m.model_version, m.window_start, m.window_end, m.is_partial,
       m.details ->> 'positive_label' AS positive_label,
       CAST(m.details ->> 'tp' AS BIGINT) AS true_positives,
       CAST(m.details ->> 'fp' AS BIGINT) AS false_positives,
       CAST(m.details ->> 'fn' AS BIGINT) AS false_negatives,
       CAST(m.details ->> 'tn' AS BIGINT) AS true_negatives,
       m.computed_at
FROM metric_values m
WHERE m.metric = 'precision' AND m.details ->> 'tp' IS NOT NULL AND m.segment IS NULL;

CREATE VIEW alert_history AS
SELECT a.id AS alert_id, a.rule, a.model, a.model_version, a.feature, a.segment, a.metric,
       a.severity, a.state, a.condition, a.started_at, a.fired_at, a.resolved_at,
       a.last_value, a.last_window_start, a.last_window_end,
       (SELECT COUNT(*) FROM notifications n WHERE n.alert_id = a.id) AS notifications_total,
       (SELECT COUNT(*) FROM notifications n
         WHERE n.alert_id = a.id AND n.status = 'delivered') AS notifications_delivered,
       (SELECT COUNT(*) FROM notifications n
         WHERE n.alert_id = a.id AND n.status = 'failed') AS notifications_failed
FROM alerts a;
