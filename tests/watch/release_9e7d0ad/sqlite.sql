-- The tables as release 9e7d0ad created them on sqlite: its create_all DDL (bot/watch/store.py
-- and bot/audit/store.py of that commit, compiled for the dialect). Used by test_migrations.py.

CREATE TABLE leases (
	name VARCHAR(64) NOT NULL,
	holder VARCHAR(128) NOT NULL,
	expires_at FLOAT NOT NULL,
	epoch INTEGER NOT NULL,
	PRIMARY KEY (name)
);

CREATE TABLE outbox (
	id INTEGER NOT NULL,
	workload_id VARCHAR(64) NOT NULL,
	channel VARCHAR(64) NOT NULL,
	thread_ts VARCHAR(32) NOT NULL,
	kind VARCHAR(16) NOT NULL,
	payload JSON NOT NULL,
	created_at DATETIME NOT NULL,
	state VARCHAR(16) NOT NULL,
	attempts INTEGER NOT NULL,
	next_attempt_at FLOAT NOT NULL,
	claimed_by VARCHAR(128),
	reply_ts VARCHAR(32),
	delivered_at DATETIME,
	last_error TEXT,
	PRIMARY KEY (id)
);

CREATE INDEX ix_outbox_state ON outbox (state);

CREATE TABLE watches (
	workload_id VARCHAR(64) NOT NULL,
	channel VARCHAR(64) NOT NULL,
	parent_ts VARCHAR(32) NOT NULL,
	name TEXT,
	project TEXT,
	image TEXT,
	replicas TEXT,
	url TEXT,
	last_phase VARCHAR(32),
	phase_message TEXT,
	phase_updated_at DATETIME,
	reason VARCHAR(16) NOT NULL,
	created_by VARCHAR(64),
	created_at DATETIME NOT NULL,
	workload_created_at DATETIME,
	ready_announced BOOLEAN NOT NULL,
	pending_action VARCHAR(16),
	pending_user VARCHAR(64),
	active BOOLEAN NOT NULL,
	version BIGINT NOT NULL,
	PRIMARY KEY (workload_id, channel)
);

CREATE INDEX ix_watches_active ON watches (active);

CREATE INDEX ix_watches_last_phase ON watches (last_phase);

CREATE INDEX ix_watches_version ON watches (version);

CREATE TABLE audit_events (
	id INTEGER NOT NULL,
	at DATETIME NOT NULL,
	user_id VARCHAR(64) NOT NULL,
	channel_id VARCHAR(64),
	action VARCHAR(16) NOT NULL,
	workload_id VARCHAR(64),
	workload_name VARCHAR(128),
	project VARCHAR(128),
	project_id VARCHAR(64),
	summary TEXT NOT NULL,
	outcome VARCHAR(16) NOT NULL,
	rule VARCHAR(255),
	PRIMARY KEY (id)
);

CREATE INDEX ix_audit_events_at ON audit_events (at);

CREATE INDEX ix_audit_events_workload_id ON audit_events (workload_id);

CREATE INDEX ix_audit_events_workload_name ON audit_events (workload_name);
