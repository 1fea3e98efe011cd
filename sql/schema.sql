-- driftwatch schema for postgresql, generated from monitor/store/tables.py.
-- Do not edit: run `python -m monitor.store.render_sql` after changing the tables.

CREATE TABLE alert_evaluations (
	id BIGSERIAL NOT NULL, 
	rule VARCHAR(255) NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	last_window_start TIMESTAMP WITH TIME ZONE, 
	last_window_end TIMESTAMP WITH TIME ZONE, 
	evaluated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	computed_through TIMESTAMP WITH TIME ZONE, 
	CONSTRAINT pk_alert_evaluations PRIMARY KEY (id), 
	CONSTRAINT uq_alert_evaluations_rule_model UNIQUE (rule, model)
);

CREATE TABLE alerts (
	id BIGSERIAL NOT NULL, 
	rule VARCHAR(255) NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	model_version VARCHAR(64), 
	feature VARCHAR(255), 
	metric VARCHAR(64) NOT NULL, 
	severity VARCHAR(16) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	condition VARCHAR(128) NOT NULL, 
	consecutive INTEGER DEFAULT '0' NOT NULL, 
	started_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	fired_at TIMESTAMP WITH TIME ZONE, 
	resolved_at TIMESTAMP WITH TIME ZONE, 
	last_value FLOAT, 
	last_window_start TIMESTAMP WITH TIME ZONE, 
	last_window_end TIMESTAMP WITH TIME ZONE, 
	last_notified_at TIMESTAMP WITH TIME ZONE, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	segment VARCHAR(255), 
	compare VARCHAR(80), 
	CONSTRAINT pk_alerts PRIMARY KEY (id), 
	CONSTRAINT ck_alerts_state CHECK (state IN ('pending', 'firing', 'resolved'))
);

CREATE INDEX ix_alerts_rule_model_feature_state ON alerts (rule, model, feature, state);

CREATE TABLE dead_letters (
	id BIGSERIAL NOT NULL, 
	topic VARCHAR(255) NOT NULL, 
	partition INTEGER NOT NULL, 
	"offset" BIGINT NOT NULL, 
	model VARCHAR(64), 
	raw BYTEA NOT NULL, 
	raw_size INTEGER NOT NULL, 
	reason TEXT NOT NULL, 
	received_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_dead_letters PRIMARY KEY (id), 
	CONSTRAINT uq_dead_letters_topic_partition_offset UNIQUE (topic, partition, "offset")
);

CREATE INDEX ix_dead_letters_received_at ON dead_letters (received_at);

CREATE TABLE job_runs (
	id BIGSERIAL NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	model_version VARCHAR(64), 
	window_start TIMESTAMP WITH TIME ZONE, 
	window_end TIMESTAMP WITH TIME ZONE, 
	trigger VARCHAR(32) NOT NULL, 
	started_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	finished_at TIMESTAMP WITH TIME ZONE, 
	status VARCHAR(16) NOT NULL, 
	metrics_written INTEGER, 
	error TEXT, 
	worker VARCHAR(128), 
	CONSTRAINT pk_job_runs PRIMARY KEY (id)
);

CREATE INDEX ix_job_runs_model_started_at ON job_runs (model, started_at);

CREATE TABLE labels (
	id BIGSERIAL NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	prediction_id VARCHAR(128) NOT NULL, 
	label TEXT NOT NULL, 
	label_numeric FLOAT, 
	event_time TIMESTAMP WITH TIME ZONE NOT NULL, 
	kafka_topic VARCHAR(255), 
	kafka_partition INTEGER, 
	kafka_offset BIGINT, 
	ingested_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_labels PRIMARY KEY (id), 
	CONSTRAINT uq_labels_model_prediction_id UNIQUE (model, prediction_id)
);

CREATE INDEX ix_labels_model_ingested_at ON labels (model, ingested_at);

CREATE TABLE metric_values (
	id BIGSERIAL NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	model_version VARCHAR(64) NOT NULL, 
	window_start TIMESTAMP WITH TIME ZONE NOT NULL, 
	window_end TIMESTAMP WITH TIME ZONE NOT NULL, 
	metric VARCHAR(64) NOT NULL, 
	feature VARCHAR(255), 
	value FLOAT, 
	threshold FLOAT, 
	is_breach BOOLEAN, 
	is_partial BOOLEAN DEFAULT false NOT NULL, 
	details JSONB, 
	computed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	segment VARCHAR(255), 
	compare VARCHAR(80), 
	CONSTRAINT pk_metric_values PRIMARY KEY (id)
);

CREATE INDEX ix_metric_values_model_metric_window_start ON metric_values (model, metric, window_start);

CREATE UNIQUE INDEX uq_metric_values_point ON metric_values (model, model_version, window_start, window_end, metric, coalesce(feature, ''), coalesce(segment, ''), coalesce(compare, ''));

CREATE TABLE prediction_batches (
	id BIGSERIAL NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	model_version VARCHAR(64) NOT NULL, 
	row_count INTEGER NOT NULL, 
	min_event_time TIMESTAMP WITH TIME ZONE NOT NULL, 
	max_event_time TIMESTAMP WITH TIME ZONE NOT NULL, 
	max_ingested_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	data BYTEA NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_prediction_batches PRIMARY KEY (id)
);

CREATE INDEX ix_prediction_batches_model_model_version_max_event_time ON prediction_batches (model, model_version, max_event_time);

CREATE TABLE predictions (
	id BIGSERIAL NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	model_version VARCHAR(64) NOT NULL, 
	prediction_id VARCHAR(128) NOT NULL, 
	event_time TIMESTAMP WITH TIME ZONE NOT NULL, 
	features JSON NOT NULL, 
	prediction TEXT NOT NULL, 
	prediction_numeric FLOAT, 
	score FLOAT, 
	probabilities JSONB, 
	latency_ms FLOAT, 
	status VARCHAR(8) DEFAULT 'ok' NOT NULL, 
	error TEXT, 
	extra JSONB, 
	kafka_topic VARCHAR(255), 
	kafka_partition INTEGER, 
	kafka_offset BIGINT, 
	ingested_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_predictions PRIMARY KEY (id), 
	CONSTRAINT uq_predictions_model_prediction_id UNIQUE (model, prediction_id), 
	CONSTRAINT ck_predictions_status CHECK (status IN ('ok', 'error'))
);

CREATE INDEX ix_predictions_model_event_time_model_version_prediction_id ON predictions (model, event_time, model_version, prediction_id);

CREATE INDEX ix_predictions_model_ingested_at ON predictions (model, ingested_at);

CREATE TABLE reference_sets (
	id BIGSERIAL NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	model_version VARCHAR(64) NOT NULL, 
	source TEXT NOT NULL, 
	row_count INTEGER NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	columns BYTEA, 
	CONSTRAINT pk_reference_sets PRIMARY KEY (id), 
	CONSTRAINT uq_reference_sets_model_model_version UNIQUE (model, model_version)
);

CREATE TABLE silences (
	id BIGSERIAL NOT NULL, 
	rule VARCHAR(255) NOT NULL, 
	model VARCHAR(64), 
	feature VARCHAR(255), 
	starts_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	ends_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	comment TEXT NOT NULL, 
	created_by VARCHAR(255), 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_silences PRIMARY KEY (id)
);

CREATE TABLE window_state (
	id BIGSERIAL NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	model_version VARCHAR(64) NOT NULL, 
	window_start TIMESTAMP WITH TIME ZONE NOT NULL, 
	window_end TIMESTAMP WITH TIME ZONE NOT NULL, 
	computed_at TIMESTAMP WITH TIME ZONE, 
	data_watermark TIMESTAMP WITH TIME ZONE, 
	is_partial BOOLEAN DEFAULT false NOT NULL, 
	claimed_by VARCHAR(128), 
	claimed_until TIMESTAMP WITH TIME ZONE, 
	claimed_at TIMESTAMP WITH TIME ZONE, 
	claimed_process VARCHAR(128), 
	CONSTRAINT pk_window_state PRIMARY KEY (id), 
	CONSTRAINT uq_window_state_model_model_version_window_start UNIQUE (model, model_version, window_start)
);

CREATE TABLE notifications (
	id BIGSERIAL NOT NULL, 
	alert_id BIGINT, 
	channel VARCHAR(255) NOT NULL, 
	event VARCHAR(16) NOT NULL, 
	payload JSONB NOT NULL, 
	idempotency_key VARCHAR(128) NOT NULL, 
	status VARCHAR(16) DEFAULT 'pending' NOT NULL, 
	attempts INTEGER DEFAULT '0' NOT NULL, 
	next_attempt_at TIMESTAMP WITH TIME ZONE, 
	delivered_at TIMESTAMP WITH TIME ZONE, 
	last_error TEXT, 
	silenced_by BIGINT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_notifications PRIMARY KEY (id), 
	CONSTRAINT uq_notifications_idempotency_key UNIQUE (idempotency_key), 
	CONSTRAINT ck_notifications_status CHECK (status IN ('pending', 'delivered', 'failed', 'silenced')), 
	CONSTRAINT fk_notifications_alert_id_alerts FOREIGN KEY(alert_id) REFERENCES alerts (id) ON DELETE CASCADE
);

CREATE INDEX ix_notifications_status_next_attempt_at ON notifications (status, next_attempt_at);

CREATE TABLE reference_data (
	id BIGSERIAL NOT NULL, 
	reference_set_id BIGINT NOT NULL, 
	row_index INTEGER NOT NULL, 
	features JSONB NOT NULL, 
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
	id BIGSERIAL NOT NULL, 
	reference_set_id BIGINT NOT NULL, 
	config_key VARCHAR(64) NOT NULL, 
	fingerprint VARCHAR(128) NOT NULL, 
	library_versions JSONB NOT NULL, 
	chunk_size INTEGER NOT NULL, 
	thresholds JSONB NOT NULL, 
	fitted BYTEA NOT NULL, 
	fitted_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_reference_models PRIMARY KEY (id), 
	CONSTRAINT uq_reference_models_reference_set_id_config_key UNIQUE (reference_set_id, config_key), 
	CONSTRAINT fk_reference_models_reference_set_id_reference_sets FOREIGN KEY(reference_set_id) REFERENCES reference_sets (id) ON DELETE CASCADE
);

ALTER TABLE prediction_batches ALTER COLUMN data SET STORAGE EXTERNAL;

ALTER TABLE reference_sets ALTER COLUMN columns SET STORAGE EXTERNAL;

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
